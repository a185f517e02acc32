//! `piranha_gui`: the Piranha Configuration Tool. See piranha_gui(8).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser as _;
use lvs_util::log::Sink;
use piranha_gui::access::Access;
use piranha_gui::cli::Options;
use piranha_gui::monitor::Sources;
use piranha_gui::server;

fn fail(msg: &str) -> ExitCode {
    eprintln!("piranha_gui: {msg}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    lvs_util::malloc::tune();
    let opts = Options::parse();
    if opts.save_worker {
        // its standard output is the answer: what it logs goes to syslog
        lvs_util::log::init("piranha_gui", Sink::Syslog, false);
        return server::save_worker();
    }
    // As the original's init script: no lvs.cf, no web tool.
    if !opts.configfile.exists() {
        return fail(&format!("{}: no such file", opts.configfile.display()));
    }
    if !opts.passwd_file.exists() {
        eprintln!(
            "piranha_gui: {}: no such file: nobody can log in until piranha-passwd sets a password",
            opts.passwd_file.display()
        );
    }
    if opts
        .save_command
        .as_deref()
        .is_some_and(|c| c.split_whitespace().next().is_none())
    {
        return fail("--save-command: an empty command");
    }
    if opts
        .sync_command
        .as_deref()
        .is_some_and(|c| c.split_whitespace().next().is_none())
    {
        return fail("--sync-command: an empty command");
    }
    let tls = match (&opts.cert, &opts.key) {
        (Some(c), Some(k)) => match piranha_web::tls_acceptor(c, k) {
            Ok(a) => Some(a),
            Err(e) => return fail(&e),
        },
        _ => None,
    };
    let addrs = opts.listen_addrs();
    // Bind before detaching, so a busy port is an error on the terminal.
    let std_listener = {
        let mut first_err = None;
        let mut found = None;
        for a in &addrs {
            match std::net::TcpListener::bind(a) {
                Ok(l) => {
                    found = Some(l);
                    break;
                }
                Err(e) => {
                    first_err.get_or_insert(format!("{a}: {e}"));
                }
            }
        }
        match found {
            Some(l) => l,
            None => {
                return fail(&format!(
                    "cannot listen on {}",
                    first_err.unwrap_or_default()
                ));
            }
        }
    };
    let local = std_listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let scheme = if tls.is_some() { "https" } else { "http" };
    if opts.nodaemon {
        lvs_util::log::init("piranha_gui", Sink::Stdout, false);
        println!("piranha_gui: serving {scheme}://{local}/");
    } else {
        let pid = lvs_util::daemon::pid_file("/var/run/piranha_gui.pid", "PIRANHA_GUI_PID_FILE");
        if let Err(e) = lvs_util::daemon::daemonize(false, Path::new(&pid), "piranha_gui", false) {
            return fail(&format!("cannot become a daemon: {e}"));
        }
        tracing::info!("serving {scheme}://{local}/");
    }
    let htaccess = Some(opts.htaccess.clone());
    let mut state = server::State::new(
        opts.configfile.clone(),
        Sources {
            pulse_socket: opts.pulse_socket.clone(),
            lvsd_socket: opts.lvsd_socket.clone(),
            procfs: opts.procfs.clone(),
        },
        tls.is_some(),
        opts.passwd_file.clone(),
        Access::new(opts.allow.clone(), htaccess),
    );
    state.saver = opts.saver();
    state.syncer = opts.syncer();
    let state = Arc::new(state);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start: {e}")),
    };
    rt.block_on(async move {
        if let Err(e) = std_listener.set_nonblocking(true) {
            return fail(&e.to_string());
        }
        let listener = match tokio::net::TcpListener::from_std(std_listener) {
            Ok(l) => l,
            Err(e) => return fail(&e.to_string()),
        };
        match server::run(listener, tls, state).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e.to_string()),
        }
    })
}
