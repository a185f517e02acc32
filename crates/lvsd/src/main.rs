//! `lvsd`: lvs.cf → IPVS reconciler and nanny supervisor.

fn main() {
    std::process::exit(lvsd::run::main(std::env::args_os().collect()));
}
