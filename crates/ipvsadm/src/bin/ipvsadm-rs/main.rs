//! `ipvsadm-rs`: ipvsadm's command-line syntax and output on the `ipvs`
//! crate — a static ipvsadm with no libnl. Supports `-A -E -D -a -e -d -C
//! -L/-l -n -S -R -Z --set --start-daemon --stop-daemon` (and `--stats`,
//! `--rate`, `--thresholds`, `--persistent-conn`, `--tun-info`, `--exact`,
//! `--nosort`, `--timeout`, `--daemon`) and the connection listing `-L -c`
//! (read from `/proc/net/ip_vs_conn`, as ipvsadm does).

mod conn;
mod print;

use std::io::{BufRead, Write};
use std::process::ExitCode;

use ipvs::{Client, Op};
use ipvsadm::command as cli;
use ipvsadm::{Cmd, CmdKind, Fail};

const VERSION: &str = concat!(
    "ipvsadm-rs ",
    env!("CARGO_PKG_VERSION"),
    " (ipvsadm v1.31 command line; IPVS over generic netlink)"
);

fn main() -> ExitCode {
    let mut args = std::env::args();
    let prog = args.next().unwrap_or_else(|| "ipvsadm-rs".into());
    let args: Vec<String> = args.collect();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{prog}: {e}");
            return ExitCode::from(1);
        }
    };
    let code = rt.block_on(run(&prog, &args));
    let _ = std::io::stdout().flush();
    ExitCode::from(code)
}

/// Exit statuses ipvsadm uses.
const EXIT_FAIL: u8 = 2;
/// `return -1` from main.
const EXIT_ERR: u8 = 255;

async fn run(prog: &str, args: &[String]) -> u8 {
    // -h and -v work without IPVS
    if let Some(first) = args.first() {
        match cli::parse(std::slice::from_ref(first)) {
            Err(Fail::Help) => {
                print!("{}", usage(prog));
                return 0;
            }
            Err(Fail::Version) => {
                println!("{VERSION}");
                return 0;
            }
            _ => {}
        }
    }
    let client = match Client::connect().await {
        Ok(c) => c,
        Err(e) => {
            let why = match e {
                ipvs::Error::Unavailable { .. } => "Protocol not available".to_string(),
                other => other.plain_message(),
            };
            eprintln!(
                "Can't initialize ipvs: {why}\nAre you sure that IP Virtual Server is built in the kernel or as module?"
            );
            return EXIT_FAIL;
        }
    };
    if args.is_empty() {
        return list_all(&client, print::Format::default()).await;
    }
    match process(&client, prog, args).await {
        Ok(code) => code,
        Err(code) => code,
    }
}

/// Parses one command line; `Err(status)` means the process must exit now
/// (ipvsadm's `fail()` and `tryhelp_exit()` exit even while restoring).
fn parse(prog: &str, args: &[String]) -> Result<Result<Cmd, u8>, u8> {
    match cli::parse(args) {
        Ok(c) => Ok(Ok(c)),
        Err(Fail::Msg(m)) => {
            eprintln!("{m}");
            Err(EXIT_FAIL)
        }
        Err(Fail::TryHelp) => {
            eprintln!("Try `{prog} -h' or '{prog} --help' for more information.");
            Err(EXIT_ERR)
        }
        Err(Fail::Popt(m)) => {
            eprintln!("{m}");
            Ok(Err(EXIT_ERR))
        }
        Err(Fail::Help) => {
            print!("{}", usage(prog));
            Err(0)
        }
        Err(Fail::Version) => {
            println!("{VERSION}");
            Err(0)
        }
    }
}

/// Runs one command line. `Ok(status)` to go on, `Err(status)` to exit.
async fn process(client: &Client, prog: &str, args: &[String]) -> Result<u8, u8> {
    if let Ok(cmd) = cli::parse(args)
        && cmd.kind == CmdKind::Restore
    {
        return restore(client, prog).await;
    }
    process_line(client, prog, args).await
}

/// Runs one command line other than `-R` (which is refused while restoring).
async fn process_line(client: &Client, prog: &str, args: &[String]) -> Result<u8, u8> {
    let cmd = match parse(prog, args)? {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    if cmd.kind == CmdKind::Restore {
        eprintln!("Try `{prog} -h' or '{prog} --help' for more information.");
        return Err(EXIT_ERR);
    }
    if let Some(op) = cmd.op() {
        return Ok(report(client.apply(&[op]).await));
    }
    execute(client, &cmd).await
}

fn report(r: Result<(), ipvs::Error>) -> u8 {
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{}", e.plain_message());
            EXIT_ERR
        }
    }
}

