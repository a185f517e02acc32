//! pulse's scale-out mode in namespaces (docs/scale-out.md), with the
//! recorder standing in for lvsd and saying `serving VIP` / `idle VIP`
//! (`$LP_SAY`): the VIP goes on `lvs0` while lvsd serves it and comes off
//! when lvsd says idle, when lvsd dies, on SIGTERM and with `pulse
//! --withdraw`; with FRR upstream and BIRD on the directors (the shipped
//! `etc/scale-out` files, as `tests/tests/netns_bgp.rs` runs them) the
//! upstream router's ECMP route follows pulse.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use lvs_tests::Need;
use lvs_tests::bgp::{self, Speaker, Upstream};
use lvs_tests::lab::{Host, Lab, Log};
use lvs_tests::netns::wait_for;
use lvs_tests::scaleout::create_lvs0;

const PULSE: &str = env!("CARGO_BIN_EXE_pulse");
const RECORDER: &str = env!("CARGO_BIN_EXE_pulse-test-lvsd");
const VIP: &str = "10.50.0.100";
const S: fn(u64) -> Duration = Duration::from_secs;

/// lvs.cf of a scale-out director with `members`.
fn cf(members: &[&str], hold: u32) -> String {
    format!(
        "service = lvs\nnetwork = direct\nscale_out = 1\nscale_out_members = {}\n\
         announce_hold = {hold}\n\
         virtual web {{\n    active = 1\n    address = {VIP} eth0:1\n    port = 80\n\
         \x20   scheduler = mh\n    scheduler_flags = mh-port\n\
         \x20   server rs1 {{\n        address = 10.40.0.11\n        active = 1\n    }}\n}}\n",
        members.join(" ")
    )
}

/// One director: its pulse (foreground), lvs.cf, the recorder's files.
struct Director<'a> {
    host: &'a Host,
    dir: PathBuf,
    pulse: Option<Child>,
}

impl<'a> Director<'a> {
    fn new(host: &'a Host, root: &Path, members: &[&str], hold: u32) -> Director<'a> {
        let dir = root.join(&host.name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("lvs.cf"), cf(members, hold)).unwrap();
        std::fs::write(dir.join("say"), "").unwrap();
        Director {
            host,
            dir,
            pulse: None,
        }
    }

    fn log(&self) -> Log {
        Log::new(self.dir.join("pulse.log"))
    }

    fn record(&self) -> Log {
        Log::new(self.dir.join("record"))
    }

    fn start(&mut self) {
        let mut cmd = self.host.command_logged(PULSE, &self.log());
        cmd.arg("-n")
            .arg("-c")
            .arg(self.dir.join("lvs.cf"))
            .arg(format!("--lvsd={RECORDER}"))
            .arg(format!(
                "--status-socket={}",
                self.dir.join("pulse.sock").display()
            ))
            .env("LP_RECORD", self.dir.join("record"))
            .env("LP_SAY", self.dir.join("say"));
        self.pulse = Some(cmd.spawn().expect("start pulse"));
    }

    /// The recorder (lvsd) says `line` to pulse.
    fn say(&self, line: &str) {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("say"))
            .unwrap();
        f.write_all(format!("{line}\n").as_bytes()).unwrap();
    }

    fn has_vip(&self) -> bool {
        self.host
            .ip(&["-o", "addr", "show", "dev", "lvs0"])
            .contains(&format!("inet {VIP}/32"))
    }

    /// The pid of the running recorder (its last `start` record).
    fn lvsd_pid(&self) -> i32 {
        let text = self.record().text();
        let line = text
            .lines()
            .rev()
            .find(|l| l.starts_with("start "))
            .expect("lvsd started");
        line.split(' ').nth(1).unwrap().parse().unwrap()
    }

    fn signal(&self, sig: i32) {
        let pid = self.pulse.as_ref().expect("pulse runs").id() as i32;
        // SAFETY: our own child.
        unsafe { libc::kill(pid, sig) };
    }

