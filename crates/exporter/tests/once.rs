//! `piranha-exporter --once` against a fixture procfs and fake status
//! sockets: series values, daemons that are missing, silent or answer
//! garbage, no IPVS, duplicates, and `promtool check metrics`.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::*;

const FWM_AND_V6: &str = "\
FWM  00000007 wlc persistent 300 FFFFFFFF
  -> 0A010001:0000      Route   0      0          0         
  -> 0A010002:0000      Tunnel  100    12         1         
TCP  [2001:0db8:0000:0000:0000:0000:0000:0001]:01BB sh 
  -> [2001:0db8:0000:0000:0000:0000:0001:0002]:01BB      Masq    1      4          2         
UDP  0A000001:0035 rr ops 
  -> 0A010003:0035      Route   1      0          5         
";

struct Fixture {
    _dir: tempfile::TempDir,
    proc: String,
    pulse: String,
    lvsd: String,
}

impl Fixture {
    fn args(&self) -> Vec<&str> {
        vec![
            "--procfs",
            &self.proc,
            "--pulse-socket",
            &self.pulse,
            "--lvsd-socket",
            &self.lvsd,
        ]
    }
}

/// A 3 x 3 table plus FWM, IPv6 and UDP services; the daemons as `setup`
/// makes them (given the socket paths).
fn fixture(ip_vs: Option<String>, setup: impl FnOnce(&str, &str)) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let proc = procfs(dir.path(), ip_vs.as_deref());
    let pulse = dir.path().join("pulse.sock");
    let lvsd = dir.path().join("lvsd.sock");
    let (pulse, lvsd) = (
        pulse.to_str().unwrap().to_string(),
        lvsd.to_str().unwrap().to_string(),
    );
    setup(&pulse, &lvsd);
    Fixture {
        proc: proc.to_str().unwrap().to_string(),
        _dir: dir,
        pulse,
        lvsd,
    }
}

const T: Table = Table {
    virtuals: 3,
    reals: 3,
};

fn healthy() -> Fixture {
    fixture(Some(T.ip_vs() + FWM_AND_V6), |p, l| {
        fake_pulse(p.as_ref(), &serde_json::to_string(&pulse_json()).unwrap());
        fake_lvsd(
            l.as_ref(),
            &serde_json::to_string(&T.lvsd_json()).unwrap(),
            &serde_json::to_string(&T.lvsd_stats()).unwrap(),
        );
    })
}

fn check(text: &str, series: &str, want: f64) {
    assert_eq!(value(text, series), Some(want), "{series} in:\n{text}");
}

