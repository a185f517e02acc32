//! send_arp in network namespaces: the exact 60-byte frame arrives at a
//! neighbour, and a neighbour's stale entry for the address moves to the
//! sender's MAC (Linux honours the frame because THA == SHA, TPA == SPA).

use std::process::Command;
use std::time::Duration;

use lvs_tests::netns::{Netns, PacketCapture, veth, wait_for};

const SEND_ARP: &str = env!("CARGO_BIN_EXE_send_arp");

/// Two namespaces joined by a veth pair: `a` (192.0.2.1) and `b` (192.0.2.2).
fn pair(tag: &str) -> (Netns, Netns) {
    let a = Netns::new(&format!("lpsa{tag}a"));
    let b = Netns::new(&format!("lpsa{tag}b"));
    veth(&a, "eth0", &b, "eth0");
    a.ip(&["addr", "add", "192.0.2.1/24", "dev", "eth0"]);
    b.ip(&["addr", "add", "192.0.2.2/24", "dev", "eth0"]);
    (a, b)
}

fn mac_bytes(mac: &str) -> [u8; 6] {
    send_arp::parse_hw_addr(mac).expect("mac")
}

#[test]
fn frame_on_the_wire_is_the_documented_60_bytes() {
    if !lvs_tests::require(
        lvs_tests::Need::Netns,
        "frame_on_the_wire_is_the_documented_60_bytes",
    ) {
        return;
    }
    let (a, b) = pair("1");
    let rx = PacketCapture::arp(&b);
    let mac = a.mac("eth0");
    let hex = send_arp::mac_hex(mac_bytes(&mac));
    let out = a
        .command(SEND_ARP)
        .args([
            "-i",
            "eth0",
            "192.0.2.100",
            &hex,
            "192.0.2.255",
            "ffffffffffff",
        ])
        .output()
        .expect("run send_arp");
    assert!(out.status.success(), "send_arp: {out:?}");
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let got = rx.recv(Duration::from_secs(2)).expect("frame received");
    let want = send_arp::frame("192.0.2.100".parse().unwrap(), mac_bytes(&mac), [0xff; 6]);
    assert_eq!(got, want.to_vec());
}

#[test]
fn neighbour_entry_moves_to_the_announcing_mac() {
    if !lvs_tests::require(
        lvs_tests::Need::Netns,
        "neighbour_entry_moves_to_the_announcing_mac",
    ) {
        return;
    }
    let (a, b) = pair("2");
    // b believes 192.0.2.100 is at some other router.
    b.ip(&[
        "neigh",
        "replace",
        "192.0.2.100",
        "lladdr",
        "02:00:00:00:00:99",
        "dev",
        "eth0",
        "nud",
        "reachable",
    ]);
    let mac = a.mac("eth0");
    // Also through the library API, as pulse calls it.
    a.enter(|| {
        let sock = send_arp::PacketSocket::open().expect("packet socket");
        send_arp::announce(
            &sock,
            "eth0",
            "192.0.2.100".parse().unwrap(),
            mac_bytes(&mac),
        )
        .expect("announce");
    });
    let moved = wait_for(Duration::from_secs(2), || {
        b.ip(&["neigh", "show", "192.0.2.100", "dev", "eth0"])
            .contains(&mac)
    });
    assert!(
        moved,
        "neighbour entry not updated: {}",
        b.ip(&["neigh", "show", "192.0.2.100"])
    );
}

#[test]
fn cli_errors_match_the_original() {
    if !lvs_tests::require(lvs_tests::Need::Root, "cli_errors_match_the_original") {
        return;
    }
    let run = |args: &[&str]| {
        let out = Command::new(SEND_ARP).args(args).output().expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let usage = "send_arp: sends out custom ARP packet. Yuri Volobuev '97\n\
                 \tusage: send_arp [-i dev] src_ip_addr src_hw_addr targ_ip_addr tar_hw_addr\n\n\n";
    assert_eq!(run(&[]), (Some(1), usage.to_string()));
    assert_eq!(run(&["a", "b", "c"]), (Some(1), usage.to_string()));
    assert_eq!(run(&["-i", "a", "b", "c"]), (Some(1), usage.to_string()));
    assert_eq!(
        run(&["x", "-i", "a", "b", "c", "d"]),
        (Some(1), usage.to_string())
    );
    // TARGET_MAC is checked before SRC_MAC, SRC_MAC before SRC_IP.
    let bad_mac = (Some(1), "Invalid hardware address\n".to_string());
    assert_eq!(run(&["nohost.invalid", "zz", "x", "00-11"]), bad_mac);
    assert_eq!(run(&["nohost.invalid", "zz", "x", "ffffffffffff"]), bad_mac);
    assert_eq!(
        run(&["nohost.invalid", "001122334455", "x", "ffffffffffff"]),
        (
            Some(1),
            "send_arp: unknown host nohost.invalid\n".to_string()
        )
    );
    // TARGET_IP is ignored; an unknown device fails at sendto.
    assert_eq!(
        run(&[
            "-i",
            "lpnodev0",
            "192.0.2.1",
            "001122334455",
            "not an ip",
            "ffffffffffff"
        ]),
        (Some(1), "sendto: No such device\n".to_string())
    );
}