    /// Waits for pulse's exit; its status.
    fn wait(&mut self, timeout: Duration) -> Option<i32> {
        let mut c = self.pulse.take()?;
        let end = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                return st.code();
            }
            if Instant::now() > end {
                let _ = c.kill();
                let _ = c.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.pulse.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `pulse --withdraw` with `cf_path`: (status, output).
    fn withdraw(&self, cf_path: &Path) -> (i32, String) {
        let out = self
            .host
            .command(PULSE)
            .arg("--withdraw")
            .arg("-c")
            .arg(cf_path)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    fn dump(&self) -> String {
        format!(
            "--- {} pulse.log\n{}--- record\n{}--- lvs0\n{}",
            self.host.name,
            self.log().text(),
            self.record().text(),
            self.host.ip(&["addr", "show", "dev", "lvs0"])
        )
    }
}

impl Drop for Director<'_> {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A lab named `tag`: the client `gw` (10.30.0.254) and one director `d1`
/// (10.30.0.1).
fn one_router(tag: &str) -> Lab {
    Lab::builder(tag)
        .client("gw", "10.30.0.254")
        .router("d1", "10.30.0.1")
        .build()
}

fn tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    dir
}

#[test]
fn the_vip_follows_what_lvsd_serves() {
    let test = "the_vip_follows_what_lvsd_serves";
    if !lvs_tests::require(Need::Netns, test) {
        return;
    }
    let lab = one_router("lso");
    let h = &lab.routers[0];
    create_lvs0(h);
    let root = tempdir();
    let mut d = Director::new(h, root.path(), &["10.30.0.1", "10.30.0.2"], 1);
    d.start();
    assert!(
        wait_for(S(5), || d
            .record()
            .has(&format!("role {} active", d.lvsd_pid_or_0()))),
        "lvsd not started as the active lvsd\n{}",
        d.dump()
    );
    assert!(
        d.log().has("pulse: STARTING PULSE IN SCALE-OUT MODE"),
        "{}",
        d.dump()
    );
    assert!(!d.has_vip(), "{}", d.dump());

    // serving: announced at once
    let t = Instant::now();
    d.say(&format!("serving {VIP}"));
    assert!(
        wait_for(S(3), || d.has_vip()),
        "not announced\n{}",
        d.dump()
    );
    eprintln!("announced after {:.3} s", t.elapsed().as_secs_f64());
    assert!(
        d.log().has(&format!("pulse: scale-out: announcing {VIP}")),
        "{}",
        d.dump()
    );
    // pulse --status shows the mode, the members and the VIP
    let st = d
        .host
        .command(PULSE)
        .arg("--status")
        .arg(format!(
            "--status-socket={}",
            d.dir.join("pulse.sock").display()
        ))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&st.stdout);
    assert!(text.contains("scale-out mode"), "{text}");
    assert!(text.contains("members     10.30.0.1 10.30.0.2"), "{text}");
    assert!(text.contains(&format!("announced   {VIP}")), "{text}");
    // the JSON document carries the file's hash, which the exporter
    // publishes for the config-mismatch alert between directors
    let js = d
        .host
        .command(PULSE)
        .arg("--json")
        .arg(format!(
            "--status-socket={}",
            d.dir.join("pulse.sock").display()
        ))
        .output()
        .unwrap();
    let doc: piranha_status::pulse::Status =
        serde_json::from_slice(&js.stdout).expect("pulse --json");
    assert_eq!(doc.role, "scale-out");
    assert_eq!(
        doc.config.sha256.as_deref(),
        Some(doc.config.loaded_sha256.as_str())
    );
    assert_eq!(doc.config.sha256.as_deref().map(str::len), Some(64));

    // idle: withdrawn at once
    d.say(&format!("idle {VIP}"));
    assert!(
        wait_for(S(3), || !d.has_vip()),
        "not withdrawn\n{}",
        d.dump()
    );
    assert!(
        d.log().has(&format!(
            "pulse: scale-out: withdrawing {VIP} (no real server)"
        )),
        "{}",
        d.dump()
    );
    // serving again at once: held for announce_hold (1 s)
    let t = Instant::now();
    d.say(&format!("serving {VIP}"));
    assert!(
        wait_for(S(4), || d.has_vip()),
        "not announced again\n{}",
        d.dump()
    );
    let held = t.elapsed();
    assert!(
        held >= Duration::from_millis(700),
        "announced after {held:?}, within the hold"
    );