fn format(cmd: &Cmd) -> print::Format {
    use cli::*;
    print::Format {
        numeric: cmd.has(O_NUMERIC),
        rule: cmd.kind == CmdKind::Save,
        stats: cmd.has(O_STATS),
        rate: cmd.has(O_RATE),
        thresholds: cmd.has(O_THRESHOLDS),
        persistent_conn: cmd.has(O_PERSISTENTCONN),
        nosort: cmd.has(O_NOSORT),
        exact: cmd.has(O_EXACT),
        tun_info: cmd.has(O_TUN_INFO),
    }
}

fn emit(out: &str) {
    let mut so = std::io::stdout().lock();
    let _ = so.write_all(out.as_bytes());
    let _ = so.flush();
}

async fn list_all(client: &Client, fmt: print::Format) -> u8 {
    let r = async {
        let info = client.info().await?;
        let dump = client.dump().await?;
        Ok::<_, ipvs::Error>((info, dump))
    }
    .await;
    match r {
        Ok((info, dump)) => {
            let mut out = String::new();
            print::all(&mut out, &info, &dump, &fmt);
            emit(&out);
            0
        }
        Err(e) => {
            eprintln!("{}", e.plain_message());
            1
        }
    }
}

async fn execute(client: &Client, cmd: &Cmd) -> Result<u8, u8> {
    use cli::*;
    let r = match cmd.kind {
        CmdKind::List => {
            let conflict = (cmd.has(O_CONNECTION) || cmd.has(O_TIMEOUT) || cmd.has(O_DAEMON))
                && (cmd.has(O_STATS) || cmd.has(O_RATE) || cmd.has(O_THRESHOLDS))
                || (cmd.has(O_TIMEOUT) || cmd.has(O_DAEMON)) && cmd.has(O_PERSISTENTCONN);
            if conflict {
                eprintln!("options conflicts in the list command");
                return Err(EXIT_FAIL);
            }
            let fmt = format(cmd);
            let mut out = String::new();
            if cmd.has(O_CONNECTION) {
                let cfmt = conn::ConnFormat {
                    numeric: fmt.numeric,
                    persistent_conn: fmt.persistent_conn,
                };
                let r = conn::list_proc(&mut out, cfmt);
                emit(&out);
                if let Err(e) = r {
                    // ipvsadm's list_conn exits 1, also while restoring
                    eprintln!("{}", e.message());
                    return Err(1);
                }
                return Ok(0);
            } else if cmd.has(O_SERVICE) {
                let Some(key) = cmd.svc.key() else {
                    return Err(EXIT_FAIL);
                };
                match async {
                    Ok::<_, ipvs::Error>((client.service(&key).await?, client.dests(&key).await?))
                }
                .await
                {
                    Ok((entry, dests)) => {
                        print::title(&mut out, &fmt);
                        print::service(&mut out, &entry, &dests, &fmt);
                    }
                    Err(e) => {
                        eprintln!("{}", e.plain_message());
                        return Err(1);
                    }
                }
            } else if cmd.has(O_TIMEOUT) {
                match client.timeouts().await {
                    Ok(t) => print::timeouts(&mut out, &t),
                    Err(_) => return Err(1),
                }
            } else if cmd.has(O_DAEMON) {
                match client.daemons().await {
                    Ok(d) => print::daemons(&mut out, &d),
                    Err(_) => return Err(1),
                }
            } else {
                let code = list_all(client, fmt).await;
                return if code == 0 { Ok(0) } else { Err(code) };
            }
            emit(&out);
            return Ok(0);
        }
        CmdKind::Save => {
            let code = list_all(client, format(cmd)).await;
            return if code == 0 { Ok(0) } else { Err(code) };
        }
        CmdKind::Flush => client.flush().await,
        CmdKind::Zero => client.zero(cmd.svc.key().as_ref()).await,
        CmdKind::Timeout => client.set_timeouts(&cmd.timeouts).await,
        CmdKind::StartDaemon => client.start_daemon(&cmd.daemon).await,
        CmdKind::StopDaemon => client.stop_daemon(cmd.daemon.state).await,
        CmdKind::Restore
        | CmdKind::Add
        | CmdKind::Edit
        | CmdKind::Del
        | CmdKind::AddDest
        | CmdKind::EditDest
        | CmdKind::DelDest => return Ok(EXIT_FAIL),
    };
    Ok(report(r))
}

