//! `send_arp`: sends one gratuitous ARP frame (send-arp.md).
//!
//! `send_arp [-i DEVICE] SRC_IP SRC_MAC TARGET_IP TARGET_MAC`. The argument
//! grammar is the original's hand-rolled one (not popt), so it is parsed by
//! hand here; TARGET_IP is never looked at. An IPv6 SRC_IP sends an
//! unsolicited neighbour advertisement instead of the ARP frame.

use std::process::ExitCode;

const USAGE: &str = "send_arp: sends out custom ARP packet. Yuri Volobuev '97\n\
\tusage: send_arp [-i dev] src_ip_addr src_hw_addr targ_ip_addr tar_hw_addr\n\n\n";

fn fail(text: &str) -> ExitCode {
    eprint!("{text}");
    ExitCode::from(1)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() == 1 && args[0] == "--version" {
        print!("{}", lvs_util::version::banner("send_arp", "1.0"));
        return ExitCode::SUCCESS;
    }
    let (dev, rest) = match args.len() {
        4 if args[0] != "-i" => ("eth0", &args[..]),
        6 if args[0] == "-i" => (args[1].as_str(), &args[2..]),
        _ => return fail(USAGE),
    };
    let [src_ip, src_mac, _target_ip, target_mac] = rest else {
        return fail(USAGE);
    };
    let sock = match send_arp::PacketSocket::open() {
        Ok(s) => s,
        Err(e) => return fail(&format!("socket: {}\n", lvs_util::errtext(&e))),
    };
    let Some(target_mac) = send_arp::parse_hw_addr(target_mac) else {
        return fail("Invalid hardware address\n");
    };
    let Some(src_mac) = send_arp::parse_hw_addr(src_mac) else {
        return fail("Invalid hardware address\n");
    };
    let Some(ip) = send_arp::resolve_ip(src_ip) else {
        return fail(&format!("send_arp: unknown host {src_ip}\n"));
    };
    let frame = send_arp::announcement(ip, src_mac, target_mac);
    match sock.send(dev, &frame) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("sendto: {}\n", lvs_util::errtext(&e))),
    }
}
