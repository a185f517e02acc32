//! `nanny`: Per-real-server health checker. Placeholder until its issue lands: only `--version` works.

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--version") {
        print!("{}", lvs_util::version::banner("nanny", "1.46"));
        return;
    }
    eprintln!("nanny: not implemented yet");
    std::process::exit(1);
}
