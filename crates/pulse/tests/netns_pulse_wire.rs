//! The heartbeat on the wire, against a byte-level stand-in for an
//! unmodified Piranha pulse: exact 4-byte little-endian magics from the
//! heartbeat port, and the receive rules (spoofed source, wrong source
//! port, short and incompatible packets are ignored).

mod lab;

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lab::{Cf, Lab, wait_for};

const S: fn(u64) -> Duration = Duration::from_secs;
const RUNNING: [u8; 4] = [0xDA, 0xDB, 0xAD, 0xBD];
const STOPPED: [u8; 4] = [0xBD, 0xDA, 0xBD, 0xAD];
const STOP_ME: [u8; 4] = [0xDA, 0xDA, 0xAD, 0xDE];
const FOS_RUNNING: [u8; 4] = [0xBE, 0xBA, 0xEF, 0xBE];

#[test]
fn bogus_heartbeats_are_ignored_and_the_wire_format_is_piranhas() {
    if !lvs_tests::require(
        lvs_tests::Need::Netns,
        "bogus_heartbeats_are_ignored_and_the_wire_format_is_piranhas",
    ) {
        return;
    }
    let mut lab = Lab::new("10", false);
    // The "partner": a plain socket on the backup's address and port.
    let peer = lab
        .r2
        .ns
        .enter(|| UdpSocket::bind("192.0.2.2:539").unwrap());
    peer.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let wrong_port = lab
        .r2
        .ns
        .enter(|| UdpSocket::bind("192.0.2.2:5390").unwrap());
    let stranger = lab.c.enter(|| UdpSocket::bind("192.0.2.10:539").unwrap());
    lab.r1.start(&Cf::default(), &["-v"]);

    // Keep sending "running" from the wrong port and from a stranger: if
    // either were accepted, r1 would never declare its partner dead.
    let stop = Arc::new(AtomicBool::new(false));
    let flood = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = wrong_port.send_to(&RUNNING, "192.0.2.1:539");
                let _ = stranger.send_to(&RUNNING, "192.0.2.1:539");
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    peer.send_to(&RUNNING[..2], "192.0.2.1:539").unwrap();
    peer.send_to(&FOS_RUNNING, "192.0.2.1:539").unwrap();

    // Collect what r1 sends us until it activates.
    let mut got: Vec<(std::net::SocketAddr, Vec<u8>)> = Vec::new();
    let mut buf = [0u8; 64];
    let end = std::time::Instant::now() + S(6);
    while std::time::Instant::now() < end && !got.iter().any(|(_, d)| d[..] == RUNNING) {
        if let Ok((n, from)) = peer.recv_from(&mut buf) {
            got.push((from, buf[..n].to_vec()));
        }
    }
    stop.store(true, Ordering::Relaxed);
    flood.join().unwrap();
    let r1 = &lab.r1;
    assert!(r1.logged("partner dead: activating lvs"), "{}", lab.dump());
    assert!(!r1.log().contains("backup inactive"), "{}", lab.dump());
    assert!(r1.logged("bad heartbeat packet"), "{}", lab.dump());
    assert!(
        r1.logged("Incompatible heartbeat received -- other system not using identical services"),
        "{}",
        lab.dump()
    );
    assert!(
        r1.logged("Unexpected heartbeat from 192.0.2.10"),
        "{}",
        lab.dump()
    );
    assert!(
        r1.logged("Unexpected heartbeat from 192.0.2.2"),
        "{}",
        lab.dump()
    );
    assert!(r1.logged("DEBUG -- Sending heartbeat..."), "{}", lab.dump());

    // Every heartbeat: 4 bytes, from 192.0.2.1:539; "stopped" until the
    // takeover, then "running".
    assert!(got.len() >= 3, "{got:?}");
    for (from, data) in &got {
        assert_eq!(from.to_string(), "192.0.2.1:539");
        assert_eq!(data.len(), 4);
    }
    let first_running = got.iter().position(|(_, d)| d[..] == RUNNING).unwrap();
    assert!(first_running >= 2, "{got:?}");
    assert!(
        got[..first_running].iter().all(|(_, d)| d[..] == STOPPED),
        "{got:?}"
    );

    // A genuine "running" from the partner makes the active master re-ARP;
    // STOP-ME is treated the same in lvs mode (gaps.md A1).
    peer.send_to(&RUNNING, "192.0.2.1:539").unwrap();
    assert!(
        r1.wait_logged("partner active: resending arps", S(2)),
        "{}",
        lab.dump()
    );
    assert!(r1.logged("DEBUG -- Received Heartbeat from partner"));
    peer.send_to(&STOP_ME, "192.0.2.1:539").unwrap();
    assert!(
        wait_for(S(2), || r1.count_logged("partner active: resending arps")
            == 2),
        "{}",
        lab.dump()
    );
    assert!(!r1.log().contains("PARTNER HAS TOLD US TO GO INACTIVE!"));
    assert!(r1.has_vip(), "{}", lab.dump());
    assert!(
        wait_for(S(2), || r1.count_records("hook active") == 3),
        "{}",
        lab.dump()
    );
}

#[test]
fn five_gratuitous_arps_per_vip_one_second_apart() {
    if !lvs_tests::require(
        lvs_tests::Need::Netns,
        "five_gratuitous_arps_per_vip_one_second_apart",
    ) {
        return;
    }
    let mut lab = Lab::new("16", false);
    let rx = lab.c.arp_capture();
    let cf = Cf {
        backup_active: false,
        deadtime: "1",
        ..Cf::default()
    };
    lab.r1.start(&cf, &[]);
    let mac = send_arp::parse_hw_addr(&lab.r1.mac()).unwrap();
    let mut frames: Vec<(std::time::Instant, Vec<u8>)> = Vec::new();
    let end = std::time::Instant::now() + S(9);
    while std::time::Instant::now() < end {
        if let Some(f) = rx.recv(Duration::from_millis(100))
            && f.get(6..12) == Some(&mac[..])
        {
            frames.push((std::time::Instant::now(), f));
        }
    }
    assert!(
        lab.r1.logged("gratuitous lvs arps finished"),
        "{}",
        lab.dump()
    );
    for vip in [lab::VIP, lab::VIP_B] {
        let want = send_arp::frame(vip.parse().unwrap(), mac, [0xff; 6]).to_vec();
        let times: Vec<std::time::Instant> = frames
            .iter()
            .filter(|(_, f)| *f == want)
            .map(|(t, _)| *t)
            .collect();
        assert_eq!(
            times.len(),
            5,
            "{vip}: {} matching frames of {}",
            times.len(),
            frames.len()
        );
        for w in times.windows(2) {
            let gap = w[1] - w[0];
            assert!(
                gap >= Duration::from_millis(500),
                "{vip}: frames {gap:?} apart"
            );
        }
    }
    // Every frame r1 sent about a VIP is the documented one (the kernel's
    // own ARP traffic for r1's address is not counted).
    let vips: Vec<[u8; 4]> = [lab::VIP, lab::VIP_B]
        .iter()
        .map(|v| v.parse::<std::net::Ipv4Addr>().unwrap().octets())
        .collect();
    let about_vips = frames
        .iter()
        .filter(|(_, f)| f.len() >= 42 && vips.iter().any(|v| f[28..32] == *v))
        .count();
    assert_eq!(about_vips, 10, "only the documented frames are sent");
}
