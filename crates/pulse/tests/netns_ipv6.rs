//! pulse with IPv6 in network namespaces: an IPv6-only router pair (no
//! IPv4 address anywhere) fails over when the active pulse is killed: the
//! heartbeats run over IPv6, the VIP comes up on the backup without
//! duplicate address detection (never `tentative`, usable at once), and
//! the client's neighbour entry moves to the new router with its
//! unsolicited neighbour advertisements. A dual-stack pair moves both of
//! its VIPs.

mod lab;

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use lab::{Host, Lab, PULSE, RECORDER, Router, wait_for};
use lvs_tests::ndwatch::NdWatch;

const S: fn(u64) -> Duration = Duration::from_secs;
const VIP6: &str = "2001:db8::100";
const VIP4: &str = "192.0.2.100";

/// lvs.cf for the pair: heartbeats between `primary` and `backup`, a
/// virtual server on the IPv6 VIP and, with `vip4`, one on the IPv4 VIP.
fn cf(primary: &str, backup: &str, vip4: bool, monitor_links: bool) -> String {
    let v4 = if vip4 {
        format!(
            "\nvirtual web4 {{\n    active = 1\n    address = {VIP4} eth0:1\n    port = 80\n}}\n"
        )
    } else {
        String::new()
    };
    format!(
        "serial_no = 1\nprimary = {primary}\nservice = lvs\nbackup_active = 1\n\
         backup = {backup}\nheartbeat = 1\nheartbeat_port = 539\nkeepalive = 1\n\
         deadtime = 3\nnetwork = direct\nmonitor_links = {m}\n\
         active_cmd = \"{RECORDER} hook active\"\ninactive_cmd = \"{RECORDER} hook inactive\"\n\n\
         virtual web6 {{\n    active = 1\n    address = {VIP6} eth0\n    vip_nmask = /64\n    \
         port = 80\n}}\n{v4}",
        m = u8::from(monitor_links),
    )
}

/// Starts `r`'s pulse (foreground, the recorder as lvsd) with lvs.cf `text`.
fn start(r: &mut Router, text: &str) {
    assert!(r.pulse.is_none(), "{} already running", r.name);
    std::fs::write(r.cf_path(), text).expect("write lvs.cf");
    let mut cmd = r.ns.command_logged(PULSE, &r.log_file());
    cmd.arg("-n")
        .arg("-c")
        .arg(r.cf_path())
        .arg(format!("--lvsd={RECORDER}"))
        .arg(format!("--status-socket={}", r.status_socket().display()))
        .env("LP_RECORD", r.record_path());
    r.pulse = Some(cmd.spawn().expect("start pulse"));
    r.runs += 1;
}

/// The backup first, then the primary, which becomes active.
fn cold_start(lab: &mut Lab, text: &str) {
    start(&mut lab.r2, text);
    assert!(
        lab.r2.wait_logged("STARTING PULSE AS BACKUP", S(10)),
        "r2 did not start\n{}",
        lab.dump()
    );
    std::thread::sleep(Duration::from_millis(200));
    start(&mut lab.r1, text);
    assert!(
        lab.r1.wait_logged("backup inactive: activating lvs", S(6)),
        "r1 did not activate\n{}",
        lab.dump()
    );
}

/// Adds `addr` (a /64, without duplicate address detection) to eth0.
fn add6(h: &Host, addr: &str) {
    h.ip(&[
        "-6",
        "addr",
        "add",
        &format!("{addr}/64"),
        "dev",
        "eth0",
        "nodad",
    ]);
}

/// The `ip -6 addr show dev eth0` line of `vip` on `r`, if it is there.
fn vip6_line(r: &Router) -> Option<String> {
    r.ns.ip(&["-o", "-6", "addr", "show", "dev", "eth0"])
        .lines()
        .find(|l| l.contains(&format!("inet6 {VIP6}/")))
        .map(String::from)
}

/// Sends UDP probes from `h` to `ip` until `h` has a MAC for it (5 s).
fn resolve6(h: &Host, ip: &str) -> bool {
    let sock = h.enter(|| UdpSocket::bind("[::]:0").expect("udp socket"));
    let to = SocketAddr::new(ip.parse().unwrap(), 9);
    wait_for(S(5), || {
        let _ = sock.send_to(b"probe", to);
        std::thread::sleep(Duration::from_millis(50));
        h.neigh(ip).contains("lladdr")
    })
}

