//! `lvsd`: Turns lvs.cf into the kernel IPVS table and supervises nannies. Placeholder until its issue lands: only `--version` works.

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--version") {
        print!("{}", lvs_util::version::banner("lvs", "1.38"));
        return;
    }
    eprintln!("lvs: not implemented yet");
    std::process::exit(1);
}
