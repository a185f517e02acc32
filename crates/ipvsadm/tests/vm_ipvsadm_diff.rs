//! Differential test (VM tier): the same command scripts through the real
//! `ipvsadm` and through `ipvsadm-rs`, each in its own network namespace.
//! Every line must give the same exit status, stdout and stderr, and the
//! resulting tables must list identically (`-Sn` byte for byte, plus the
//! other listing formats, the connection table `-L -c` included) whichever
//! tool prints them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lvs_tests::Need;

const IPVSADM: &str = "/sbin/ipvsadm";

/// Listings compared after each script.
const LISTINGS: &[&str] = &[
    "-Sn",
    "-S",
    "-Ln",
    "-L",
    "-Ln --thresholds",
    "-Ln --persistent-conn",
    "-Ln --tun-info",
    "-Ln --stats",
    "-Ln --rate --exact",
    "-Ln --nosort",
    "-L --timeout",
    "-L --daemon",
    "-Lcn",
    "-Lc",
    "-Lcn --persistent-conn",
];

/// Whether `listing` prints the connection table, whose expiry column
/// counts down between two readings.
fn is_connection_listing(listing: &str) -> bool {
    listing.starts_with("-Lc")
}

/// The connection table with each entry's expiry (`mm:ss`, the second
/// column) replaced by `EX:PR`, so that readings a second apart compare.
fn mask_expiry(mut r: Run) -> Run {
    let masked: Vec<String> = r
        .stdout
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let b = l.as_bytes();
            let is_expiry = i >= 2
                && b.len() >= 9
                && b[3] == b' '
                && b[4..6].iter().all(u8::is_ascii_digit)
                && b[6] == b':'
                && b[7..9].iter().all(u8::is_ascii_digit);
            if is_expiry {
                format!("{}EX:PR{}", &l[..4], &l[9..])
            } else {
                l.to_string()
            }
        })
        .collect();
    r.stdout = masked.iter().map(|l| format!("{l}\n")).collect();
    r
}

/// Listing `listing` of the table in the current namespace by `bin`.
fn listing(bin: &Path, listing: &str) -> Run {
    let r = run(bin, listing, None);
    if is_connection_listing(listing) {
        mask_expiry(r)
    } else {
        r
    }
}

/// Sends what opens an IPVS connection from `src` to `dst` (the address
/// `src` is local; `dst` is routed out of the namespace): one TCP SYN (the
/// socket is closed right after it, before any answer or retransmission
/// could come) or a UDP datagram.
fn open_connection(proto: &str, src: &str, dst: &str) {
    use std::net::SocketAddrV4;
    let src: SocketAddrV4 = src.parse().expect("source address");
    let dst: SocketAddrV4 = dst.parse().expect("destination address");
    match proto {
        "udp" => {
            let s = std::net::UdpSocket::bind(src).expect("bind udp");
            s.send_to(b"ipvs", dst).expect("send udp");
        }
        "tcp" => {
            let sin = |a: SocketAddrV4| libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            // SAFETY: plain socket calls on a descriptor this function owns,
            // with valid sockaddr_in values of the given length.
            unsafe {
                let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0);
                assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
                let (s, d) = (sin(src), sin(dst));
                let rc = libc::bind(fd, &s as *const _ as *const libc::sockaddr, len);
                assert_eq!(rc, 0, "bind {src}: {}", std::io::Error::last_os_error());
                // non-blocking: connect(2) sends the SYN through IPVS
                // before it returns; closed at once, so that no
                // retransmission (after 1 s, however slow the machine)
                // changes the packet counters one run lists
                libc::connect(fd, &d as *const _ as *const libc::sockaddr, len);
                libc::close(fd);
            }
        }
        other => panic!("unknown protocol {other}"),
    }
}

