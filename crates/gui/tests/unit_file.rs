//! `etc/piranha-gui.service` and `etc/sysconfig/piranha-gui`: user piranha,
//! no capability, only lvs.cf's directory writable; systemd-analyze accepts
//! the unit and rates its exposure 2.0 or better (systemd's `systemd`
//! package; without it these checks are skipped, a failure under CI).

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser as _;

fn etc() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../etc")
}

fn settings(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

#[test]
fn unit_runs_piranha_gui_as_piranha_without_capabilities() {
    let unit = std::fs::read_to_string(etc().join("piranha-gui.service")).unwrap();
    let s = settings(&unit);
    for want in [
        "User=piranha",
        "Group=piranha",
        "CapabilityBoundingSet=",
        "AmbientCapabilities=",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=-/etc/sysconfig/ha",
        "EnvironmentFile=-/etc/sysconfig/piranha-gui",
        "ExecStart=/usr/sbin/piranha_gui --nodaemon $OPTIONS",
        "ConditionPathExists=/etc/sysconfig/ha/lvs.cf",
        "WantedBy=multi-user.target",
    ] {
        assert!(
            s.iter().any(|l| l == want),
            "piranha-gui.service lacks {want}"
        );
    }
    let sysconfig = std::fs::read_to_string(etc().join("sysconfig/piranha-gui")).unwrap();
    assert_eq!(settings(&sysconfig), ["OPTIONS="]);
}

#[test]
fn polkit_rule_lets_piranha_reload_pulse_and_start_the_save_and_sync_only() {
    let rule =
        std::fs::read_to_string(etc().join("polkit-1/rules.d/60-piranha-gui.rules")).unwrap();
    for want in [
        "action.id == \"org.freedesktop.systemd1.manage-units\"",
        "(action.lookup(\"unit\") == \"pulse.service\" &&\n          action.lookup(\"verb\") == \"reload\")",
        "(action.lookup(\"unit\") == \"piranha-gui-save.service\" &&\n          action.lookup(\"verb\") == \"start\")",
        "(action.lookup(\"unit\") == \"piranha-gui-sync.service\" &&\n          action.lookup(\"verb\") == \"start\")",
        "subject.user == \"piranha\"",
        "return polkit.Result.YES;",
    ] {
        assert!(rule.contains(want), "the rule lacks {want}");
    }
    assert_eq!(rule.matches("polkit.Result.YES").count(), 1);
    assert_eq!(
        piranha_gui::server::RELOAD,
        ["systemctl", "reload", "pulse.service"]
    );
    assert_eq!(
        piranha_gui::server::DEFAULT_SAVE_COMMAND,
        "systemctl start piranha-gui-save.service"
    );
    assert_eq!(
        piranha_gui::server::DEFAULT_SYNC_COMMAND,
        "systemctl start piranha-gui-sync.service"
    );
    // no other unit, verb or user
    assert_eq!(rule.matches("action.lookup(\"unit\")").count(), 3);
    assert_eq!(rule.matches("action.lookup(\"verb\")").count(), 3);
}

#[test]
fn the_save_unit_is_a_hardened_root_oneshot_running_lvscf_save() {
    let unit = std::fs::read_to_string(etc().join("piranha-gui-save.service")).unwrap();
    let s = settings(&unit);
    for want in [
        "Type=oneshot",
        "User=root",
        "ExecStart=/usr/sbin/lvscf save --keep-commands --from /var/lib/piranha-gui/pending.cf /etc/sysconfig/ha/lvs.cf",
        "ProtectSystem=strict",
        "ReadWritePaths=/etc/sysconfig/ha",
        "PrivateNetwork=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=CAP_CHOWN CAP_FOWNER CAP_DAC_OVERRIDE",
    ] {
        assert!(
            s.iter().any(|l| l == want),
            "piranha-gui-save.service lacks {want}"
        );
    }
    assert!(
        !s.iter().any(|l| l.starts_with("[Install]")),
        "started on demand only"
    );
    // @privileged holds @chown, which lvscf needs (the history directory
    // gets the file's owner): allowed again after the deny list
    let deny = s
        .iter()
        .position(|l| l == "SystemCallFilter=~@privileged @resources");
    let chown = s.iter().position(|l| l == "SystemCallFilter=@chown");
    assert!(
        matches!((deny, chown), (Some(d), Some(c)) if c > d),
        "SystemCallFilter=@chown after the deny list"
    );
    let gui = settings(&std::fs::read_to_string(etc().join("piranha-gui.service")).unwrap());
    for want in ["StateDirectory=piranha-gui", "StateDirectoryMode=0700"] {
        assert!(
            gui.iter().any(|l| l == want),
            "piranha-gui.service lacks {want}"
        );
    }
    if !lvs_tests::have(
        "the_save_unit_is_a_hardened_root_oneshot_running_lvscf_save",
        "systemd-analyze",
        "systemd",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("piranha-gui-save.service");
    std::fs::write(&path, unit.replace("/usr/sbin/lvscf", "/bin/true")).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["--man=no", "verify"])
        .arg(&path)
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("piranha-gui-save"))
        .collect();
    assert!(out.status.success() && ours.is_empty(), "{out:?}");
}