#[test]
fn series_from_every_source() {
    let f = healthy();
    let (out, err, st) = once(&f.args());
    assert!(st.success(), "{err}");
    assert_eq!(err, "");
    check(&out, "piranha_ipvs_up", 1.0);
    check(&out, "piranha_ipvs_connections_total", 42.0);
    check(&out, "piranha_ipvs_incoming_packets_total", 300.0);
    check(&out, "piranha_ipvs_outgoing_packets_total", 0.0);
    check(&out, "piranha_ipvs_incoming_bytes_total", 4294968032.0);
    let be = |la: &str, lp: u16, ra: &str, rp: u16, proto: &str, mark: &str| {
        format!(
            "{{local_address=\"{la}\",local_port=\"{lp}\",remote_address=\"{ra}\",\
             remote_port=\"{rp}\",proto=\"{proto}\",local_mark=\"{mark}\"}}"
        )
    };
    let b21 = be("10.0.0.2", 80, "10.129.0.2", 80, "TCP", "");
    check(
        &out,
        &format!("piranha_ipvs_backend_connections_active{b21}"),
        2.0,
    );
    check(
        &out,
        &format!("piranha_ipvs_backend_connections_inactive{b21}"),
        1.0,
    );
    check(&out, &format!("piranha_ipvs_backend_weight{b21}"), 2.0);
    let fwm = be("", 0, "10.1.0.2", 0, "FWM", "00000007");
    check(
        &out,
        &format!("piranha_ipvs_backend_connections_active{fwm}"),
        12.0,
    );
    check(&out, &format!("piranha_ipvs_backend_weight{fwm}"), 100.0);
    let v6 = be("2001:db8::1", 443, "2001:db8::1:2", 443, "TCP", "");
    check(
        &out,
        &format!("piranha_ipvs_backend_connections_active{v6}"),
        4.0,
    );
    let udp = be("10.0.0.1", 53, "10.1.0.3", 53, "UDP", "");
    check(
        &out,
        &format!("piranha_ipvs_backend_connections_inactive{udp}"),
        5.0,
    );

    // pulse
    check(&out, "piranha_pulse_role{state=\"active\"}", 1.0);
    check(&out, "piranha_pulse_role{state=\"standby\"}", 0.0);
    check(&out, "piranha_pulse_role{state=\"starting\"}", 0.0);
    check(
        &out,
        "piranha_pulse_role_changed_timestamp_seconds",
        1764086400.5,
    );
    check(&out, "piranha_pulse_partner_alive", 1.0);
    check(&out, "piranha_pulse_last_heartbeat_age_seconds", 1.25);
    check(&out, "piranha_pulse_heartbeats_sent_total", 10.0);
    check(&out, "piranha_pulse_heartbeats_received_total", 9.0);
    check(
        &out,
        "piranha_pulse_heartbeats_rejected_total{reason=\"short\"}",
        2.0,
    );
    // --heartbeat-key: every authentication reason, unsigned heartbeats
    // accepted in permissive mode and the mode itself.
    for (reason, n) in [
        ("unexpected_source", 1.0),
        ("incompatible", 3.0),
        ("unsigned", 4.0),
        ("malformed", 5.0),
        ("bad_mac", 6.0),
        ("wrong_identity", 7.0),
        ("replayed", 8.0),
    ] {
        check(
            &out,
            &format!("piranha_pulse_heartbeats_rejected_total{{reason=\"{reason}\"}}"),
            n,
        );
    }
    check(&out, "piranha_pulse_heartbeats_unsigned_total", 2.0);
    check(
        &out,
        "piranha_pulse_heartbeat_auth{mode=\"permissive\"}",
        1.0,
    );
    check(&out, "piranha_pulse_heartbeat_auth{mode=\"required\"}", 0.0);
    check(&out, "piranha_pulse_heartbeat_auth{mode=\"off\"}", 0.0);
    check(&out, "piranha_pulse_failovers_total", 1.0);
    check(
        &out,
        "piranha_pulse_link_up{link=\"primary\",address=\"10.0.0.1\",device=\"eth0\"}",
        1.0,
    );
    check(
        &out,
        "piranha_pulse_vip_held{address=\"10.0.0.100\",device=\"eth0:1\"}",
        1.0,
    );
    check(
        &out,
        "piranha_pulse_vip_held{address=\"10.0.0.101\",device=\"eth0:2\"}",
        0.0,
    );
    check(&out, "piranha_pulse_config_serial_no", 8.0);
    check(
        &out,
        &format!(
            "piranha_pulse_config_info{{file=\"/etc/sysconfig/ha/lvs.cf\",sha256=\"{}\",serial_no=\"8\"}}",
            "cd".repeat(32)
        ),
        1.0,
    );
    check(&out, "piranha_pulse_config_stale", 1.0);

    // lvsd
    let rs = |v: usize, r: usize| {
        format!(
            "{{virtual=\"vs{v}\",server=\"rs{v}_{r}\",remote_address=\"10.{}.0.{v}\",remote_port=\"80\"}}",
            128 + r
        )
    };
    check(&out, &format!("piranha_real_server_up{}", rs(2, 0)), 1.0);
    check(&out, &format!("piranha_real_server_up{}", rs(2, 1)), 0.0);
    check(
        &out,
        &format!("piranha_real_server_weight{}", rs(2, 1)),
        0.0,
    );
    check(
        &out,
        &format!("piranha_real_server_weight{}", rs(2, 2)),
        3.0,
    );
    check(
        &out,
        &format!("piranha_real_server_check_result{}", rs(1, 1)),
        0.0,
    );
    check(
        &out,
        &format!("piranha_real_server_check_result{}", rs(1, 2)),
        1.0,
    );
    check(
        &out,
        &format!("piranha_real_server_check_failures_total{}", rs(0, 2)),
        6.0,
    );
    check(
        &out,
        "piranha_lvsd_reload_duration_seconds_bucket{le=\"0.01\"}",
        1.0,
    );
    check(
        &out,
        "piranha_lvsd_reload_duration_seconds_bucket{le=\"0.1\"}",
        3.0,
    );
    check(
        &out,
        "piranha_lvsd_reload_duration_seconds_bucket{le=\"+Inf\"}",
        3.0,
    );
    check(&out, "piranha_lvsd_reload_duration_seconds_sum", 0.05);
    check(&out, "piranha_lvsd_reload_duration_seconds_count", 3.0);
    check(&out, "piranha_lvsd_reloads_refused_total", 1.0);
    check(
        &out,
        &format!(
            "piranha_lvsd_config_info{{file=\"/etc/sysconfig/ha/lvs.cf\",sha256=\"{}\",serial_no=\"7\"}}",
            "ab".repeat(32)
        ),
        1.0,
    );

    // lvsd stats
    let svc1 = "{local_address=\"10.0.0.1\",local_port=\"80\",proto=\"TCP\",local_mark=\"\"}";
    check(
        &out,
        &format!("piranha_ipvs_service_connections_total{svc1}"),
        1_000_001.0,
    );
    check(
        &out,
        &format!("piranha_ipvs_service_outgoing_bytes_total{svc1}"),
        5_000_005_000.0,
    );
    check(
        &out,
        &format!("piranha_ipvs_backend_connections_total{b21}"),
        201.0,
    );
    check(
        &out,
        &format!("piranha_ipvs_backend_incoming_packets_total{b21}"),
        2010.0,
    );
    check(
        &out,
        &format!("piranha_ipvs_backend_outgoing_packets_total{b21}"),
        1809.0,
    );
    check(
        &out,
        &format!("piranha_ipvs_backend_incoming_bytes_total{b21}"),
        201000.0,
    );
    check(
        &out,
        "piranha_virtual_server_info{virtual=\"vs1\",proto=\"TCP\",local_address=\"10.0.0.1\",local_port=\"80\",local_mark=\"\"}",
        1.0,
    );

    // the exporter
    check(&out, "piranha_up{component=\"pulse\"}", 1.0);
    check(&out, "piranha_up{component=\"lvsd\"}", 1.0);
    check(&out, "piranha_exporter_build_info{version=\"0.1.0\"}", 1.0);

    // types as the contract says
    for (name, ty) in [
        ("piranha_ipvs_connections_total", "counter"),
        ("piranha_ipvs_backend_weight", "gauge"),
        ("piranha_ipvs_backend_connections_total", "counter"),
        ("piranha_pulse_failovers_total", "counter"),
        ("piranha_real_server_check_failures_total", "counter"),
        ("piranha_lvsd_reload_duration_seconds", "histogram"),
        ("piranha_virtual_server_info", "gauge"),
    ] {
        assert!(
            out.contains(&format!("# TYPE {name} {ty}\n")),
            "{name} {ty}"
        );
    }
    assert_eq!(duplicates(&out), Vec::<String>::new());
    if let Some(e) = promtool(&out, "series_from_every_source") {
        panic!("promtool check metrics: {e}\n{out}");
    }
}