/// What one command printed.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    line: String,
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(bin: &Path, line: &str, stdin: Option<&str>) -> Run {
    let args: Vec<&str> = line.split_whitespace().collect();
    let mut child = Command::new(bin)
        .args(&args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    if let Some(input) = stdin {
        use std::io::Write;
        let mut si = child.stdin.take().expect("stdin");
        si.write_all(input.as_bytes()).expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait");
    let prog = bin.to_string_lossy();
    Run {
        line: line.to_string(),
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).replace(prog.as_ref(), "PROG"),
    }
}

/// Everything a script produced with one tool.
struct Outcome {
    lines: Vec<Run>,
    /// Listings of the resulting table by the real ipvsadm.
    by_ipvsadm: Vec<Run>,
    /// The same listings by ipvsadm-rs.
    by_rs: Vec<Run>,
}

/// Runs `script` through `tool` in a new network namespace. Lines starting
/// with `<` feed the previous `-Sn` listing of this run to `-R`; `@ip ARGS`
/// configures the namespace, `@tcp SRC DST` / `@udp SRC DST` open a
/// connection and `@sleep MS` waits (none is run by the tool nor compared).
fn run_script(tool: PathBuf, rs: PathBuf, script: Vec<String>) -> Outcome {
    std::thread::spawn(move || {
        lvs_tests::netns::enter_new();
        let mut lines = Vec::new();
        for line in &script {
            if let Some(args) = line.strip_prefix("@ip ") {
                let args: Vec<&str> = args.split_whitespace().collect();
                lvs_tests::netns::ip(&args);
            } else if let Some(ms) = line.strip_prefix("@sleep ") {
                let ms = ms.parse().expect("@sleep milliseconds");
                std::thread::sleep(std::time::Duration::from_millis(ms));
            } else if let Some(conn) = line.strip_prefix('@') {
                let w: Vec<&str> = conn.split_whitespace().collect();
                open_connection(w[0], w[1], w[2]);
            } else if let Some(rest) = line.strip_prefix("< ") {
                // restore: save this table, clear it, restore it
                let saved = run(&tool, "-Sn", None).stdout;
                lines.push(run(&tool, "-C", None));
                lines.push(run(&tool, rest, Some(&saved)));
            } else {
                lines.push(listing(&tool, line));
            }
        }
        let by_ipvsadm = LISTINGS
            .iter()
            .map(|l| listing(Path::new(IPVSADM), l))
            .collect();
        let by_rs = LISTINGS.iter().map(|l| listing(&rs, l)).collect();
        Outcome {
            lines,
            by_ipvsadm,
            by_rs,
        }
    })
    .join()
    .expect("script thread")
}

/// Runs the script through both tools and compares; the real ipvsadm's
/// outcome (`None` if the test was skipped).
fn differential(test: &str, script: &[&str]) -> Option<Outcome> {
    if !lvs_tests::require(Need::Ipvs, test) {
        return None;
    }
    let rs = lvs_tests::bin("ipvsadm-rs");
    let script: Vec<String> = script.iter().map(|s| s.to_string()).collect();
    let real = run_script(PathBuf::from(IPVSADM), rs.clone(), script.clone());
    let ours = run_script(rs.clone(), rs, script.clone());
    for (a, b) in real.lines.iter().zip(&ours.lines) {
        if is_connection_listing(&a.line) {
            // the kernel lists connections in its hash order, which differs
            // between the two namespaces
            assert_eq!(
                canonical(a),
                canonical(b),
                "line `{}`: ipvsadm vs ipvsadm-rs",
                a.line
            );
        } else {
            assert_eq!(a, b, "line `{}`: ipvsadm vs ipvsadm-rs", a.line);
        }
    }
    assert_eq!(real.lines.len(), ours.lines.len());
    // After traffic, the rates are estimates the kernel updates every 2 s:
    // two readings need not agree.
    let traffic = script
        .iter()
        .any(|l| l.starts_with("@tcp") || l.starts_with("@udp"));
    for (i, listing) in LISTINGS.iter().enumerate() {
        if traffic && listing.contains("--rate") {
            continue;
        }
        // The two tables hold the same entries. (Compared as sorted lines:
        // the kernel's dump order depends on the namespace, and ipvsadm's
        // comparators are not transitive, so even ipvsadm lists equal
        // tables in different orders.)
        assert_eq!(
            canonical(&real.by_ipvsadm[i]),
            canonical(&ours.by_ipvsadm[i]),
            "tables differ in `ipvsadm {listing}`"
        );
        // ipvsadm-rs prints a table exactly as ipvsadm does, byte for byte
        assert_eq!(
            real.by_ipvsadm[i], real.by_rs[i],
            "`{listing}` output differs"
        );
        assert_eq!(
            ours.by_ipvsadm[i], ours.by_rs[i],
            "`{listing}` output differs"
        );
    }
    // the script built something (guards against a vacuous pass)
    assert!(
        real.by_ipvsadm[0].stdout.lines().count() > 0 || script_is_empty_table(test),
        "{test}: empty table"
    );
    Some(real)
}

fn canonical(r: &Run) -> (Option<i32>, Vec<String>, String) {
    let mut lines: Vec<String> = r.stdout.lines().map(str::to_string).collect();
    lines.sort();
    (r.status, lines, r.stderr.clone())
}

fn script_is_empty_table(test: &str) -> bool {
    test == "errors_and_messages_match"
}

#[test]
fn services_of_every_kind_match() {
    differential(
        "services_of_every_kind_match",
        &[
            "-A -t 192.0.2.1:80 -s rr",
            "-A -t 192.0.2.1:81",
            "-A -u 192.0.2.1:53 -s wrr",
            "--add-service --sctp-service 192.0.2.1:9 --scheduler lc",
            "-A -t [2001:db8::1]:443 -s wlc",
            "-A -u [2001:db8::1]:53 -s lblc",
            "-A --sctp-service [2001:db8::2]:9 -s lblcr",
            "-A -f 1 -s dh",
            "-A -f 2 -6 -s sh",
            "-A -f 2147483647 -s sed",
            "-A -f 65536 -s nq",
            "-A -t 192.0.2.2:80 -s fo -p",
            "-A -t 192.0.2.3:80 -s ovf -p 600 -M 255.255.255.0",
            "-A -t 192.0.2.4:0 -s rr -p 60 -M 255.255.0.0",
            "-A -t [2001:db8::3]:80 -s rr -p 60 -M 64",
            "-A -f 3 -6 -s rr -p 120 -M 48",
            "-A -u 192.0.2.5:5060 -s rr -o",
            "-A -f 5 -s rr -o",
            "-A -t 192.0.2.6:80 -s sh -b sh-fallback,sh-port",
            "-A -t 192.0.2.7:80 -s mh -b mh-port",
            "-A -t 192.0.2.8:80 -s rr -b flag-1,flag-3",
            "-A -u 192.0.2.9:5060 -s rr -p 30 --pe sip",
            "-At192.0.2.10:8080 -srr -p300",
            "-E -t 192.0.2.1:81 -s rr -p 900",
            "-E -t 192.0.2.2:80 -s wlc",
            "-E -f 1 -s wrr -p 10",
            "-E -t [2001:db8::3]:80 -s rr -p 60 -M 96",
            "-D -u 192.0.2.1:53",
            "-D -f 2 -6",
            "-A -t 10.0.0.1:80",
            "-A -t 192.168.0.1:80",
            "-A -t 172.16.0.1:80",
            "-A -t 128.0.0.1:80",
            "-A -t 127.255.255.255:80",
            "-A -t [fe80::1]:80",
            "-A -t [::1]:80",
            "-A -t 127.0.0.1:22",
            "< -R",
        ],
    );
}

#[test]
fn destinations_of_every_kind_match() {
    differential(
        "destinations_of_every_kind_match",
        &[
            "-A -t 192.0.2.1:80 -s wlc",
            "-a -t 192.0.2.1:80 -r 10.0.0.1:80 -m -w 3",
            "-a -t 192.0.2.1:80 -r 10.0.0.2:8080 -m -w 0",
            "-a -t 192.0.2.1:80 -r 10.0.0.3 -g -w 65535",
            "-a -t 192.0.2.1:80 -r 10.0.0.4:9999 -g",
            "-a -t 192.0.2.1:80 -r 10.0.0.5 -i",
            "-a -t 192.0.2.1:80 -r 10.0.0.6 -i --tun-type ipip",
            "-a -t 192.0.2.1:80 -r 10.0.0.7 -i --tun-type gue --tun-port 6080",
            "-a -t 192.0.2.1:80 -r 10.0.0.8 -i --tun-type gue --tun-port 6081 --tun-csum",
            "-a -t 192.0.2.1:80 -r 10.0.0.9 -i --tun-type gue --tun-port 6082 --tun-remcsum",
            "-a -t 192.0.2.1:80 -r 10.0.0.10 -i --tun-type gre",
            "-a -t 192.0.2.1:80 -r 10.0.0.11 -i --tun-type gre --tun-csum",
            "-a -t 192.0.2.1:80 -r 10.0.0.12 -m -x 100 -y 10",
            "-a -t 192.0.2.1:80 -r [2001:db8::100] -i",
            "-a -t 192.0.2.1:80 -r 200.0.0.1:80 -m",
            "-a -t 192.0.2.1:80 -r 1.0.0.1:80 -m",
            "-a -t 192.0.2.1:80 -r 10.0.0.1:79 -m",
            "-A -t [2001:db8::1]:443 -s rr",
            "-a -t [2001:db8::1]:443 -r [2001:db8::10]:443 -m -w 2",
            "-a -t [2001:db8::1]:443 -r [2001:db8::9]:8443 -m",
            "-a -t [2001:db8::1]:443 -r [fd00::1] -g",
            "-a -t [2001:db8::1]:443 -r 10.1.1.1 -i",
            "-a -t [2001:db8::1]:443 -r [ffff::1] -i --tun-type gue --tun-port 1 --tun-nocsum",
            "-A -f 7 -s rr",
            "-a -f 7 -r 10.2.0.1:0 -g",
            "-a -f 7 -r 10.2.0.2:8080 -m",
            "-a -f 7 -r 10.2.0.3 -i",
            "-A -f 8 -6 -s rr",
            "-a -f 8 -6 -r [2001:db8::20]:80 -m",
            "-A -u 192.0.2.1:53 -s rr",
            "-a -u 192.0.2.1:53 -r 10.0.0.1 -m",
            "--add-server --udp-service 192.0.2.1:53 --real-server 10.0.0.2:5353 --masquerading --weight 7",
            "-e -t 192.0.2.1:80 -r 10.0.0.1:80 -m -w 5",
            "-e -t 192.0.2.1:80 -r 10.0.0.3 -g -w 0",
            "-e -t 192.0.2.1:80 -r 10.0.0.5 -i --tun-type gue --tun-port 7000",
            "-e -t 192.0.2.1:80 -r 10.0.0.12 -m -x 50 -y 5",
            "-e -t 192.0.2.1:80 -r 10.0.0.2:8080 -g",
            "-d -t 192.0.2.1:80 -r 10.0.0.6",
            "-d -f 7 -r 10.2.0.2:8080",
            "-d -t [2001:db8::1]:443 -r [2001:db8::9]:8443",
            "-Z",
            "-Z -t 192.0.2.1:80",
            "< -R",
        ],
    );
}

#[test]
fn errors_and_messages_match() {
    differential(
        "errors_and_messages_match",
        &[
            "-A -t 192.0.2.1:80 -s rr",
            "-A -t 192.0.2.1:80 -s rr",
            // marks above 2^31 print negative and cannot be restored
            "-A -f 4294967295 -s sed",
            "-A -f 2147483649 -s nq",
            "-E -t 192.0.2.2:80 -s rr",
            "-D -t 192.0.2.2:80",
            "-A -t 192.0.2.3:80 -s nosuch",
            "-A -t 192.0.2.3:80 -s rr --pe nosuch",
            "-A -t 192.0.2.3:0 -s rr",
            "-A -t 192.0.2.3:80 -o",
            "-A -t 192.0.2.3:80 -b sh-port",
            "-A -t 192.0.2.3:80 -b nope",
            "-A -t 192.0.2.3:80 -s rr -s wlc",
            "-A -t 192.0.2.3:80 -r 10.0.0.1",
            "-A -t 999.1.1.1:80",
            "-A -t 192.0.2.3:99999",
            "-A -f 0",
            "-A -f x",
            "-A -t 192.0.2.3:80 -p 0",
            "-A -t 192.0.2.3:80 -p 2678401",
            "-A -t [2001:db8::1]:80 -M 129",
            "-a -t 192.0.2.1:80",
            "-a -t 192.0.2.9:80 -r 10.0.0.1",
            "-a -t 192.0.2.1:80 -r 10.0.0.1 -m",
            "-a -t 192.0.2.1:80 -r 10.0.0.1 -m",
            "-a -t 192.0.2.1:80 -r 10.0.0.2 -m -w 70000",
            "-a -t 192.0.2.1:80 -r 10.0.0.2 -m -x 1 -y 2",
            "-a -t 192.0.2.1:80 -r [2001:db8::5] -m",
            "-a -t 192.0.2.1:80 -r 10.0.0.2 -m --tun-type gue",
            "-a -t 192.0.2.1:80 -r 10.0.0.2 -i --tun-type gue",
            "-a -t 192.0.2.1:80 -r 10.0.0.2 -i --tun-type ipip --tun-csum",
            "-a -t 192.0.2.1:80 -r 10.0.0.2 -i --tun-type gre --tun-port 5",
            "-a -t 192.0.2.1:80 -r 10.0.0.2 -i --tun-type gue --tun-port 5 --tun-csum --tun-nocsum",
            "-a -t 192.0.2.1:80 -r 10.0.0.2 -i --tun-type foo",
            "-e -t 192.0.2.1:80 -r 10.0.0.9 -m",
            "-d -t 192.0.2.1:80 -r 10.0.0.9",
            "-d -t 192.0.2.9:80 -r 10.0.0.9",
            "-Z -t 192.0.2.9:80",
            "-L -t 192.0.2.9:80",
            "-Ln -t 192.0.2.1:80",
            "-L -c --stats",
            "-L --timeout --daemon",
            "-t 192.0.2.1:80",
            "-A -t 192.0.2.1:80 extra",
            "-D -t 192.0.2.1:80",
            "-C",
        ],
    );
}

#[test]
fn timeouts_daemons_and_flush_match() {
    differential(
        "timeouts_daemons_and_flush_match",
        &[
            "-L --timeout",
            "--set 600 60 120",
            "-L --timeout",
            "--set 0 30 0",
            "-L --timeout",
            "--set 1 2",
            "--start-daemon master --mcast-interface lo --syncid 5",
            "--start-daemon master --mcast-interface lo",
            "--start-daemon backup --mcast-interface lo --syncid 5 --sync-maxlen 1400 --mcast-group 224.0.0.99 --mcast-port 9000 --mcast-ttl 3",
            "-L --daemon",
            "--stop-daemon master",
            "--stop-daemon master",
            "--start-daemon other",
            "-L --daemon",
            "--stop-daemon backup",
            "-A -f 1 -s rr",
            "-C",
            "-A -t 192.0.2.1:80 -s rr",
            "-a -t 192.0.2.1:80 -r 10.0.0.1 -m",
        ],
    );
}

/// `-L -c`: connections (a TCP one, a UDP one, and a persistent one with
/// its template) list the same through ipvsadm and ipvsadm-rs, with names
/// and with `-n`.
#[test]
fn connection_listing_matches() {
    let test = "connection_listing_matches";
    let Some(real) = differential(
        test,
        &[
            "-Lcn",
            // the VIPs are reached through a veth, so that the namespace's
            // own packets pass IPVS; nothing answers them (the peer has no
            // address)
            "@ip link add ipvscna type veth peer name ipvscnb",
            "@ip link set ipvscna up",
            "@ip link set ipvscnb up",
            "@ip addr add 10.72.0.10/24 dev ipvscna",
            // known neighbours: no ARP, so no ICMP error comes back later
            // (IPVS would count it as an outgoing packet)
            "@ip neigh add 10.72.0.2 lladdr 02:00:00:00:00:02 dev ipvscna nud permanent",
            "@ip neigh add 10.72.0.3 lladdr 02:00:00:00:00:03 dev ipvscna nud permanent",
            "@ip neigh add 10.72.0.4 lladdr 02:00:00:00:00:04 dev ipvscna nud permanent",
            "-A -t 10.72.0.1:80 -s rr",
            "-a -t 10.72.0.1:80 -r 10.72.0.2:8080 -m",
            "-A -u 10.72.0.1:53 -s rr",
            "-a -u 10.72.0.1:53 -r 10.72.0.3 -m",
            "-A -t 10.72.0.1:443 -s rr -p 60",
            "-a -t 10.72.0.1:443 -r 10.72.0.4 -m",
            "@tcp 10.72.0.10:40001 10.72.0.1:80",
            "@udp 10.72.0.10:40002 10.72.0.1:53",
            "@tcp 10.72.0.10:40003 10.72.0.1:443",
            // the counters show on the kernel's next 2 s estimator tick
            "@sleep 2500",
            "-Lcn",
            "-Lcn --persistent-conn",
        ],
    ) else {
        return;
    };
    // the kernel listed the connections (guards against a vacuous pass)
    let i = LISTINGS.iter().position(|l| *l == "-Lcn").unwrap();
    let table = &real.by_ipvsadm[i].stdout;
    for want in [
        "10.72.0.10:40001   10.72.0.1:80       10.72.0.2:8080",
        "10.72.0.10:40002   10.72.0.1:53       10.72.0.3:53",
        "10.72.0.10:40003   10.72.0.1:443      10.72.0.4:443",
        "10.72.0.10:0       10.72.0.1:443      10.72.0.4:443",
    ] {
        assert!(table.contains(want), "no `{want}` in\n{table}");
    }
}