/// Fails over from r1 to r2 by killing r1's pulse (kill -9: r1 keeps its
/// addresses) and checks the IPv6 VIP on r2: it comes up without
/// `tentative`, a socket can be bound to it at once, the client's
/// neighbour entry moves to r2's MAC, r2 sends its five unsolicited
/// advertisements, and a TCP connection from the client reaches r2.
fn fail_over_and_check_vip6(lab: &mut Lab) {
    let r1_mac = lab.r1.mac();
    let r2_mac = lab.r2.mac();
    assert!(
        wait_for(S(3), || vip6_line(&lab.r1).is_some()),
        "{}",
        lab.dump()
    );
    assert!(resolve6(&lab.c, VIP6), "{}", lab.c.neigh(VIP6));
    assert!(lab.c.neigh(VIP6).contains(&r1_mac), "{}", lab.c.neigh(VIP6));
    assert!(vip6_line(&lab.r2).is_none(), "{}", lab.dump());

    let na = NdWatch::start(&lab.c, VIP6);
    lab.r1.kill9();
    let killed = Instant::now();
    assert!(
        lab.r2.wait_logged("partner dead: activating lvs", S(6)),
        "{}",
        lab.dump()
    );
    assert!(
        wait_for(S(3), || vip6_line(&lab.r2).is_some()),
        "{}",
        lab.dump()
    );
    // usable the moment it is there: not tentative, and bindable (a
    // tentative address refuses bind with EADDRNOTAVAIL)
    let line = vip6_line(&lab.r2).unwrap();
    assert!(!line.contains("tentative"), "{line}");
    assert!(line.contains(&format!("inet6 {VIP6}/64")), "{line}");
    let listener = lab
        .r2
        .ns
        .enter(|| TcpListener::bind(SocketAddr::new(VIP6.parse().unwrap(), 8080)))
        .unwrap_or_else(|e| panic!("bind to the VIP on r2: {e}\n{line}"));
    // the neighbour advertisements move the client's entry to r2
    assert!(
        wait_for(S(3), || lab.c.neigh(VIP6).contains(&r2_mac)),
        "client neighbour entry still {}; r2 is {r2_mac}",
        lab.c.neigh(VIP6)
    );
    let moved = killed.elapsed();
    let vip: SocketAddr = SocketAddr::new(VIP6.parse().unwrap(), 8080);
    let conn = lab
        .c
        .enter(|| TcpStream::connect_timeout(&vip, S(2)))
        .unwrap_or_else(|e| panic!("connect to [{VIP6}]:8080: {e}"));
    let (_, peer) = listener.accept().expect("r2 accepts");
    assert_eq!(peer.ip(), conn.local_addr().unwrap().ip());
    assert!(
        wait_for(S(6), || na.unsolicited_from(killed, &r2_mac) >= 5),
        "{} advertisements from r2: {:?}",
        na.unsolicited_from(killed, &r2_mac),
        na.seen()
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(na.unsolicited_from(killed, &r2_mac), 5, "{:?}", na.seen());
    eprintln!(
        "client entry on r2 {:.3}s after the kill",
        moved.as_secs_f64()
    );
}

#[test]
fn an_ipv6_only_pair_fails_over() {
    if !lvs_tests::require(lvs_tests::Need::Netns, "an_ipv6_only_pair_fails_over") {
        return;
    }
    let mut lab = Lab::new("61", false);
    // IPv6 only: the lab's IPv4 addresses go
    for (h, a) in [
        (&lab.r1.ns, "2001:db8::1"),
        (&lab.r2.ns, "2001:db8::2"),
        (&lab.c, "2001:db8::10"),
    ] {
        h.ip(&["-4", "addr", "flush", "dev", "eth0"]);
        add6(h, a);
    }
    cold_start(&mut lab, &cf("2001:db8::1", "2001:db8::2", false, true));
    // the link monitor finds the device of the IPv6 heartbeat address
    let links = wait_for(S(3), || {
        lab.r2.status().is_some_and(|s| {
            s.links.len() == 1
                && s.links[0].address == "2001:db8::2"
                && s.links[0].device.as_deref() == Some("eth0")
                && s.links[0].up
        })
    });
    assert!(links, "{:?}", lab.r2.status().map(|s| s.links));
    assert!(
        lab.r2.count_logged("Unexpected heartbeat from 2001:db8::1") == 0,
        "{}",
        lab.dump()
    );
    fail_over_and_check_vip6(&mut lab);
    assert_eq!(lab.r2.count_record("hook active"), 1, "{}", lab.dump());
    // no IPv4 address came up anywhere
    assert!(lab.r2.addrs().trim().is_empty(), "{}", lab.r2.addrs());
}

#[test]
fn a_dual_stack_pair_moves_both_vips() {
    if !lvs_tests::require(lvs_tests::Need::Netns, "a_dual_stack_pair_moves_both_vips") {
        return;
    }
    let mut lab = Lab::new("62", false);
    for (h, a) in [
        (&lab.r1.ns, "2001:db8::1"),
        (&lab.r2.ns, "2001:db8::2"),
        (&lab.c, "2001:db8::10"),
    ] {
        add6(h, a);
    }
    // IPv4 heartbeats, one VIP of each family
    cold_start(&mut lab, &cf("192.0.2.1", "192.0.2.2", true, false));
    assert!(
        wait_for(S(3), || lab.r1.vip_line(VIP4).is_some()),
        "{}",
        lab.dump()
    );
    assert!(lab.client_resolve(VIP4), "{}", lab.client_neigh(VIP4));
    let r2_mac = lab.r2.mac();
    fail_over_and_check_vip6(&mut lab);
    let line = lab.r2.vip_line(VIP4).unwrap_or_default();
    assert!(
        line.contains(&format!("inet {VIP4}/24 brd 192.0.2.255")) && line.contains("eth0:1"),
        "{}",
        lab.dump()
    );
    assert!(
        wait_for(S(3), || lab.client_neigh(VIP4).contains(&r2_mac)),
        "client's IPv4 entry still {}; r2 is {r2_mac}",
        lab.client_neigh(VIP4)
    );
}