#[test]
fn missing_silent_and_garbage_daemons_give_up_0_and_the_rest() {
    // pulse: no socket at all; lvsd: never answers
    let f = fixture(Some(T.ip_vs()), |_p, l| {
        fake_daemon(
            l.as_ref(),
            HashMap::from([
                ("json", Answer::Silent(Duration::from_secs(5))),
                ("stats", Answer::Silent(Duration::from_secs(5))),
            ]),
        );
    });
    let begin = Instant::now();
    let (out, err, st) = once(&f.args());
    let took = begin.elapsed();
    assert!(st.success());
    assert!(took < Duration::from_secs(1), "took {took:?}");
    check(&out, "piranha_up{component=\"pulse\"}", 0.0);
    check(&out, "piranha_up{component=\"lvsd\"}", 0.0);
    check(&out, "piranha_ipvs_up", 1.0);
    assert!(!out.contains("piranha_pulse_"), "{out}");
    assert!(!out.contains("piranha_real_server"), "{out}");
    assert!(err.contains("pulse"), "{err}");
    assert!(err.contains("no complete answer within"), "{err}");
    assert!(promtool(&out, "missing_silent_and_garbage_daemons").is_none());

    // garbage from pulse; lvsd's json fine but its stats garbage
    let f = fixture(Some(T.ip_vs()), |p, l| {
        fake_pulse(p.as_ref(), "HTTP/1.0 200 OK\r\n\r\n<html>");
        fake_lvsd(
            l.as_ref(),
            &serde_json::to_string(&T.lvsd_json()).unwrap(),
            "[1, 2]",
        );
    });
    let (out, err, st) = once(&f.args());
    assert!(st.success());
    check(&out, "piranha_up{component=\"pulse\"}", 0.0);
    check(&out, "piranha_up{component=\"lvsd\"}", 0.0);
    assert!(err.contains("not a status document"), "{err}");

    // lvsd answers json, then nothing for stats: the time limit covers both
    let f = fixture(Some(T.ip_vs()), |p, l| {
        fake_pulse(p.as_ref(), "{\"version\": 99}");
        fake_daemon(
            l.as_ref(),
            HashMap::from([
                (
                    "json",
                    Answer::text(&serde_json::to_string(&T.lvsd_json()).unwrap()),
                ),
                ("stats", Answer::Silent(Duration::from_secs(5))),
            ]),
        );
    });
    let begin = Instant::now();
    let (out, err, _) = once(&f.args());
    assert!(begin.elapsed() < Duration::from_secs(1));
    check(&out, "piranha_up{component=\"pulse\"}", 0.0);
    check(&out, "piranha_up{component=\"lvsd\"}", 0.0);
    assert!(err.contains("document version 99"), "{err}");
}

