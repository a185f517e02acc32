//! Project automation: `cargo xtask test` runs every test tier, `cargo xtask
//! vm` runs a command in the IPVS VM, `cargo xtask bench-ipvs` benchmarks
//! IPVS programming in it, `cargo xtask dist` builds the .deb and the .rpm,
//! `cargo xtask demo` shows the suite at work.

mod demo;
mod demo_scaleout;
mod dist;
mod test;
mod vm;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  test [--tier unit|netns|vm|dist]...  run the test tiers (default: all)
  vm [--timeout SECS] -- CMD...        run CMD as root in a QEMU VM with kernel IPVS
  bench-ipvs                           IPVS programming benchmark in the VM
  dist                                 build the .deb and the .rpm into <target>/dist/
  demo                                 client, two directors, three real servers: failover live
  demo --scale-out                     three active directors behind ECMP (FRR, BIRD): a director dies
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("test") => test::run(&args[1..]),
        Some("vm") => vm::main(&args[1..]),
        Some("bench-ipvs") => test::bench_ipvs(&args[1..]),
        Some("dist") => dist::main(&args[1..]),
        Some("demo") => demo::main(&args[1..]),
        Some("-h" | "--help") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprint!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> std::path::PathBuf {
    let manifest = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or(manifest)
}
