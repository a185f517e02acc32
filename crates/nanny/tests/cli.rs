//! The command line of the real binary: start-up errors (exact stderr and
//! exit status), `--version`, `--help`, `--usage`.

use std::process::Command;

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let (code, out, err) = lvs_tests::cli::output(
        Command::new(lvs_tests::bin("nanny"))
            .args(args)
            .envs(env.iter().copied()),
    );
    (code.unwrap_or(-1), out, err)
}

#[test]
fn startup_errors_exact_text_and_status() {
    let cases: &[(&[&str], &str)] = &[
        (&[], "nanny: No address supplied. Use '--help' for help. \n"),
        (
            &["--lvs"],
            "nanny: No address supplied. Use '--help' for help. \n",
        ),
        (&["-h", "192.0.2.1"], "nanny: unknown service type\n"),
        (
            &["-h", "www.example.com", "--lvs"],
            "nanny: bad IP address -- www.example.com\n",
        ),
        (
            &["-h", "192.0.2.1", "--lvs", "junk"],
            "nanny: unexpected arguments\n",
        ),
        (
            &["-o", "/bin/true"],
            "nanny: bad argument -o: unknown option\n",
        ),
        (&["-R", "x"], "nanny: bad argument -R: unknown option\n"),
        (
            &["--shutdown", "x"],
            "nanny: bad argument --shutdown: unknown option\n",
        ),
        (
            &["-p", "eighty"],
            "nanny: bad argument -p: invalid numeric value\n",
        ),
        (
            &["--weight=4294967296"],
            "nanny: bad argument --weight: number too large or too small\n",
        ),
        (
            &["-h", "192.0.2.1", "--lvs", "-t"],
            "nanny: bad argument -t: missing argument\n",
        ),
        (
            &["--nodaemon=yes"],
            "nanny: bad argument --nodaemon: option does not take an argument\n",
        ),
        (
            &["-h", "192.0.2.1", "--lvs", "-t", "0"],
            "nanny: timeout must be > 0\n",
        ),
    ];
    for (args, err) in cases {
        let (code, out, stderr) = run(args, &[]);
        assert_eq!(
            (code, out.as_str(), stderr.as_str()),
            (1, "", *err),
            "args {args:?}"
        );
    }
}

#[test]
fn bad_report_fd_is_a_startup_error() {
    let (code, _, err) = run(
        &["-h", "192.0.2.1", "--lvs", "--nodaemon"],
        &[("NANNY_REPORT_FD", "x")],
    );
    assert_eq!((code, err.as_str()), (1, "nanny: bad NANNY_REPORT_FD: x\n"));
    let (code, _, err) = run(
        &["-h", "192.0.2.1", "--lvs", "--nodaemon"],
        &[("NANNY_REPORT_FD", "987")],
    );
    assert_eq!(code, 1);
    assert!(
        err.starts_with("nanny: bad NANNY_REPORT_FD: 987: "),
        "{err}"
    );
}

#[test]
fn version_help_usage() {
    let (code, out, err) = run(&["--version"], &[]);
    assert_eq!((code, err.as_str()), (0, ""));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], "Program Version:\tnanny 1.46");
    assert!(lines[1].starts_with("Built:\t\t\t"));
    assert_eq!(lines[2], "A component of:\t\tpiranha-0.8.6-1");

    for flag in ["--help", "-?"] {
        let (code, out, _) = run(&[flag], &[]);
        assert_eq!(code, 0);
        assert!(out.starts_with("Usage: nanny [OPTION...]\n"), "{out}");
        // every option of nanny.md §1, the E14 aliases and the compat flags
        for opt in [
            "-h, --server=STRING",
            "-p, --port=INT",
            "-r, --rport=INT",
            "-V, --virtaddress=STRING",
            "-f, --fwmark=INT",
            "-t, --interval=INT",
            "-a, --reentrytime=INT",
            "-w, --weight=INT",
            "-S, --scale=INT",
            "-M, --method=STRING",
            "-I, --ipvsadm=STRING",
            "-U, --loadcmd=STRING",
            "-s, --send_string=STRING",
            "-x, --expect_string=STRING",
            "-e, --send_program=STRING",
            "--regex",
            "-T, --suppress",
            "-q, --quiesce_server",
            "-u, --udp",
            "-v, --verbose",
            "-n, --nodaemon",
            "-c, --nofork",
            "--test-start",
            "--lvs",
            "--fos",
            "--version",
            "--usage",
            "--send_str",
            "--expect_str",
            "--quiesce-server",
            "--UDP",
            "--norun",
            "--no-icmp",
            "--external-failure-passes",
            "--chop-newline-only",
            "--t-is-tunnel",
        ] {
            assert!(out.contains(opt), "--help lacks {opt}:\n{out}");
        }
    }
    let (code, out, _) = run(&["--usage"], &[]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("Usage: nanny [-h|--server STRING] [-p|--port INT]"),
        "{out}"
    );
}
