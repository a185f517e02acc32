//! send_arp with an IPv6 address, in network namespaces: the unsolicited
//! neighbour advertisement arrives as documented, and a neighbour's entry
//! for the address (learnt by talking to it) moves to the announcing MAC.

use std::net::Ipv6Addr;
use std::time::Duration;

use lvs_tests::ndwatch::recv_na;
use lvs_tests::netns::PacketCapture;
use lvs_tests::netns::{Netns, veth, wait_for};

const SEND_ARP: &str = env!("CARGO_BIN_EXE_send_arp");
const VIP: &str = "2001:db8::100";

/// Two namespaces joined by a veth pair: `a` (2001:db8::1) and `b`
/// (2001:db8::2), both without duplicate address detection.
fn pair(tag: &str) -> (Netns, Netns) {
    let a = Netns::new(&format!("lpna{tag}a"));
    let b = Netns::new(&format!("lpna{tag}b"));
    veth(&a, "eth0", &b, "eth0");
    a.ip(&[
        "-6",
        "addr",
        "add",
        "2001:db8::1/64",
        "dev",
        "eth0",
        "nodad",
    ]);
    b.ip(&[
        "-6",
        "addr",
        "add",
        "2001:db8::2/64",
        "dev",
        "eth0",
        "nodad",
    ]);
    (a, b)
}

fn mac_bytes(mac: &str) -> [u8; 6] {
    send_arp::parse_hw_addr(mac).expect("mac")
}

#[test]
fn na_on_the_wire_is_the_documented_frame() {
    if !lvs_tests::require(
        lvs_tests::Need::Netns,
        "na_on_the_wire_is_the_documented_frame",
    ) {
        return;
    }
    let (a, b) = pair("1");
    let rx = PacketCapture::ipv6(&b);
    let mac = a.mac("eth0");
    let hex = send_arp::mac_hex(mac_bytes(&mac));
    // the argv Piranha's hooks use for IPv4, with an IPv6 address
    let out = a
        .command(SEND_ARP)
        .args(["-i", "eth0", VIP, &hex, "x", "ffffffffffff"])
        .output()
        .expect("run send_arp");
    assert!(out.status.success(), "send_arp: {out:?}");
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let vip: Ipv6Addr = VIP.parse().unwrap();
    let (got, na) = recv_na(&rx, vip, Duration::from_secs(2)).expect("advertisement received");
    let want = send_arp::na_frame(vip, mac_bytes(&mac), send_arp::ALL_NODES_MAC);
    assert_eq!(got, want.to_vec());
    assert!(na.is_unsolicited_override() && !na.router);
    assert_eq!(na.hop_limit, 255);
    assert_eq!(na.mac(), Some(mac));
}

#[test]
fn neighbour_entry_moves_to_the_advertised_mac() {
    if !lvs_tests::require(
        lvs_tests::Need::Netns,
        "neighbour_entry_moves_to_the_advertised_mac",
    ) {
        return;
    }
    let (a, b) = pair("2");
    // b learns the VIP at a's first MAC by sending it a datagram
    let old = a.mac("eth0");
    a.ip(&[
        "-6",
        "addr",
        "add",
        "2001:db8::100/64",
        "dev",
        "eth0",
        "nodad",
    ]);
    b.enter(|| {
        let s = std::net::UdpSocket::bind("[::]:0").expect("udp socket");
        s.send_to(b"hello", (VIP, 9)).expect("send");
    });
    let neigh = || b.ip(&["-6", "neigh", "show", VIP, "dev", "eth0"]);
    let learnt = wait_for(Duration::from_secs(3), || neigh().contains(&old));
    assert!(learnt, "entry learnt: {}", neigh());
    // the address moves to a new MAC (a's NIC changes its address)
    let new = "02:00:00:00:17:01";
    a.ip(&["link", "set", "eth0", "address", new]);
    assert!(neigh().contains(&old), "not moved yet: {}", neigh());
    // one advertisement through the library, as pulse sends it
    a.enter(|| {
        let sock = send_arp::PacketSocket::open().expect("packet socket");
        send_arp::announce(&sock, "eth0", VIP.parse().unwrap(), mac_bytes(new)).expect("announce");
    });
    let moved = wait_for(Duration::from_secs(2), || neigh().contains(new));
    assert!(moved, "neighbour entry not updated: {}", neigh());
}