    // lvsd dies: withdrawn at once, lvsd restarted
    let old = d.lvsd_pid();
    // SAFETY: the recorder exits 7 on SIGUSR1 ("lvsd dying on its own").
    unsafe { libc::kill(old, libc::SIGUSR1) };
    assert!(
        wait_for(S(3), || !d.has_vip()),
        "not withdrawn on lvsd's death\n{}",
        d.dump()
    );
    assert!(
        wait_for(S(5), || d.starts() == 2),
        "lvsd not restarted\n{}",
        d.dump()
    );
    assert!(
        d.log()
            .has(&format!("pulse: scale-out: withdrawing {VIP} (lvsd died)")),
        "{}",
        d.dump()
    );
    // the new lvsd serves: announced after the hold
    assert!(
        wait_for(S(3), || d
            .record()
            .has(&format!("role {} active", d.lvsd_pid()))),
        "{}",
        d.dump()
    );
    d.say(&format!("serving {VIP}"));
    assert!(wait_for(S(4), || d.has_vip()), "{}", d.dump());

    // SIGTERM: withdrawn, lvsd stopped, exit 0
    let lvsd = d.lvsd_pid();
    d.signal(libc::SIGTERM);
    assert_eq!(d.wait(S(10)), Some(0), "{}", d.dump());
    assert!(!d.has_vip(), "{}", d.dump());
    assert!(d.record().has(&format!("stop {lvsd}")), "{}", d.dump());

    // kill -9 leaves the VIP; pulse --withdraw (ExecStopPost) removes it
    d.start();
    assert!(wait_for(S(5), || d.starts() == 3), "{}", d.dump());
    std::thread::sleep(Duration::from_millis(300));
    d.say(&format!("serving {VIP}"));
    assert!(wait_for(S(3), || d.has_vip()), "{}", d.dump());
    d.kill9();
    assert!(d.has_vip());
    let (code, out) = d.withdraw(&d.dir.join("lvs.cf"));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("pulse: scale-out: withdrew {VIP} from lvs0")),
        "{out}"
    );
    assert!(!d.has_vip(), "{}", d.dump());
    // the orphaned recorder
    let _ = Command::new("kill").arg(d.lvsd_pid().to_string()).status();

    // --withdraw without scale_out = 1: nothing happens
    h.ip(&["addr", "add", &format!("{VIP}/32"), "dev", "lvs0"]);
    let pair = d.dir.join("pair.cf");
    std::fs::write(
        &pair,
        format!("primary = 10.30.0.1\nservice = lvs\nvirtual web {{\n    active = 1\n    address = {VIP} eth0:1\n}}\n"),
    )
    .unwrap();
    let (code, out) = d.withdraw(&pair);
    assert_eq!((code, out.as_str()), (0, ""));
    assert!(d.has_vip());
}

impl Director<'_> {
    /// How many times lvsd was started.
    fn starts(&self) -> usize {
        self.record()
            .text()
            .lines()
            .filter(|l| l.starts_with("start "))
            .count()
    }

    /// [`Director::lvsd_pid`], 0 before lvsd started.
    fn lvsd_pid_or_0(&self) -> i32 {
        if self.starts() > 0 {
            self.lvsd_pid()
        } else {
            0
        }
    }
}

#[test]
fn a_director_not_among_the_members_does_not_start() {
    let test = "a_director_not_among_the_members_does_not_start";
    if !lvs_tests::require(Need::Netns, test) {
        return;
    }
    let lab = one_router("lsm");
    let h = &lab.routers[0];
    let root = tempdir();
    let mut d = Director::new(h, root.path(), &["10.30.0.7", "10.30.0.8"], 1);
    d.start();
    assert_eq!(d.wait(S(5)), Some(1), "{}", d.dump());
    assert!(
        d.log().has(
            "pulse: lvs.cf: scale_out_members: expected an address of this host among them, \
             found 10.30.0.7 10.30.0.8 (none is configured here)"
        ) || d
            .log()
            .text()
            .contains("expected an address of this host among them"),
        "{}",
        d.dump()
    );
    assert!(d.starts() == 0, "{}", d.dump());
}

