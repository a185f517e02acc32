//! `fos`: failover services (fos.md).

fn main() {
    std::process::exit(fos::run::main(std::env::args_os().collect()));
}
