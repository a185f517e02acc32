//! `lvscf`: checks, dumps and formats lvs.cf. Placeholder.

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--version") {
        print!(
            "{}",
            lvs_util::version::banner("lvscf", env!("CARGO_PKG_VERSION"))
        );
        return;
    }
    eprintln!("lvscf: not implemented yet");
    std::process::exit(1);
}
