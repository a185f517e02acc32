//! `piranha-exporter`: see the crate documentation and piranha-exporter(8).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser as _;
use piranha_exporter::cli::{self, Options};
use piranha_exporter::scrape::{ChunkSink, Sources, scrape};
use piranha_exporter::{server, webconfig};

fn fail(msg: &str) -> ExitCode {
    eprintln!("piranha-exporter: {msg}");
    ExitCode::FAILURE
}

fn once(sources: &Sources) -> ExitCode {
    use std::io::Write as _;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut ok = true;
    let mut sink = ChunkSink::new(64 << 10, |b| {
        ok = out.write_all(&b).is_ok();
        ok
    });
    let r = scrape(sources, &mut sink).and_then(|()| sink.finish());
    if r.is_err() || !ok || std::io::stdout().flush().is_err() {
        return fail("cannot write to standard output");
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    // 12.6 -> 7.9 MiB peak on the benchmark's 20,000 backends
    lvs_util::malloc::tune();
    let opts = Options::parse();
    let sources = Sources::new(
        &opts.pulse_socket,
        &opts.lvsd_socket,
        opts.procfs.clone(),
        opts.timeout,
    );
    if opts.once {
        return once(&sources);
    }
    let web_path = opts
        .web_config
        .clone()
        .unwrap_or_else(|| PathBuf::from(cli::WEB_CONFIG));
    let web = match webconfig::load(&web_path) {
        Ok(Some(w)) => w,
        Ok(None) if opts.web_config.is_some() => {
            return fail(&format!("{}: no such file", web_path.display()));
        }
        Ok(None) => webconfig::WebConfig::default(),
        Err(e) => return fail(&e),
    };
    let has_users = !web.users.is_empty();
    let addrs = match cli::listen_addrs(opts.listen.as_deref(), has_users) {
        Ok(a) => a,
        Err(e) => return fail(&e),
    };
    if let Err(e) = cli::check_exposure(&addrs, has_users, &web_path.display().to_string()) {
        return fail(&e);
    }
    let tls = match web.tls.as_ref().map(server::tls_acceptor).transpose() {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    let auth = webconfig::Auth::new(&web.users);
    if has_users && auth.is_none() {
        return fail(&format!(
            "{}: cannot use basic_auth_users",
            web_path.display()
        ));
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(8)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start: {e}")),
    };
    rt.block_on(async move {
        let listener = match server::bind(&addrs).await {
            Ok(l) => l,
            Err(e) => return fail(&format!("cannot listen on {e}")),
        };
        let local = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        eprintln!(
            "piranha-exporter: serving {}://{local}/metrics ({})",
            if tls.is_some() { "https" } else { "http" },
            if has_users {
                "basic authentication"
            } else {
                "no authentication: loopback only"
            }
        );
        let state = Arc::new(server::State::new(sources, auth));
        match server::run(listener, tls, state).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e.to_string()),
        }
    })
}
