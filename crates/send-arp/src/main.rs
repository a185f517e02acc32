//! `send_arp`: Sends a gratuitous ARP frame. Placeholder until its issue lands: only `--version` works.

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--version") {
        print!("{}", lvs_util::version::banner("send_arp", "1.0"));
        return;
    }
    eprintln!("send_arp: not implemented yet");
    std::process::exit(1);
}