/// `-R`: one command per line from stdin. Consecutive table changes are
/// sent pipelined on the one socket; errors are reported per line, in order,
/// and the exit status is that of the last line, as with ipvsadm.
async fn restore(client: &Client, prog: &str) -> Result<u8, u8> {
    let stdin = std::io::stdin();
    let mut pending: Vec<Op> = Vec::new();
    let mut last = 0u8;
    async fn flush(client: &Client, pending: &mut Vec<Op>, last: &mut u8) {
        if pending.is_empty() {
            return;
        }
        match client.apply_each(pending).await {
            Ok(results) => {
                for r in results {
                    *last = report(r);
                }
            }
            Err(e) => {
                eprintln!("{}", e.plain_message());
                *last = EXIT_ERR;
            }
        }
        pending.clear();
    }
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let words = cli::restore_words(&line);
        if words.is_empty() {
            continue;
        }
        let cmd = match cli::parse(&words) {
            Ok(c) => c,
            Err(_) => {
                flush(client, &mut pending, &mut last).await;
                match process_line(client, prog, &words).await {
                    Ok(code) => {
                        last = code;
                        continue;
                    }
                    Err(code) => return Err(code),
                }
            }
        };
        if let Some(op) = cmd.op() {
            pending.push(op);
            if pending.len() >= 4096 {
                flush(client, &mut pending, &mut last).await;
            }
            continue;
        }
        flush(client, &mut pending, &mut last).await;
        last = match process_line(client, prog, &words).await {
            Ok(code) => code,
            Err(code) => return Err(code),
        };
    }
    flush(client, &mut pending, &mut last).await;
    Ok(last)
}

fn usage(prog: &str) -> String {
    let p = prog;
    format!(
        "{VERSION}
Usage:
  {p} -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe persistence_engine] [-b sched-flags]
  {p} -D virtual-service
  {p} -C
  {p} -R
  {p} -S [-n]
  {p} -a|e virtual-service -r server-address [options]
  {p} -d virtual-service -r server-address
  {p} -L|l [virtual-service] [options]
  {p} -Z [virtual-service]
  {p} --set tcp tcpfin udp
  {p} --start-daemon {{master|backup}} [daemon-options]
  {p} --stop-daemon {{master|backup}}
  {p} -h

Commands:
Either long or short options are allowed.
  --add-service     -A        add virtual service with options
  --edit-service    -E        edit virtual service with options
  --delete-service  -D        delete virtual service
  --clear           -C        clear the whole table
  --restore         -R        restore rules from stdin
  --save            -S        save rules to stdout
  --add-server      -a        add real server with options
  --edit-server     -e        edit real server with options
  --delete-server   -d        delete real server
  --list            -L|-l     list the table
  --zero            -Z        zero counters in a service or all services
  --set tcp tcpfin udp        set connection timeout values
  --start-daemon              start connection sync daemon
  --stop-daemon               stop connection sync daemon
  --help            -h        display this help message

virtual-service:
  --tcp-service|-t  service-address   service-address is host[:port]
  --udp-service|-u  service-address   service-address is host[:port]
  --sctp-service    service-address   service-address is host[:port]
  --fwmark-service|-f fwmark          fwmark is an integer greater than zero

Options:
  --ipv6         -6                   fwmark entry uses IPv6
  --scheduler    -s scheduler         one of rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh,
                                      the default scheduler is wlc.
  --pe            engine              alternate persistence engine may be sip,
                                      not set by default.
  --persistent   -p [timeout]         persistent service
  --netmask      -M netmask           persistent granularity mask
  --real-server  -r server-address    server-address is host (and port)
  --gatewaying   -g                   gatewaying (direct routing) (default)
  --ipip         -i                   ipip encapsulation (tunneling)
  --masquerading -m                   masquerading (NAT)
  --tun-type      type                one of ipip|gue|gre,
                                      the default tunnel type is ipip.
  --tun-port      port                tunnel destination port
  --tun-nocsum                        tunnel encapsulation without checksum
  --tun-csum                          tunnel encapsulation with checksum
  --tun-remcsum                       tunnel encapsulation with remote checksum
  --weight       -w weight            capacity of real server
  --u-threshold  -x uthreshold        upper threshold of connections
  --l-threshold  -y lthreshold        lower threshold of connections
  --connection   -c                   output of current IPVS connections
  --timeout                           output of timeout (tcp tcpfin udp)
  --daemon                            output of daemon information
  --stats                             output of statistics information
  --rate                              output of rate information
  --exact                             expand numbers (display exact values)
  --thresholds                        output of thresholds information
  --persistent-conn                   output of persistent connection info
  --tun-info                          output of tunnel information
  --nosort                            disable sorting output of service/server entries
  --sort                              does nothing, for backwards compatibility
  --ops          -o                   one-packet scheduling
  --numeric      -n                   numeric output of addresses and ports
  --sched-flags  -b flags             scheduler flags (comma-separated)
Daemon Options:
  --syncid sid                        syncid for connection sync (default=255)
  --sync-maxlen length                Max sync message length (default=1472)
  --mcast-interface interface         multicast interface for connection sync
  --mcast-group address               IPv4/IPv6 group (default=224.0.0.81)
  --mcast-port port                   UDP port (default=8848)
  --mcast-ttl ttl                     Multicast TTL (default=1)
"
    )
}