#[test]
fn the_sync_unit_is_a_hardened_root_oneshot_running_lvscf_sync() {
    let unit = std::fs::read_to_string(etc().join("piranha-gui-sync.service")).unwrap();
    let s = settings(&unit);
    for want in [
        "Type=oneshot",
        "User=root",
        "ExecStart=/usr/sbin/lvscf sync --result /var/lib/piranha-gui/sync.result /etc/sysconfig/ha/lvs.cf",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/piranha-gui",
        "ProtectHome=read-only",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=CAP_DAC_OVERRIDE CAP_NET_BIND_SERVICE",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    ] {
        assert!(
            s.iter().any(|l| l == want),
            "piranha-gui-sync.service lacks {want}"
        );
    }
    assert!(
        !s.iter().any(|l| l.starts_with("[Install]")),
        "started on demand only"
    );
    // what the unit writes is where the web tool reads it by default
    let o = piranha_gui::cli::Options::try_parse_from(["piranha_gui"]).unwrap();
    assert_eq!(
        o.syncer().result,
        Path::new("/var/lib/piranha-gui/sync.result")
    );
    if !lvs_tests::have(
        "the_sync_unit_is_a_hardened_root_oneshot_running_lvscf_sync",
        "systemd-analyze",
        "systemd",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("piranha-gui-sync.service");
    std::fs::write(&path, unit.replace("/usr/sbin/lvscf", "/bin/true")).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["--man=no", "verify"])
        .arg(&path)
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("piranha-gui-sync"))
        .collect();
    assert!(out.status.success() && ours.is_empty(), "{out:?}");
}

#[test]
fn systemd_analyze_accepts_the_unit() {
    let test = "systemd_analyze_accepts_the_unit";
    if !lvs_tests::have(test, "systemd-analyze", "systemd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("piranha-gui.service");
    let text = std::fs::read_to_string(etc().join("piranha-gui.service"))
        .unwrap()
        .replace("/usr/sbin/piranha_gui", env!("CARGO_BIN_EXE_piranha_gui"));
    std::fs::write(&unit, &text).unwrap();
    let analyze = |args: &[&str]| {
        Command::new("systemd-analyze")
            .args(args)
            .arg(&unit)
            .env("SYSTEMD_LOG_COLOR", "0")
            .env("SYSTEMD_PAGER", "")
            .output()
            .unwrap()
    };
    let out = analyze(&["--man=no", "verify"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{out:?}");
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("piranha-gui"))
        .collect();
    assert!(ours.is_empty(), "systemd-analyze verify:\n{stderr}");
    let out = analyze(&["--offline=true", "--threshold=20", "--no-pager", "security"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "exposure above 2.0:\n{stdout}");
    // it does notice a mistake
    std::fs::write(
        &unit,
        text.replace("ProtectSystem=strict", "ProtectSystem=bogus"),
    )
    .unwrap();
    let out = analyze(&["--man=no", "verify"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bogus"),
        "{out:?}"
    );
}
