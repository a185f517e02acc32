//! `pulse`: Heartbeat and failover daemon for a pair of LVS routers. Placeholder until its issue lands: only `--version` works.

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--version") {
        print!("{}", lvs_util::version::banner("pulse", "1.56"));
        return;
    }
    eprintln!("pulse: not implemented yet");
    std::process::exit(1);
}