#[test]
fn pulse_creates_a_missing_announce_device_or_says_why_not() {
    let test = "pulse_creates_a_missing_announce_device_or_says_why_not";
    if !lvs_tests::require(Need::Netns, test) {
        return;
    }
    let lab = one_router("lsc");
    let h = &lab.routers[0];
    let dummy = h
        .ip_output(&["link", "add", "probe0", "type", "dummy"])
        .status
        .success();
    let root = tempdir();
    let mut d = Director::new(h, root.path(), &["10.30.0.1"], 1);
    d.start();
    if dummy {
        assert!(
            wait_for(S(5), || d
                .log()
                .has("pulse: scale-out: created lvs0 (dummy)")),
            "{}",
            d.dump()
        );
        d.say(&format!("serving {VIP}"));
        assert!(
            wait_for(S(5), || d.starts() > 0) && {
                std::thread::sleep(Duration::from_millis(300));
                d.say(&format!("serving {VIP}"));
                wait_for(S(3), || d.has_vip())
            },
            "{}",
            d.dump()
        );
        d.signal(libc::SIGTERM);
        assert_eq!(d.wait(S(10)), Some(0), "{}", d.dump());
    } else {
        assert_eq!(d.wait(S(5)), Some(1), "{}", d.dump());
        assert!(
            d.log()
                .text()
                .contains("cannot create announce_device lvs0 (a dummy interface)"),
            "{}",
            d.dump()
        );
        eprintln!("no dummy module here: pulse refused with a clear message");
    }
}

/// End to end with the routing daemons: FRR upstream, BIRD on two
/// directors, pulse on each; the upstream route follows pulse.
#[test]
fn the_upstream_route_follows_pulse() {
    let test = "the_upstream_route_follows_pulse";
    if !lvs_tests::require(Need::Netns, test) {
        return;
    }
    if !bgp::available() {
        lvs_tests::skip(
            test,
            "needs FRR and BIRD 2 (.ci/install-deps installs them)",
        );
        return;
    }
    const UPSTREAM: &str = "10.30.0.254";
    const DIRECTORS: [&str; 2] = ["10.30.0.1", "10.30.0.2"];
    let lab = Lab::builder("lsb")
        .client("gw", UPSTREAM)
        .router("d1", DIRECTORS[0])
        .router("d2", DIRECTORS[1])
        .build();
    let root = tempdir();
    let up = Upstream::start(&lab.client, root.path(), UPSTREAM, "10.30.0.0/24");
    let mut speakers: Vec<Speaker> = Vec::new();
    let mut ds: Vec<Director> = Vec::new();
    for (r, a) in lab.routers.iter().zip(DIRECTORS) {
        create_lvs0(r);
        speakers.push(Speaker::start(r, root.path(), a, UPSTREAM));
        let mut d = Director::new(r, root.path(), &DIRECTORS, 1);
        d.start();
        ds.push(d);
    }
    let diag = |ds: &[Director]| {
        let logs: Vec<String> = speakers.iter().map(|s| s.log()).collect();
        let dirs: Vec<String> = ds.iter().map(|d| d.dump()).collect();
        format!(
            "routes:\n{}\n{}\n{}\n{}",
            lab.client.ip(&["route", "show"]),
            up.logs(),
            logs.join("\n"),
            dirs.join("\n")
        )
    };
    for d in &ds {
        assert!(wait_for(S(5), || d.starts() > 0), "{}", diag(&ds));
    }
    std::thread::sleep(Duration::from_millis(300));
    for d in &ds {
        d.say(&format!("serving {VIP}"));
    }
    assert!(
        bgp::wait_next_hops(&lab.client, VIP, &DIRECTORS, S(30)),
        "no ECMP route over both directors\n{}",
        diag(&ds)
    );
    // d1's lvsd has no real server left: d1's route goes
    let t = Instant::now();
    ds[0].say(&format!("idle {VIP}"));
    assert!(
        bgp::wait_next_hops(&lab.client, VIP, &DIRECTORS[1..], S(5)),
        "d1 not withdrawn\n{}",
        diag(&ds)
    );
    eprintln!(
        "idle: withdrawn upstream after {:.3} s",
        t.elapsed().as_secs_f64()
    );
    // d1 serves again: back after the hold
    ds[0].say(&format!("serving {VIP}"));
    assert!(
        bgp::wait_next_hops(&lab.client, VIP, &DIRECTORS, S(10)),
        "d1 not announced again\n{}",
        diag(&ds)
    );
    // d2's pulse is stopped: its route goes
    let t = Instant::now();
    ds[1].signal(libc::SIGTERM);
    assert_eq!(ds[1].wait(S(10)), Some(0), "{}", diag(&ds));
    assert!(
        bgp::wait_next_hops(&lab.client, VIP, &DIRECTORS[..1], S(5)),
        "d2 not withdrawn on SIGTERM\n{}",
        diag(&ds)
    );
    eprintln!(
        "SIGTERM: withdrawn upstream after {:.3} s",
        t.elapsed().as_secs_f64()
    );
    // d1's pulse is killed with -9, then systemd's ExecStopPost runs
    // pulse --withdraw: no route left
    let lvsd = ds[0].lvsd_pid();
    ds[0].kill9();
    let t = Instant::now();
    let (code, out) = ds[0].withdraw(&ds[0].dir.join("lvs.cf"));
    assert_eq!(code, 0, "{out}");
    assert!(
        bgp::wait_next_hops(&lab.client, VIP, &[], S(5)),
        "d1 not withdrawn by pulse --withdraw\n{}",
        diag(&ds)
    );
    eprintln!(
        "kill -9 + --withdraw: withdrawn upstream after {:.3} s",
        t.elapsed().as_secs_f64()
    );
    // SAFETY: the orphaned recorder.
    unsafe { libc::kill(lvsd, libc::SIGTERM) };
    drop(ds);
    drop(speakers);
    drop(up);
}

