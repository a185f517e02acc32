//! ipvsadm-rs on a kernel without IPVS (this machine's): ipvsadm's message
//! and status; `-h` and `-v` work without IPVS.

use std::process::Command;

#[test]
fn without_ipvs_it_fails_like_ipvsadm() {
    if std::path::Path::new("/proc/net/ip_vs").exists() {
        // this kernel has IPVS: the VM tier covers it
        return;
    }
    let out = Command::new(lvs_tests::bin("ipvsadm-rs"))
        .arg("-Ln")
        .output()
        .expect("run ipvsadm-rs");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Can't initialize ipvs: Protocol not available\n\
         Are you sure that IP Virtual Server is built in the kernel or as module?\n"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn help_and_version_need_no_ipvs() {
    let bin = lvs_tests::bin("ipvsadm-rs");
    let out = Command::new(&bin).arg("-h").output().expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("  --start-daemon              start connection sync daemon"));
    assert!(text.contains(&format!("  {} -S [-n]\n", bin.display())));
    let out = Command::new(&bin).arg("--version").output().expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ipvsadm-rs "));
}
