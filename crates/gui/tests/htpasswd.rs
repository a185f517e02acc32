//! A password file written by Apache's htpasswd (Debian's apache2-utils,
//! installed by .ci/install-deps) keeps working: every hash htpasswd can
//! write is accepted by piranha_gui, the right password only.

mod common;

use std::process::Command;

use common::{Gui, PASSWORD, Req};

#[test]
fn every_htpasswd_format_logs_in() {
    let test = "every_htpasswd_format_logs_in";
    if Command::new("htpasswd").arg("-h").output().is_err() {
        lvs_tests::skip(
            test,
            "htpasswd not installed (Debian package apache2-utils)",
        );
        return;
    }
    // bcrypt, Apache MD5, SHA-1, crypt, SHA-256 and SHA-512 crypt
    for flag in ["-B", "-m", "-s", "-d", "-2", "-5"] {
        let dir = Gui::files();
        let file = dir.path().join("piranha.passwd");
        let out = Command::new("htpasswd")
            .args(["-cb", flag])
            .arg(&file)
            .args(["piranha", PASSWORD])
            .output()
            .unwrap();
        assert!(out.status.success(), "htpasswd {flag}: {out:?}");
        let text = std::fs::read_to_string(&file).unwrap();
        let hash = piranha_gui::passwd::lookup(&text, "piranha").unwrap();
        assert!(
            piranha_gui::passwd::verify(PASSWORD, &hash),
            "{flag}: {hash}"
        );
        assert!(
            !piranha_gui::passwd::verify("pir4nha?", &hash),
            "{flag}: {hash}"
        );
        let gui = Gui::start_in(dir, &[]);
        assert_eq!(
            gui.req(Req::get("/global").auth()).status,
            200,
            "{flag}: {hash}"
        );
        assert_eq!(
            gui.req(Req::get("/global").basic("piranha", "wrong"))
                .status,
            401,
            "{flag}"
        );
    }
}
