//! `lvs-test-peer OWN PARTNER master|backup KEEPALIVE DEADTIME [--forceactive]`:
//! a stand-in for an unmodified Piranha pulse (lvs mode), written from
//! pulse.md §4–§6 independently of our pulse, for the rolling-upgrade
//! test. It speaks the byte-exact wire format (4-byte little-endian magics
//! from and to UDP port 539) and runs the original's failover rules, but
//! owns no addresses and starts no lvsd: it prints its decisions on stdout
//! as `peer: MESSAGE` with pulse's own wording.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const PORT: u16 = 539;
const LVS_RUNNING: u32 = 0xBDAD_DBDA;
const LVS_STOPPED: u32 = 0xADBD_DABD;
const STOP_ME: u32 = 0xDEAD_DADA;
const HOLD: u32 = 0xDEAF_BABE;
const HELD: u32 = 0xDEAF_DADA;

struct Peer {
    sock: UdpSocket,
    partner: SocketAddrV4,
    master: bool,
    active: bool,
}

fn say(msg: &str) {
    println!("peer: {msg}");
}

impl Peer {
    /// §4.3: running while active, stopped otherwise.
    fn send(&self) {
        let magic = if self.active {
            LVS_RUNNING
        } else {
            LVS_STOPPED
        };
        let _ = self.sock.send_to(&magic.to_le_bytes(), self.partner);
    }

    fn activate(&mut self, why: &str) {
        say(&format!("{why}: activating lvs"));
        self.active = true;
    }

    /// §6.2, lvs mode, for a valid heartbeat.
    fn heard(&mut self, magic: u32) {
        match magic {
            LVS_RUNNING | STOP_ME if self.active && !self.master => {
                self.send();
                say("partner active: deactivating LVS");
                self.active = false;
            }
            LVS_RUNNING | STOP_ME if self.active => say("partner active: resending arps"),
            LVS_STOPPED if !self.active => self.activate(if self.master {
                "backup inactive"
            } else {
                "primary inactive"
            }),
            _ => {}
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        eprintln!(
            "usage: lvs-test-peer OWN PARTNER master|backup KEEPALIVE DEADTIME [--forceactive]"
        );
        ExitCode::from(2)
    };
    if args.len() < 5 {
        return usage();
    }
    let (Ok(own), Ok(partner)) = (args[0].parse::<Ipv4Addr>(), args[1].parse::<Ipv4Addr>()) else {
        return usage();
    };
    let master = match args[2].as_str() {
        "master" => true,
        "backup" => false,
        _ => return usage(),
    };
    let (Ok(ka), Ok(dt)) = (args[3].parse::<f64>(), args[4].parse::<f64>()) else {
        return usage();
    };
    let force = args[5..].iter().any(|a| a == "--forceactive");
    let (keepalive, deadtime) = (Duration::from_secs_f64(ka), Duration::from_secs_f64(dt));
    let sock = match UdpSocket::bind(SocketAddrV4::new(own, PORT)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lvs-test-peer: bind {own}:{PORT}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut peer = Peer {
        sock,
        partner: SocketAddrV4::new(partner, PORT),
        master,
        active: false,
    };
    say(if master {
        "STARTING PULSE AS MASTER"
    } else {
        "STARTING PULSE AS BACKUP"
    });
    if force {
        peer.activate("Forced active on startup");
    }
    // §5: the first heartbeat leaves `keepalive` after start, the partner
    // is dead `deadtime` after the last valid heartbeat (or the start).
    let start = Instant::now();
    let (mut send_at, mut need_at) = (start + keepalive, start + deadtime);
    let mut buf = [0u8; 4];
    loop {
        let now = Instant::now();
        let next = send_at.min(need_at);
        if now >= next {
            if send_at <= need_at {
                peer.send();
                send_at = now + keepalive;
            } else {
                if !peer.active {
                    peer.activate("partner dead");
                }
                need_at = now + deadtime;
            }
            continue;
        }
        let _ = peer.sock.set_read_timeout(Some(next - now));
        let Ok((n, from)) = peer.sock.recv_from(&mut buf) else {
            continue;
        };
        // §4.4: only the partner's address counts; 4 bytes; a known magic.
        if from.ip() != std::net::IpAddr::V4(partner) {
            continue;
        }
        if n < 4 {
            say("bad heartbeat packet");
            continue;
        }
        let magic = u32::from_le_bytes(buf);
        if ![LVS_RUNNING, LVS_STOPPED, STOP_ME, HOLD, HELD].contains(&magic) {
            say("Incompatible heartbeat received -- other system not using identical services");
            continue;
        }
        peer.heard(magic);
        need_at = Instant::now() + deadtime;
    }
}