/// SIGHUP: pulse re-reads the VIPs (a VIP gone from lvs.cf is withdrawn,
/// a new one is announced once lvsd serves it) and passes the signal on.
#[test]
fn a_reload_takes_the_vips_of_the_new_file() {
    let test = "a_reload_takes_the_vips_of_the_new_file";
    if !lvs_tests::require(Need::Netns, test) {
        return;
    }
    let lab = one_router("lsr");
    let h = &lab.routers[0];
    create_lvs0(h);
    let root = tempdir();
    let mut d = Director::new(h, root.path(), &["10.30.0.1"], 1);
    d.start();
    assert!(wait_for(S(5), || d.starts() == 1), "{}", d.dump());
    std::thread::sleep(Duration::from_millis(300));
    d.say(&format!("serving {VIP}"));
    assert!(wait_for(S(3), || d.has_vip()), "{}", d.dump());
    const NEW: &str = "10.50.0.101";
    let cf_path = d.dir.join("lvs.cf");
    let text = std::fs::read_to_string(&cf_path).unwrap();
    std::fs::write(&cf_path, text.replace(VIP, NEW)).unwrap();
    d.signal(libc::SIGHUP);
    assert!(wait_for(S(3), || !d.has_vip()), "{}", d.dump());
    assert!(
        d.log().has(&format!(
            "pulse: scale-out: withdrawing {VIP} (no longer in lvs.cf)"
        )),
        "{}",
        d.dump()
    );
    assert!(
        wait_for(S(3), || d.record().has(&format!("hup {}", d.lvsd_pid()))),
        "SIGHUP not passed on to lvsd\n{}",
        d.dump()
    );
    d.say(&format!("serving {NEW}"));
    let new_up = || {
        h.ip(&["-o", "addr", "show", "dev", "lvs0"])
            .contains(&format!("inet {NEW}/32"))
    };
    assert!(wait_for(S(3), new_up), "{}", d.dump());
    d.signal(libc::SIGTERM);
    assert_eq!(d.wait(S(10)), Some(0), "{}", d.dump());
    assert!(!new_up(), "{}", d.dump());
}