#[test]
fn without_ipvs_ipvs_up_is_0() {
    let f = fixture(None, |_, _| {});
    let (out, _, st) = once(&f.args());
    assert!(st.success());
    check(&out, "piranha_ipvs_up", 0.0);
    assert!(!out.contains("piranha_ipvs_connections_total"), "{out}");
    assert!(!out.contains("piranha_ipvs_backend"), "{out}");
    assert!(promtool(&out, "without_ipvs_ipvs_up_is_0").is_none());
}

#[test]
fn duplicates_are_never_emitted() {
    // lvs.cf with a virtual block twice, a server twice, a VIP twice; the
    // kernel file read while the table changed (a line twice).
    let mut json = T.lvsd_json();
    json.virtuals.push(json.virtuals[0].clone());
    let extra = json.virtuals[1].reals[0].clone();
    json.virtuals[1].reals.push(extra);
    let mut stats = T.lvsd_stats();
    stats.services.push(stats.services[2].clone());
    let extra = stats.services[0].dests[1].clone();
    stats.services[0].dests.push(extra);
    let mut p = pulse_json();
    p.links.push(p.links[0].clone());
    let ip_vs = T.ip_vs()
        + &T.ip_vs()
            .lines()
            .skip(3)
            .take(3)
            .collect::<Vec<_>>()
            .join("\n")
        + "\n";
    let f = fixture(Some(ip_vs), |pp, l| {
        fake_pulse(pp.as_ref(), &serde_json::to_string(&p).unwrap());
        fake_lvsd(
            l.as_ref(),
            &serde_json::to_string(&json).unwrap(),
            &serde_json::to_string(&stats).unwrap(),
        );
    });
    let (out, err, st) = once(&f.args());
    assert!(st.success(), "{err}");
    check(&out, "piranha_up{component=\"lvsd\"}", 1.0);
    assert_eq!(duplicates(&out), Vec::<String>::new());
    // every series of the 3 x 3 table is there once
    let n = |prefix: &str| out.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(n("piranha_real_server_weight{"), 9);
    assert_eq!(n("piranha_ipvs_backend_weight{"), 9);
    assert_eq!(n("piranha_ipvs_backend_connections_total{"), 9);
    assert_eq!(n("piranha_ipvs_service_connections_total{"), 3);
    assert_eq!(n("piranha_virtual_server_info{"), 3);
    assert_eq!(n("piranha_pulse_link_up{"), 1);
    assert_eq!(n("piranha_pulse_vip_held{"), 2);
    assert!(promtool(&out, "duplicates_are_never_emitted").is_none());
}

#[test]
fn label_values_are_escaped() {
    let mut json = T.lvsd_json();
    json.virtuals[0].name = "we\"ird\\name\nx".into();
    json.config.file = "/etc/\"lvs\".cf".into();
    let f = fixture(Some(T.ip_vs()), |p, l| {
        fake_pulse(p.as_ref(), &serde_json::to_string(&pulse_json()).unwrap());
        fake_lvsd(
            l.as_ref(),
            &serde_json::to_string(&json).unwrap(),
            &serde_json::to_string(&T.lvsd_stats()).unwrap(),
        );
    });
    let (out, _, _) = once(&f.args());
    assert!(out.contains("virtual=\"we\\\"ird\\\\name\\nx\""), "{out}");
    assert!(out.contains("file=\"/etc/\\\"lvs\\\".cf\""), "{out}");
    assert!(promtool(&out, "label_values_are_escaped").is_none());
}
