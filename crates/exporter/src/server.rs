//! The HTTP(S) server (a shell): `GET /metrics` and a small `/` page,
//! basic authentication, and limits on what a client may take.
//!
//! Limits: at most [`CONNECTIONS`] open connections (more are closed at
//! once), [`SCRAPES`] scrapes at a time (a further one waits up to 1 s,
//! then gets 503), request heads of at most 16 KiB and 32 headers, no
//! request body, [`HEAD_TIMEOUT`] to send a request head (which is also
//! how long an idle keep-alive connection stays open), a TLS handshake
//! within the same time, and [`STALL_TIMEOUT`] for a client that stops
//! reading its answer.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};

use crate::families::CONTENT_TYPE;
use crate::scrape::{ChunkSink, Sources, scrape};
use crate::webconfig::{Auth, basic_credentials};

/// Open connections at most.
pub const CONNECTIONS: usize = 16;
/// Scrapes at a time at most.
pub const SCRAPES: usize = 2;
/// bcrypt verifications at a time at most.
const VERIFICATIONS: usize = 2;
/// Time to send a request head; idle keep-alive time.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Time a client may leave its answer unread.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Pieces of the exposition handed to the connection.
const CHUNK: usize = 64 << 10;

/// What every request handler shares.
#[derive(Debug)]
pub struct State {
    /// Where scrapes read from.
    pub sources: Arc<Sources>,
    /// Basic authentication (`None`: none configured, loopback only).
    pub auth: Option<Arc<Auth>>,
    scrapes: Arc<Semaphore>,
    verifications: Arc<Semaphore>,
}

impl State {
    /// The state for these sources and users.
    pub fn new(sources: Sources, auth: Option<Auth>) -> State {
        State {
            sources: Arc::new(sources),
            auth: auth.map(Arc::new),
            scrapes: Arc::new(Semaphore::new(SCRAPES)),
            verifications: Arc::new(Semaphore::new(VERIFICATIONS)),
        }
    }
}

/// A response body: a whole text, or the pieces of a scrape.
pub enum Body {
    /// All at once.
    Full(Option<Bytes>),
    /// As a scrape produces it.
    Stream(mpsc::Receiver<Bytes>),
}

impl HttpBody for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(rx) => rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Body::Stream(_) => SizeHint::default(),
        }
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::Full(Some(Bytes::from_static(body.as_bytes()))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

const INDEX: &str = "<!DOCTYPE html>
<html><head><title>piranha-exporter</title></head>
<body><h1>piranha-exporter</h1><p><a href=\"metrics\">Metrics</a></p></body></html>
";

/// Answers one request.
pub async fn handle(req: Request<Incoming>, state: Arc<State>) -> Response<Body> {
    if let Some(auth) = &state.auth
        && !authorized(&req, auth, &state.verifications).await
    {
        let mut r = text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"piranha-exporter\", charset=\"UTF-8\""),
        );
        return r;
    }
    if req.method() != Method::GET {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "Only GET\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        return r;
    }
    if req.body().size_hint().upper() != Some(0) || !req.body().is_end_stream() {
        return text(StatusCode::PAYLOAD_TOO_LARGE, "No request body\n");
    }
    match req.uri().path() {
        "/" => {
            let mut r = text(StatusCode::OK, "");
            *r.body_mut() = Body::Full(Some(Bytes::from_static(INDEX.as_bytes())));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r
        }
        "/metrics" => metrics(state).await,
        _ => text(StatusCode::NOT_FOUND, "Not found: see /metrics\n"),
    }
}

async fn authorized(req: &Request<Incoming>, auth: &Arc<Auth>, slots: &Arc<Semaphore>) -> bool {
    let Some((user, pass)) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| basic_credentials(h.as_bytes()))
    else {
        return false;
    };
    if auth.cached(&user, &pass) == Some(true) {
        return true;
    }
    let Ok(_slot) = slots.clone().acquire_owned().await else {
        return false;
    };
    let auth = auth.clone();
    tokio::task::spawn_blocking(move || auth.verify(&user, &pass))
        .await
        .unwrap_or(false)
}

async fn metrics(state: Arc<State>) -> Response<Body> {
    let permit = match tokio::time::timeout(
        Duration::from_secs(1),
        state.scrapes.clone().acquire_owned(),
    )
    .await
    {
        Ok(Ok(p)) => p,
        _ => {
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many scrapes at once\n",
            );
        }
    };
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    let sources = state.sources.clone();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut sink = ChunkSink::new(CHUNK, |b| tx.blocking_send(b).is_ok());
        if scrape(&sources, &mut sink).is_ok() {
            let _ = sink.finish();
        }
    });
    let mut r = Response::new(Body::Stream(rx));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    r
}

/// Serves HTTP/1.1 on `io` until the client leaves or breaks a limit.
async fn serve_connection<T>(io: T, state: Arc<State>)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(StallLimit::new(io, STALL_TIMEOUT));
    let svc = hyper::service::service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(handle(req, state).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(16 << 10)
        .max_headers(32)
        .serve_connection(io, svc)
        .await;
}

pub use piranha_web::{StallLimit, bind};

/// Loads a TLS certificate chain and key (PEM) into an acceptor.
pub fn tls_acceptor(tls: &crate::webconfig::Tls) -> Result<tokio_rustls::TlsAcceptor, String> {
    piranha_web::tls_acceptor(&tls.cert_file, &tls.key_file)
}

/// Accepts connections on `listener` for ever.
pub async fn run(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<State>,
) -> std::io::Result<()> {
    let conns = Arc::new(Semaphore::new(CONNECTIONS));
    loop {
        let (tcp, _peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // EMFILE and the like: wait rather than spin
                eprintln!("piranha-exporter: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = conns.clone().try_acquire_owned() else {
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let state = state.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => serve_connection(tcp, state).await,
                Some(acceptor) => {
                    if let Ok(Ok(s)) =
                        tokio::time::timeout(HEAD_TIMEOUT, acceptor.accept(tcp)).await
                    {
                        serve_connection(s, state).await;
                    }
                }
            }
        });
    }
}
