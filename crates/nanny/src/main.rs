//! `nanny`: the per-real-server health checker (see the library docs).

fn main() {
    let code = nanny::run::main(std::env::args_os().collect());
    std::process::exit(code);
}
