//! The HTTP(S) server: access limits, authentication on every path and
//! method, CSRF tokens, and the screens.
//!
//! Order of checks for every request: the client's address (`--allow`,
//! `.htaccess`: 403), the declared body size (413), then, for every path
//! but `/login`, the credentials: HTTP Basic with user `piranha` (what
//! scripts use, as with the original) or a session cookie from the login
//! form. Without them a browser's GET is sent to `/login`, anything else
//! gets 401. Wrong credentials are counted per client address: after
//! [`auth::FAILURES`] within [`auth::FAILURE_WINDOW`] the address gets 429
//! without a check until the window has passed; each failure is logged.
//! Every POST carries the form's CSRF token (403 without a valid one),
//! Basic-authenticated ones too (a browser resends Basic credentials by
//! itself); a POST whose `Origin` is not this server is refused as well.
//! Methods other than GET, HEAD and POST get 405 (after authentication).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use minijinja::context;
use piranha_web::StallLimit;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::access::Access;
use crate::auth::{self, Failures, Passwords, Sessions, random_token, same_token};
use crate::monitor::Sources;
use crate::pages::{self, CSS};
use crate::passwd;
use crate::save;

/// Largest request body (forms are small).
pub const BODY_MAX: usize = 64 << 10;
/// Open connections at most.
pub const CONNECTIONS: usize = 32;
/// Password checks running at once at most (bcrypt is slow on purpose).
const VERIFICATIONS: usize = 2;
/// Time to send a request head; idle keep-alive time.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Time a client may leave its answer unread.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The session cookie.
pub const SESSION_COOKIE: &str = "piranha_session";
/// The login form's cookie (its CSRF token).
pub const LOGIN_COOKIE: &str = "piranha_login";

/// The response body type.
pub type Body = Full<Bytes>;

/// What every request handler shares.
#[derive(Debug)]
pub struct State {
    /// lvs.cf.
    pub configfile: PathBuf,
    /// Where the monitoring page reads from.
    pub sources: Sources,
    /// Serving HTTPS (cookies get `Secure`).
    pub tls: bool,
    /// The password file.
    pub passwords: Passwords,
    /// Who may connect.
    pub access: Access,
    sessions: Sessions,
    failures: Failures,
    /// The CSRF token of Basic-authenticated clients (new at each start).
    basic_csrf: String,
    verifications: Arc<Semaphore>,
    /// The last hour of lvsd's counters, for the charts.
    pub history: std::sync::Mutex<crate::charts::History>,
    /// The previous counters of the destinations shown, for rates.
    samples: std::sync::Mutex<crate::monitor::Samples>,
    /// The event list.
    events: std::sync::Mutex<crate::monitor::Events>,
    /// One heavy piece of work at a time (a page parsing lvs.cf or reading
    /// the status documents, a save, a chart sample): what bounds memory.
    heavy: Arc<Semaphore>,
    /// How lvs.cf is written when this process cannot write it.
    pub saver: Saver,
    /// How lvs.cf is copied to the backup router.
    pub syncer: Syncer,
}

/// How long the sync command may take: a little more than the unit's
/// `TimeoutStartSec=90s`, so that systemctl's answer arrives.
const SYNC_LIMIT: Duration = Duration::from_secs(100);

/// The default of `--sync-command`.
pub const DEFAULT_SYNC_COMMAND: &str = "systemctl start piranha-gui-sync.service";

/// The privileged path of Synchronize (piranha_gui(8), SYNCHRONIZE TO
/// BACKUP): the sync command (program and arguments, run without a shell)
/// copies lvs.cf to the backup router as root and writes what happened to
/// `STATE_DIR/sync.result`, which is read afterwards; the default command
/// starts `piranha-gui-sync.service`, which runs `lvscf sync --result
/// /var/lib/piranha-gui/sync.result /etc/sysconfig/ha/lvs.cf`.
#[derive(Debug, Clone)]
pub struct Syncer {
    /// The command.
    pub command: Vec<String>,
    /// Where the command leaves its result.
    pub result: PathBuf,
}

impl Default for Syncer {
    fn default() -> Syncer {
        Syncer {
            command: DEFAULT_SYNC_COMMAND
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            result: PathBuf::from(DEFAULT_STATE_DIR).join("sync.result"),
        }
    }
}

/// What `lvscf sync` reported: `key=value` lines (`status`, `backup`,
/// `program`, `serial_no`, `same`, `message`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncResult {
    /// `status=ok`.
    pub ok: bool,
    /// The lines.
    pub fields: BTreeMap<String, String>,
}

impl SyncResult {
    /// Parses a result file (unknown lines are kept, malformed ones left out).
    pub fn parse(text: &str) -> SyncResult {
        let fields: BTreeMap<String, String> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        SyncResult {
            ok: fields.get("status").is_some_and(|s| s == "ok"),
            fields,
        }
    }

    /// A field, or "".
    pub fn get(&self, key: &str) -> &str {
        self.fields.get(key).map_or("", |s| s.as_str())
    }
}

/// The default of `--save-command`.
pub const DEFAULT_SAVE_COMMAND: &str = "systemctl start piranha-gui-save.service";

/// The default of `--state-dir`.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/piranha-gui";

/// The privileged path of a save (piranha_gui(8), SAVING AS AN
/// UNPRIVILEGED USER): the new text is written to `STATE_DIR/pending.cf`
/// and the save command is run, without a shell; it is the unit
/// `piranha-gui-save.service`, which runs `lvscf save --keep-commands
/// --from STATE_DIR/pending.cf lvs.cf` as root.
#[derive(Debug, Clone)]
pub struct Saver {
    /// Where `pending.cf` is written.
    pub state_dir: PathBuf,
    /// The save command (program and arguments). `forced`: used for every
    /// save; else only when this process cannot write lvs.cf itself.
    pub command: Vec<String>,
    /// Whether the command was given (`--save-command`).
    pub forced: bool,
}

impl Default for Saver {
    fn default() -> Saver {
        Saver {
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            command: DEFAULT_SAVE_COMMAND
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            forced: false,
        }
    }
}

/// Why [`write_config`] did not save.
#[derive(Debug)]
enum WriteFail {
    /// As `lvscf::store` says (a direct save, or a conflict seen after the
    /// command).
    Store(lvscf::store::SaveError),
    /// The save command refused or failed: the message to show.
    Refused(String),
}

/// Whether this process may replace `path` itself (write the file and its
/// directory, as its effective user).
fn can_write(path: &std::path::Path) -> bool {
    use std::os::unix::ffi::OsStrExt as _;
    let ok = |p: &std::path::Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes()).is_ok_and(|c| {
            // SAFETY: a valid NUL-terminated path
            unsafe {
                libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::W_OK, libc::AT_EACCESS) == 0
            }
        })
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    ok(path) && ok(dir)
}

/// One save through the command at a time (one pending.cf) in this
/// process; the server runs one save worker at a time (its heavy-job slot).
static PENDING_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Writes `text` to `dir/pending.cf`: a new temporary file (O_EXCL,
/// O_NOFOLLOW, mode 0600), fsynced, renamed over it.
fn write_pending(dir: &std::path::Path, text: &str) -> std::io::Result<PathBuf> {
    use std::io::Write as _;
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let target = dir.join("pending.cf");
    let tmp = dir.join(format!(".pending.cf.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    let r = f
        .write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .and_then(|()| std::fs::rename(&tmp, &target));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r.map(|()| target)
}

/// Saves `text` as `path` if its `serial_no` is still `expected`: with
/// `lvscf::store::save` when this process can write the file (and no
/// `--save-command` was given), else through the save command.
fn write_config(
    saver: &Saver,
    path: &std::path::Path,
    text: &str,
    expected: i32,
) -> Result<i32, WriteFail> {
    if !saver.forced && can_write(path) {
        return lvscf::store::save(path, text, expected)
            .map(|s| s.serial)
            .map_err(WriteFail::Store);
    }
    save_by_command(saver, path, text, expected)
}

/// The privileged path: `pending.cf`, then the save command (see [`Saver`]);
/// its exit status as `lvscf save`'s (2 checks, 3 conflict, 4 command
/// keys); `systemctl start` only says non-zero, so lvs.cf is read again to
/// tell a conflict.
fn save_by_command(
    saver: &Saver,
    path: &std::path::Path,
    text: &str,
    expected: i32,
) -> Result<i32, WriteFail> {
    let journal = "details are in `journalctl -u piranha-gui-save`";
    let file = path.display().to_string();
    // lvscf save expects the pending text's own serial_no on disk
    let text = if lvscf::store::serial_of(text) == Some(expected) {
        text.to_string()
    } else {
        lvscf::apply(
            text,
            &file,
            &lvscf::Op::set(lvscf::Section::Global, "serial_no", expected.to_string()),
        )
        .map_err(|e| WriteFail::Refused(format!("Not saved: {e}")))?
        .text
    };
    let Some((program, args)) = saver.command.split_first() else {
        return Err(WriteFail::Refused("Not saved: no save command".into()));
    };
    let _one = PENDING_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let pending = write_pending(&saver.state_dir, &text).map_err(|e| {
        WriteFail::Refused(format!(
            "Not saved: writing {}/pending.cf: {e}",
            saver.state_dir.display()
        ))
    })?;
    let out = std::process::Command::new(program)
        .args(args)
        .env("PIRANHA_GUI_PENDING", &pending)
        .env("PIRANHA_GUI_CONFIGFILE", path)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| WriteFail::Refused(format!("Not saved: running {program}: {e}")))?;
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let cmd = saver.command.join(" ");
    if !stderr.is_empty() {
        tracing::warn!("{cmd}: {stderr}");
    }
    let current = std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| WriteFail::Refused(format!("{file}: {e}")))?;
    let current_serial = lvscf::store::serial_of(&current).unwrap_or(0);
    let said = if stderr.is_empty() {
        String::new()
    } else {
        format!(" ({stderr})")
    };
    match out.status.code() {
        Some(0) if current_serial != expected => Ok(current_serial),
        Some(0) => Err(WriteFail::Refused(format!(
            "Not saved: {cmd} succeeded but lvs.cf's serial_no is still {expected}; {journal}"
        ))),
        _ if current_serial != expected => {
            Err(WriteFail::Store(lvscf::store::SaveError::Conflict {
                file,
                expected,
                current_serial,
                current,
            }))
        }
        Some(4) => Err(WriteFail::Refused(format!(
            "Refused: the change would alter a command key of lvs.cf (those run as root and are changed only as root); lvs.cf is unchanged{said}; {journal}"
        ))),
        Some(2) => Err(WriteFail::Refused(format!(
            "Refused by lvs.cf's checks; lvs.cf is unchanged{said}; {journal}"
        ))),
        code => Err(WriteFail::Refused(format!(
            "Not saved: {cmd} failed (exit status {}); lvs.cf is unchanged{said}; {journal}",
            code.map_or("none: killed".to_string(), |c| c.to_string())
        ))),
    }
}

impl State {
    /// The state for these files and limits.
    pub fn new(
        configfile: PathBuf,
        sources: Sources,
        tls: bool,
        passwd_file: PathBuf,
        access: Access,
    ) -> State {
        State {
            configfile,
            sources,
            tls,
            passwords: Passwords::new(passwd_file),
            access,
            sessions: Sessions::default(),
            failures: Failures::default(),
            basic_csrf: random_token(),
            verifications: Arc::new(Semaphore::new(VERIFICATIONS)),
            samples: std::sync::Mutex::new(crate::monitor::Samples::default()),
            events: std::sync::Mutex::new(crate::monitor::Events::default()),
            heavy: Arc::new(Semaphore::new(1)),
            history: std::sync::Mutex::new(crate::charts::History::default()),
            saver: Saver::default(),
            syncer: Syncer::default(),
        }
    }
}

fn set_common_headers(h: &mut HeaderMap) {
    let pairs: [(header::HeaderName, &'static str); 5] = [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // not no-referrer: with it browsers send `Origin: null` on the
        // forms' own POSTs, which the Origin check must refuse
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; connect-src 'self'; \
             style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    ];
    for (k, v) in pairs {
        h.insert(k, HeaderValue::from_static(v));
    }
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn html(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn page(status: StatusCode, name: &str, ctx: minijinja::Value) -> Response<Body> {
    match pages::render(name, ctx) {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::info!("{e}");
            text(StatusCode::INTERNAL_SERVER_ERROR, "Internal error\n")
        }
    }
}

fn message(status: StatusCode, csrf: &str, heading: &str, msg: &str) -> Response<Body> {
    page(
        status,
        "message.html",
        context! { css => CSS, csrf, heading, message => msg, class => "error" },
    )
}

fn redirect(to: &str) -> Response<Body> {
    let mut r = text(StatusCode::SEE_OTHER, "");
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn unauthorized() -> Response<Body> {
    let mut r = text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"Piranha Configuration Tool\", charset=\"UTF-8\""),
    );
    r
}

fn too_many() -> Response<Body> {
    let mut r = text(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many failed logins from this address; try again later\n",
    );
    r.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_str(&auth::FAILURE_WINDOW.as_secs().to_string())
            .unwrap_or(HeaderValue::from_static("60")),
    );
    r
}

/// The value of cookie `name` in the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn set_cookie(
    r: &mut Response<Body>,
    tls: bool,
    name: &str,
    value: &str,
    path: &str,
    max_age: Option<u64>,
) {
    let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict");
    if tls {
        c.push_str("; Secure");
    }
    if let Some(a) = max_age {
        c.push_str(&format!("; Max-Age={a}"));
    }
    if let Ok(v) = HeaderValue::from_str(&c) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// A form body (`application/x-www-form-urlencoded`), last value wins.
pub fn parse_form(body: &[u8]) -> BTreeMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

async fn read_body(body: Incoming) -> Result<Bytes, Response<Body>> {
    match Limited::new(body, BODY_MAX).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body too large\n",
            ))
        }
        Err(_) => Err(text(StatusCode::BAD_REQUEST, "Bad request body\n")),
    }
}

async fn check_password(state: &Arc<State>, user: &str, pass: &str) -> bool {
    if state.passwords.cached(user, pass) == Some(true) {
        return true;
    }
    let Ok(_slot) = state.verifications.clone().acquire_owned().await else {
        return false;
    };
    let (s, u, p) = (state.clone(), user.to_string(), pass.to_string());
    tokio::task::spawn_blocking(move || s.passwords.verify(&u, &p))
        .await
        .unwrap_or(false)
}

fn log_failure(ip: IpAddr, user: &str, how: &str, count: u32) {
    tracing::info!(
        "failed login ({how}) for user {:?} from {ip} ({count} in the last {} s)",
        user,
        auth::FAILURE_WINDOW.as_secs()
    );
}

/// Who the request is from, once authenticated: the CSRF token its forms
/// carry and, for a browser session, the session id.
struct Identity {
    csrf: String,
    session: Option<String>,
}

enum Authn {
    Ok(Identity),
    Refused(Response<Body>),
}

fn wants_html(req: &Request<Incoming>) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

async fn authenticate(req: &Request<Incoming>, ip: IpAddr, state: &Arc<State>) -> Authn {
    if let Some(h) = req.headers().get(header::AUTHORIZATION) {
        if state.failures.blocked(ip) {
            return Authn::Refused(too_many());
        }
        let (user, pass) = piranha_web::basic_credentials(h.as_bytes()).unwrap_or_default();
        if check_password(state, &user, &pass).await {
            return Authn::Ok(Identity {
                csrf: state.basic_csrf.clone(),
                session: None,
            });
        }
        let n = state.failures.fail(ip);
        log_failure(ip, &user, "basic", n);
        return Authn::Refused(unauthorized());
    }
    if let Some(id) = cookie(req.headers(), SESSION_COOKIE)
        && let Some(hash) = state.passwords.current_hash()
        && let Some(csrf) = state.sessions.get(&id, &hash)
    {
        return Authn::Ok(Identity {
            csrf,
            session: Some(id),
        });
    }
    if req.method() == Method::GET && wants_html(req) {
        let next: String = form_urlencoded::byte_serialize(
            req.uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .as_bytes(),
        )
        .collect();
        return Authn::Refused(redirect(&format!("/login?next={next}")));
    }
    Authn::Refused(unauthorized())
}

/// A same-site path to go to after the login (never another host).
fn safe_next(next: &str) -> &str {
    if next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.chars().all(|c| c.is_ascii_graphic())
    {
        next
    } else {
        "/control"
    }
}

/// Whether the `Origin` header, when present, names this server.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let o = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .unwrap_or("");
    o.eq_ignore_ascii_case(host)
}

async fn login(req: Request<Incoming>, ip: IpAddr, state: Arc<State>) -> Response<Body> {
    let query = req.uri().query().unwrap_or("").to_string();
    let q = parse_form(query.as_bytes());
    let login_page = |status, error: &str, next: &str| {
        let token = random_token();
        let mut r = page(
            status,
            "login.html",
            context! { css => CSS, csrf => "", login_token => &token, next => safe_next(next), error },
        );
        set_cookie(&mut r, state.tls, LOGIN_COOKIE, &token, "/login", None);
        r
    };
    match *req.method() {
        Method::GET | Method::HEAD => {
            login_page(StatusCode::OK, "", q.get("next").map_or("", |s| s.as_str()))
        }
        Method::POST => {
            if state.failures.blocked(ip) {
                return too_many();
            }
            if !same_origin(req.headers()) {
                return text(StatusCode::FORBIDDEN, "Cross-site request refused\n");
            }
            let expected = cookie(req.headers(), LOGIN_COOKIE).unwrap_or_default();
            let form = match read_body(req.into_body()).await {
                Ok(b) => parse_form(&b),
                Err(r) => return r,
            };
            let next = form.get("next").map_or("", |s| s.as_str());
            let token = form.get("csrf").map_or("", |s| s.as_str());
            if expected.is_empty() || !same_token(token, &expected) {
                return login_page(
                    StatusCode::FORBIDDEN,
                    "The login form expired; please try again.",
                    next,
                );
            }
            let user = form.get("username").map_or(passwd::USER, |s| s.as_str());
            let pass = form.get("password").map_or("", |s| s.as_str());
            if check_password(&state, user, pass).await
                && let Some(hash) = state.passwords.current_hash()
            {
                state.failures.clear(ip);
                tracing::info!("login of user {user} from {ip}");
                let (id, _) = state.sessions.create(&hash);
                let mut r = redirect(safe_next(next));
                set_cookie(&mut r, state.tls, SESSION_COOKIE, &id, "/", None);
                set_cookie(&mut r, state.tls, LOGIN_COOKIE, "", "/login", Some(0));
                return r;
            }
            let n = state.failures.fail(ip);
            log_failure(ip, user, "form", n);
            login_page(
                StatusCode::UNAUTHORIZED,
                "Wrong user name or password.",
                next,
            )
        }
        _ => method_not_allowed(),
    }
}

fn method_not_allowed() -> Response<Body> {
    let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed\n");
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
    r
}

/// Parses lvs.cf off the async threads.
async fn load_config(state: &Arc<State>) -> Result<lvscf::Config, String> {
    let path = state.configfile.clone();
    tokio::task::spawn_blocking(move || {
        lvscf::parse_file(&path)
            .map(|p| p.config)
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()))
}

/// What a settings form shows besides the file's values.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct FormState {
    message: Option<String>,
    error: Option<String>,
    errors: BTreeMap<String, String>,
    diff: Option<String>,
    /// Submitted values shown instead of the file's.
    values: BTreeMap<String, String>,
    /// A refused ADD form on a page that also has an edit form (VIRTUAL
    /// SERVER's "ADD a real server"): its values and its fields' errors,
    /// kept apart from the edit form's.
    add_values: BTreeMap<String, String>,
    add_errors: BTreeMap<String, String>,
}

fn settings_render(
    status: StatusCode,
    id: &Identity,
    which: &str,
    cfg: &lvscf::Config,
    st: FormState,
) -> Response<Body> {
    let heading = if which == "global" {
        "GLOBAL SETTINGS"
    } else {
        "REDUNDANCY"
    };
    let mut fields = save::fields(cfg, which);
    for f in &mut fields {
        if f.kind != pages::Kind::Fixed
            && let Some(v) = st.values.get(f.key)
        {
            f.value = if f.kind == pages::Kind::Check && v == "0" {
                String::new()
            } else {
                v.clone()
            };
        }
    }
    page(
        status,
        "settings.html",
        context! {
            css => CSS, csrf => &id.csrf, page => which, heading, fields,
            serial_no => cfg.global.serial_no, can_save => true,
            message => st.message, error => st.error, errors => st.errors, diff => st.diff,
        },
    )
}

async fn settings_page(
    state: &Arc<State>,
    id: &Identity,
    which: &str,
    query: Option<&str>,
) -> Response<Body> {
    let cfg = match load_config(state).await {
        Ok(c) => c,
        Err(e) => return message(StatusCode::OK, &id.csrf, "lvs.cf cannot be read", &e),
    };
    let q = parse_form(query.unwrap_or("").as_bytes());
    let st = FormState {
        message: saved_message(&q),
        ..FormState::default()
    };
    settings_render(StatusCode::OK, id, which, &cfg, st)
}

/// How a save ended (what the save worker answers).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum Outcome {
    Saved(i32),
    Unchanged,
    /// The form is shown again (with lvs.cf as it is now).
    Refused {
        status: u16,
        st: FormState,
    },
    Failed(String),
}

fn refused(status: StatusCode, form: &BTreeMap<String, String>, st: FormState) -> Outcome {
    Outcome::Refused {
        status: status.as_u16(),
        st: FormState {
            values: form.clone(),
            ..st
        },
    }
}

fn problems_state(
    problems: &[lvscf::Problem],
    fields: &[pages::Field],
    pairs: &[save::Pair],
) -> FormState {
    let mut st = FormState::default();
    let mut general = Vec::new();
    for p in problems
        .iter()
        .filter(|p| p.severity == lvscf::Severity::Error)
    {
        match p.key.as_deref().map(|k| save::field_in(k, pairs)) {
            Some(k) if fields.iter().any(|f| f.key == k) => {
                st.errors
                    .entry(k.to_string())
                    .or_insert_with(|| p.message.clone());
            }
            _ => general.push(p.message.clone()),
        }
    }
    if !general.is_empty() || st.errors.is_empty() {
        general.insert(0, "Not saved; lvs.cf is unchanged.".to_string());
    } else {
        general = vec!["Not saved; lvs.cf is unchanged: see the fields marked.".to_string()];
    }
    st.error = Some(general.join("\n"));
    st
}

/// The errors of an ADD form's fields (a block added with keys named as
/// the form's fields): problem key -> message.
fn add_form_errors(
    spec: &Spec,
    problems: &[lvscf::Problem],
    form: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut errors = BTreeMap::new();
    let Spec::Ops(ops) = spec else {
        return errors;
    };
    let Some(section) = ops.iter().find_map(|o| match o {
        lvscf::Op::AddBlock { block, .. } => Some(block),
        _ => None,
    }) else {
        return errors;
    };
    // a virtual or failover block's `address` is the form's VIP and device
    let pairs: &[save::Pair] = match section {
        lvscf::Section::Virtual(_) | lvscf::Section::Failover(_) => &save::VIRTUAL_PAIRS,
        _ => &[],
    };
    for p in problems
        .iter()
        .filter(|p| p.severity == lvscf::Severity::Error)
    {
        if let Some(k) = p
            .key
            .as_deref()
            .map(|k| save::field_in(k, pairs))
            .filter(|k| form.contains_key(k))
        {
            errors.entry(k).or_insert_with(|| p.message.clone());
        }
    }
    errors
}

/// Reads lvs.cf, applies the form, checks and saves (blocking).
fn save_blocking(
    saver: &Saver,
    path: &std::path::Path,
    spec: &Spec,
    form: &BTreeMap<String, String>,
) -> Outcome {
    let file = path.display().to_string();
    let text = match std::fs::read(path) {
        Ok(b) => String::from_utf8(b)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        Err(e) => return Outcome::Failed(format!("{file}: {e}")),
    };
    let mut old = match lvscf::parse_str(&text, &file) {
        Ok(p) => p.config,
        Err(e) => return Outcome::Failed(format!("lvs.cf cannot be read: {e}")),
    };
    let Some(expected) = form
        .get("serial_no")
        .and_then(|v| v.trim().parse::<i32>().ok())
    else {
        return Outcome::Failed("the form has no serial_no: reload it".to_string());
    };
    let ops = match spec.ops(&old, form) {
        Ok(o) => o,
        Err(mut errors) => {
            let general = errors.remove("");
            let st = FormState {
                error: Some(match general {
                    Some(g) => format!("Not saved; lvs.cf is unchanged: {g}"),
                    None => "Not saved; lvs.cf is unchanged: see the fields marked.".into(),
                }),
                errors,
                ..FormState::default()
            };
            return refused(StatusCode::UNPROCESSABLE_ENTITY, form, st);
        }
    };
    let conflict = |current: &str, new_text: &str, now: i32| {
        let st = FormState {
            error: Some(format!(
                "Not saved: lvs.cf was changed by someone else since this form was loaded (its serial_no is now {now}, the form was for {expected}). The diff shows what your form would change in the file as it is now; reload the page to start again."
            )),
            diff: Some(lvscf::unified_diff(
                current,
                new_text,
                "lvs.cf (now)",
                "lvs.cf (with your changes)",
            )),
            ..FormState::default()
        };
        refused(StatusCode::CONFLICT, form, st)
    };
    let now = lvscf::store::serial_of(&text).unwrap_or(0);
    if ops.is_empty() && now == expected {
        return Outcome::Unchanged;
    }
    // what a refusal needs of the file as it is: the edited form's fields;
    // what the command-key guard needs: the blocks without their servers
    let fields = spec.fields(&old);
    for s in old.virtuals.iter_mut().chain(old.failovers.iter_mut()) {
        s.servers = Vec::new();
    }
    let new_text = match lvscf::apply_all(&text, &file, &ops) {
        Ok(t) => t,
        Err(e) => {
            let st = FormState {
                error: Some(format!("Not saved; lvs.cf is unchanged: {e}")),
                ..FormState::default()
            };
            return refused(StatusCode::UNPROCESSABLE_ENTITY, form, st);
        }
    };
    if now != expected {
        return conflict(&text, &new_text, now);
    }
    drop(text);
    match lvscf::check(&new_text, &file) {
        Ok(checked) => {
            if !lvscf::commands_unchanged(&old, &checked.parsed.config) {
                return Outcome::Failed(
                    "refused: the change would alter a command lvs.cf names".to_string(),
                );
            }
        }
        Err(problems) => {
            let mut st = problems_state(&problems, &fields, spec.pairs());
            st.add_errors = add_form_errors(spec, &problems, form);
            return refused(StatusCode::UNPROCESSABLE_ENTITY, form, st);
        }
    }
    drop(old);
    match write_config(saver, path, &new_text, expected) {
        Ok(serial) => Outcome::Saved(serial),
        Err(WriteFail::Store(lvscf::store::SaveError::Conflict {
            current,
            current_serial,
            ..
        })) => conflict(&current, &new_text, current_serial),
        Err(WriteFail::Store(lvscf::store::SaveError::Invalid(problems))) => {
            let mut st = problems_state(&problems, &fields, spec.pairs());
            st.add_errors = add_form_errors(spec, &problems, form);
            refused(StatusCode::UNPROCESSABLE_ENTITY, form, st)
        }
        Err(WriteFail::Store(e)) => Outcome::Failed(format!("Not saved: {e}")),
        Err(WriteFail::Refused(msg)) => {
            let st = FormState {
                error: Some(msg),
                ..FormState::default()
            };
            refused(StatusCode::UNPROCESSABLE_ENTITY, form, st)
        }
    }
}

/// What a save is made of.
#[derive(Debug, Clone)]
enum Spec {
    /// GLOBAL SETTINGS (`global`) or REDUNDANCY (`redundancy`).
    Settings(String),
    /// The form of a virtual server.
    Virtual(String),
    /// The form of real server (virtual, name).
    Server(String, String),
    /// The form of a failover service.
    Failover(String),
    /// Fixed edits (the list buttons).
    Ops(Vec<lvscf::Op>),
}

fn find_virtual<'a>(cfg: &'a lvscf::Config, name: &str) -> Option<&'a lvscf::Service> {
    cfg.virtuals.iter().find(|v| v.name == name)
}

fn find_failover<'a>(cfg: &'a lvscf::Config, name: &str) -> Option<&'a lvscf::Service> {
    cfg.failovers.iter().find(|v| v.name == name)
}

fn find_server<'a>(cfg: &'a lvscf::Config, v: &str, name: &str) -> Option<&'a lvscf::RealServer> {
    find_virtual(cfg, v)?
        .servers
        .iter()
        .find(|s| s.name == name)
}

fn gone(what: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(String::new(), format!("{what} is no longer in lvs.cf"))])
}

impl Spec {
    fn ops(
        &self,
        cfg: &lvscf::Config,
        form: &BTreeMap<String, String>,
    ) -> Result<Vec<lvscf::Op>, BTreeMap<String, String>> {
        match self {
            Spec::Settings(w) => save::ops(cfg, w, form),
            Spec::Virtual(n) => match find_virtual(cfg, n) {
                Some(s) => save::virtual_ops(s, form),
                None => Err(gone(&format!("virtual server {n}"))),
            },
            Spec::Server(v, n) => match find_server(cfg, v, n) {
                Some(r) => save::server_ops(v, r, form),
                None => Err(gone(&format!("real server {n} of {v}"))),
            },
            Spec::Failover(n) => match find_failover(cfg, n) {
                Some(s) => save::failover_ops(s, form),
                None => Err(gone(&format!("failover service {n}"))),
            },
            Spec::Ops(o) => Ok(o.clone()),
        }
    }

    fn fields(&self, cfg: &lvscf::Config) -> Vec<pages::Field> {
        match self {
            Spec::Settings(w) => save::fields(cfg, w),
            Spec::Virtual(n) => find_virtual(cfg, n).map_or(Vec::new(), pages::virtual_fields),
            Spec::Server(v, n) => find_server(cfg, v, n).map_or(Vec::new(), pages::server_fields),
            Spec::Failover(n) => find_failover(cfg, n).map_or(Vec::new(), pages::failover_fields),
            Spec::Ops(_) => Vec::new(),
        }
    }

    fn pairs(&self) -> &'static [save::Pair] {
        match self {
            Spec::Settings(_) => &save::GLOBAL_PAIRS,
            Spec::Virtual(_) | Spec::Failover(_) => &save::VIRTUAL_PAIRS,
            _ => &[],
        }
    }
}

/// Which page a save came from (shown again when it is refused).
#[derive(Debug, Clone)]
enum View {
    Settings(String),
    VirtualList,
    Virtual(String),
    Server(String, String),
    FailoverList,
    Failover(String),
}

fn q(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn save_and_answer(
    state: &Arc<State>,
    id: &Identity,
    post: &str,
    spec: Spec,
    view: View,
    form: BTreeMap<String, String>,
) -> Response<Body> {
    let new_name = form.get("name").map(|n| n.trim().to_string());
    let list = list_view(&form).query_string();
    let job = SaveJob {
        configfile: state.configfile.clone(),
        post: post.to_string(),
        form,
        state_dir: state.saver.state_dir.clone(),
        command: state.saver.command.clone(),
        forced: state.saver.forced,
    };
    let (outcome, peak) = match tokio::task::spawn_blocking(move || save_in_worker(job)).await {
        Ok(o) => o,
        Err(e) => (Outcome::Failed(e.to_string()), None),
    };
    let back = |extra: &str| match &view {
        View::Settings(w) => format!("/{w}?{extra}"),
        View::VirtualList if !list.is_empty() => format!("/virtual?{list}&{extra}"),
        View::VirtualList => format!("/virtual?{extra}"),
        View::Virtual(n) => {
            let n = match &spec {
                Spec::Virtual(_) => new_name.clone().unwrap_or_else(|| n.clone()),
                _ => n.clone(),
            };
            format!("/virtual/edit?name={}&{extra}", q(&n))
        }
        View::Server(v, _) => format!("/virtual/edit?name={}&{extra}", q(v)),
        View::FailoverList => format!("/failover?{extra}"),
        View::Failover(n) => {
            let n = match &spec {
                Spec::Failover(_) => new_name.clone().unwrap_or_else(|| n.clone()),
                _ => n.clone(),
            };
            format!("/failover/edit?name={}&{extra}", q(&n))
        }
    };
    match outcome {
        Outcome::Saved(serial) => {
            tracing::info!(
                "{} saved from the web tool: serial_no {serial}{}",
                state.configfile.display(),
                peak.map_or(String::new(), |k| format!(
                    " (save worker's peak resident size {k} kB)"
                ))
            );
            redirect(&back(&format!("saved={serial}")))
        }
        Outcome::Unchanged => redirect(&back("unchanged=1")),
        Outcome::Refused { status, st } => {
            let cfg = match load_config(state).await {
                Ok(c) => c,
                Err(e) => return message(StatusCode::OK, &id.csrf, "lvs.cf cannot be read", &e),
            };
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            refused_page(id, &cfg, &spec, &view, status, st)
        }
        Outcome::Failed(e) => message(StatusCode::INTERNAL_SERVER_ERROR, &id.csrf, "Not saved", &e),
    }
}

/// A refused form, shown again with lvs.cf as it is.
fn refused_page(
    id: &Identity,
    cfg: &lvscf::Config,
    spec: &Spec,
    view: &View,
    status: StatusCode,
    st: FormState,
) -> Response<Body> {
    match view {
        View::Settings(w) => settings_render(status, id, w, cfg, st),
        View::VirtualList => {
            let q = list_view(&st.values);
            virtuals_render(status, id, cfg, st, &q)
        }
        // a real server's ADD (or a list button) on VIRTUAL SERVER: the
        // values belong to that form, not to the virtual server's
        View::Virtual(n) if matches!(spec, Spec::Ops(_)) => {
            let st = FormState {
                add_values: st.values,
                values: BTreeMap::new(),
                errors: BTreeMap::new(),
                ..st
            };
            virtual_render(status, id, cfg, n, st)
        }
        View::Virtual(n) => virtual_render(status, id, cfg, n, st),
        View::Server(v, n) => server_render(status, id, cfg, v, n, st),
        View::FailoverList => failovers_render(status, id, cfg, st),
        View::Failover(n) => failover_render(status, id, cfg, n, st),
    }
}

/// A save for the save worker: the POST and where things are.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct SaveJob {
    configfile: PathBuf,
    post: String,
    form: BTreeMap<String, String>,
    state_dir: PathBuf,
    command: Vec<String>,
    forced: bool,
}

/// The save worker's answer: the outcome and its peak resident size.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct WorkerAnswer {
    outcome: Outcome,
    peak_kib: Option<u64>,
}

/// Runs a save (blocking) in a child process, `piranha_gui --save-worker`
/// (this program again): lvscf's edit and checks of a large lvs.cf take
/// several times its size for a moment, which then never sits in the
/// server's heap. Run here when the child cannot be started.
fn save_in_worker(job: SaveJob) -> (Outcome, Option<u64>) {
    use std::io::Write as _;
    let spawned = std::process::Command::new("/proc/self/exe")
        .arg("--save-worker")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("save worker: {e}; saving in the server");
            return (run_save_job(&job), None);
        }
    };
    let input = serde_json::to_vec(&job).unwrap_or_default();
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(&input);
    }
    match child.wait_with_output() {
        Ok(out) if out.status.success() => {
            match serde_json::from_slice::<WorkerAnswer>(&out.stdout) {
                Ok(a) => (a.outcome, a.peak_kib),
                Err(e) => (Outcome::Failed(format!("save worker: {e}")), None),
            }
        }
        Ok(out) => (
            Outcome::Failed(format!("save worker failed ({})", out.status)),
            None,
        ),
        Err(e) => (Outcome::Failed(format!("save worker: {e}")), None),
    }
}

/// Does a save job: what `piranha_gui --save-worker` runs.
fn run_save_job(job: &SaveJob) -> Outcome {
    let saver = Saver {
        state_dir: job.state_dir.clone(),
        command: job.command.clone(),
        forced: job.forced,
    };
    if job.post == "/history/restore" {
        let name = job.form.get("name").map_or("", |s| s.as_str());
        let expected = job
            .form
            .get("serial_no")
            .and_then(|v| v.trim().parse::<i32>().ok())
            .unwrap_or(-1);
        return match restore_blocking(&saver, &job.configfile, name, expected) {
            Ok(serial) => Outcome::Saved(serial),
            Err(e) => Outcome::Failed(e),
        };
    }
    let Some((spec, _)) = spec_of(&job.post, &job.form) else {
        return Outcome::Failed(format!("{}: nothing to save", job.post));
    };
    save_blocking(&saver, &job.configfile, &spec, &job.form)
}

/// Restores kept version `n` of `path` (blocking): refused when it names
/// other commands than the file does now.
fn restore_blocking(
    saver: &Saver,
    path: &std::path::Path,
    n: &str,
    expected: i32,
) -> Result<i32, String> {
    let file = path.display().to_string();
    let cur = std::fs::read(path).map_err(|e| format!("{file}: {e}"))?;
    let cur = lvscf::parse_bytes(&cur, &file)
        .map_err(|e| e.to_string())?
        .config;
    let old = lvscf::store::read_version(path, n).map_err(|e| e.to_string())?;
    let old = lvscf::parse_str(&old, n).map_err(|e| e.to_string())?.config;
    if !lvscf::commands_unchanged(&cur, &old) {
        return Err(format!(
            "{n} names other commands than lvs.cf does now: restore it as root"
        ));
    }
    drop((cur, old));
    if !saver.forced && can_write(path) {
        return lvscf::store::restore(path, n, expected)
            .map(|s| s.serial)
            .map_err(|e| e.to_string());
    }
    let text = lvscf::store::read_version(path, n).map_err(|e| e.to_string())?;
    save_by_command(saver, path, &text, expected).map_err(|e| match e {
        WriteFail::Store(e) => e.to_string(),
        WriteFail::Refused(m) => m,
    })
}

/// `piranha_gui --save-worker`: reads a [`SaveJob`] (JSON) on standard
/// input, saves, writes the outcome (JSON) on standard output.
pub fn save_worker() -> std::process::ExitCode {
    use std::io::{Read as _, Write as _};
    let mut input = Vec::new();
    if std::io::stdin()
        .take(1 << 20)
        .read_to_end(&mut input)
        .is_err()
    {
        return std::process::ExitCode::FAILURE;
    }
    let Ok(job) = serde_json::from_slice::<SaveJob>(&input) else {
        eprintln!("piranha_gui --save-worker: not a save job");
        return std::process::ExitCode::FAILURE;
    };
    let outcome = run_save_job(&job);
    let peak_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        });
    let answer = serde_json::to_vec(&WorkerAnswer { outcome, peak_kib }).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    if out.write_all(&answer).and_then(|()| out.flush()).is_err() {
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}

fn saved_message(qs: &BTreeMap<String, String>) -> Option<String> {
    if let Some(n) = qs.get("saved") {
        Some(format!(
            "Saved: lvs.cf now has serial_no {n}. Reload pulse (systemctl reload pulse) to put it in force, and copy the file to the backup router."
        ))
    } else if qs.contains_key("unchanged") {
        Some("Nothing changed.".to_string())
    } else {
        None
    }
}

/// VIRTUAL SERVERS: a page of them (`q`: name, VIP or device), the
/// list's query kept in its forms (`list`) so that a button leads back.
fn virtuals_render(
    status: StatusCode,
    id: &Identity,
    cfg: &lvscf::Config,
    st: FormState,
    q: &crate::monitor::Query,
) -> Response<Body> {
    let mut rows = Vec::new();
    let mut matched = 0;
    for v in &cfg.virtuals {
        let r = pages::virtual_rows_of(v);
        if !q.matches([r.name.as_str(), r.vip.as_str(), r.device.as_str()]) {
            continue;
        }
        if q.on_page(matched) {
            rows.push(r);
        }
        matched += 1;
    }
    let pager = q.pager("/virtual", matched, cfg.virtuals.len());
    if rows.is_empty() && matched > 0 {
        // past the end: the last page
        let last = crate::monitor::Query {
            page: pager.page - 1,
            ..q.clone()
        };
        return virtuals_render(status, id, cfg, st, &last);
    }
    page(
        status,
        "virtuals.html",
        context! {
            css => CSS, csrf => &id.csrf, page => "virtual", rows, pager,
            list_query => q.query_string(),
            serial_no => cfg.global.serial_no, message => st.message, error => st.error,
            diff => st.diff, values => st.values, add_errors => st.add_errors,
        },
    )
}

/// The list's view a button came from (its `list` field).
fn list_view(form: &BTreeMap<String, String>) -> crate::monitor::Query {
    let list = form.get("list").map_or("", |s| s.as_str());
    crate::monitor::Query::from_form(&parse_form(list.as_bytes()))
}

async fn virtuals_page(state: &Arc<State>, id: &Identity, query: Option<&str>) -> Response<Body> {
    let cfg = match load_config(state).await {
        Ok(c) => c,
        Err(e) => return message(StatusCode::OK, &id.csrf, "lvs.cf cannot be read", &e),
    };
    let qs = parse_form(query.unwrap_or("").as_bytes());
    let st = FormState {
        message: saved_message(&qs),
        ..FormState::default()
    };
    virtuals_render(
        StatusCode::OK,
        id,
        &cfg,
        st,
        &crate::monitor::Query::from_form(&qs),
    )
}

fn overlay(mut fields: Vec<pages::Field>, values: &BTreeMap<String, String>) -> Vec<pages::Field> {
    for f in &mut fields {
        if f.kind != pages::Kind::Fixed
            && let Some(v) = values.get(f.key)
        {
            f.value = if f.kind == pages::Kind::Check && v == "0" {
                String::new()
            } else {
                v.clone()
            };
        }
    }
    fields
}

fn virtual_render(
    status: StatusCode,
    id: &Identity,
    cfg: &lvscf::Config,
    name: &str,
    st: FormState,
) -> Response<Body> {
    let Some(s) = find_virtual(cfg, name) else {
        return message(
            StatusCode::NOT_FOUND,
            &id.csrf,
            "VIRTUAL SERVER",
            &format!("There is no virtual server {name} in lvs.cf."),
        );
    };
    page(
        status,
        "virtual.html",
        context! {
            css => CSS, csrf => &id.csrf, page => "virtual", name,
            fields => overlay(pages::virtual_fields(s), &st.values),
            servers => pages::server_rows(s), serial_no => cfg.global.serial_no,
            message => st.message, error => st.error, errors => st.errors, diff => st.diff,
            add_values => st.add_values, add_errors => st.add_errors,
        },
    )
}

fn server_render(
    status: StatusCode,
    id: &Identity,
    cfg: &lvscf::Config,
    v: &str,
    name: &str,
    st: FormState,
) -> Response<Body> {
    let Some(r) = find_server(cfg, v, name) else {
        return message(
            StatusCode::NOT_FOUND,
            &id.csrf,
            "REAL SERVER",
            &format!("There is no real server {name} of virtual server {v} in lvs.cf."),
        );
    };
    page(
        status,
        "server.html",
        context! {
            css => CSS, csrf => &id.csrf, page => "virtual", virtual => v, name,
            fields => overlay(pages::server_fields(r), &st.values),
            serial_no => cfg.global.serial_no,
            message => st.message, error => st.error, errors => st.errors, diff => st.diff,
        },
    )
}

fn failovers_render(
    status: StatusCode,
    id: &Identity,
    cfg: &lvscf::Config,
    st: FormState,
) -> Response<Body> {
    page(
        status,
        "failovers.html",
        context! {
            css => CSS, csrf => &id.csrf, page => "failover", rows => pages::failover_rows(cfg),
            fos => cfg.global.service == lvscf::ServiceType::Fos,
            serial_no => cfg.global.serial_no, message => st.message, error => st.error,
            diff => st.diff, values => st.values,
        },
    )
}

fn failover_render(
    status: StatusCode,
    id: &Identity,
    cfg: &lvscf::Config,
    name: &str,
    st: FormState,
) -> Response<Body> {
    let Some(s) = find_failover(cfg, name) else {
        return message(
            StatusCode::NOT_FOUND,
            &id.csrf,
            "FAILOVER",
            &format!("There is no failover service {name} in lvs.cf."),
        );
    };
    page(
        status,
        "failover.html",
        context! {
            css => CSS, csrf => &id.csrf, page => "failover", name,
            fields => overlay(pages::failover_fields(s), &st.values),
            serial_no => cfg.global.serial_no,
            message => st.message, error => st.error, errors => st.errors, diff => st.diff,
        },
    )
}

async fn edit_page(
    state: &Arc<State>,
    id: &Identity,
    path: &str,
    query: Option<&str>,
) -> Response<Body> {
    let cfg = match load_config(state).await {
        Ok(c) => c,
        Err(e) => return message(StatusCode::OK, &id.csrf, "lvs.cf cannot be read", &e),
    };
    let qs = parse_form(query.unwrap_or("").as_bytes());
    let st = FormState {
        message: saved_message(&qs),
        ..FormState::default()
    };
    let name = qs.get("name").map_or("", |s| s.as_str());
    if path == "/virtual/edit" {
        virtual_render(StatusCode::OK, id, &cfg, name, st)
    } else if path == "/failover" {
        failovers_render(StatusCode::OK, id, &cfg, st)
    } else if path == "/failover/edit" {
        failover_render(StatusCode::OK, id, &cfg, name, st)
    } else {
        let v = qs.get("virtual").map_or("", |s| s.as_str());
        server_render(StatusCode::OK, id, &cfg, v, name, st)
    }
}

/// The POSTs that change lvs.cf.
async fn change(
    state: &Arc<State>,
    id: &Identity,
    path: &str,
    form: BTreeMap<String, String>,
) -> Option<Response<Body>> {
    let name = form.get("name").map_or("", |v| v.trim());
    if matches!(path, "/virtual/add" | "/server/add" | "/failover/add")
        && let Some(e) = save::bad_name(name)
    {
        let cfg = load_config(state).await.ok()?;
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        let name_error = BTreeMap::from([("name".to_string(), format!("{e}."))]);
        let error = Some(format!("Not added: {e}."));
        return Some(match path {
            "/virtual/add" => {
                let st = FormState {
                    error,
                    values: form.clone(),
                    add_errors: name_error,
                    ..FormState::default()
                };
                virtuals_render(status, id, &cfg, st, &list_view(&form))
            }
            "/server/add" => {
                let st = FormState {
                    error,
                    add_values: form.clone(),
                    add_errors: name_error,
                    ..FormState::default()
                };
                let v = form.get("virtual").map_or("", |v| v.trim());
                virtual_render(status, id, &cfg, v, st)
            }
            _ => {
                let st = FormState {
                    error,
                    values: form.clone(),
                    ..FormState::default()
                };
                failovers_render(status, id, &cfg, st)
            }
        });
    }
    let (spec, view) = spec_of(path, &form)?;
    Some(save_and_answer(state, id, path, spec, view, form).await)
}

/// What the POST to `path` with `form` changes, and the page it came from.
fn spec_of(path: &str, form: &BTreeMap<String, String>) -> Option<(Spec, View)> {
    use lvscf::{Op, Section};
    let get = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let name = get("name");
    let v = get("virtual");
    let on = get("active") == "1";
    Some(match path {
        "/global" => (
            Spec::Settings("global".into()),
            View::Settings("global".into()),
        ),
        "/redundancy" => (
            Spec::Settings("redundancy".into()),
            View::Settings("redundancy".into()),
        ),
        "/virtual/add" => {
            let keys = new_service_keys(&get("vip"), &get("device"), get("port"));
            (
                Spec::Ops(vec![Op::AddBlock {
                    block: Section::Virtual(name),
                    keys,
                }]),
                View::VirtualList,
            )
        }
        "/virtual/delete" => (
            Spec::Ops(vec![Op::DeleteBlock {
                block: Section::Virtual(name),
            }]),
            View::VirtualList,
        ),
        "/virtual/activate" => (
            Spec::Ops(vec![Op::SetActive {
                block: Section::Virtual(name),
                active: on,
            }]),
            View::VirtualList,
        ),
        "/virtual/edit" => (Spec::Virtual(v.clone()), View::Virtual(v)),
        "/server/add" => {
            let mut keys = Vec::new();
            for k in ["address", "port", "weight"] {
                let val = get(k);
                if !val.is_empty() {
                    keys.push((k.to_string(), val));
                }
            }
            keys.push(("active".into(), if on { "1" } else { "0" }.into()));
            (
                Spec::Ops(vec![Op::AddBlock {
                    block: Section::Server(v.clone(), name),
                    keys,
                }]),
                View::Virtual(v),
            )
        }
        "/server/delete" => (
            Spec::Ops(vec![Op::DeleteBlock {
                block: Section::Server(v.clone(), name),
            }]),
            View::Virtual(v),
        ),
        "/server/activate" => (
            Spec::Ops(vec![Op::SetActive {
                block: Section::Server(v.clone(), name),
                active: on,
            }]),
            View::Virtual(v),
        ),
        "/failover/add" => {
            let keys = new_service_keys(&get("vip"), &get("device"), get("port"));
            (
                Spec::Ops(vec![Op::AddBlock {
                    block: Section::Failover(name),
                    keys,
                }]),
                View::FailoverList,
            )
        }
        "/failover/delete" => (
            Spec::Ops(vec![Op::DeleteBlock {
                block: Section::Failover(name),
            }]),
            View::FailoverList,
        ),
        "/failover/activate" => (
            Spec::Ops(vec![Op::SetActive {
                block: Section::Failover(name),
                active: on,
            }]),
            View::FailoverList,
        ),
        "/failover/edit" => {
            let f = get("failover");
            (Spec::Failover(f.clone()), View::Failover(f))
        }
        "/server/edit" => {
            let s = get("server");
            (Spec::Server(v.clone(), s.clone()), View::Server(v, s))
        }
        _ => return None,
    })
}

async fn control_page(state: &Arc<State>, id: &Identity, query: Option<&str>) -> Response<Body> {
    use crate::monitor;
    let qs = parse_form(query.unwrap_or("").as_bytes());
    let fragment = qs.contains_key("fragment");
    let q = monitor::Query::from_form(&qs);
    let sources = state.sources.clone();
    let snap = tokio::task::spawn_blocking(move || sources.snapshot(&q, "/control")).await;
    let snap = match snap {
        Ok(s) => s,
        Err(e) => {
            return message(
                StatusCode::OK,
                &id.csrf,
                "CONTROL/MONITORING",
                &e.to_string(),
            );
        }
    };
    let events: Vec<BTreeMap<&str, String>> = snap
        .pulse
        .as_ref()
        .map(|p| {
            p.history
                .iter()
                .rev()
                .map(|c| {
                    BTreeMap::from([
                        ("when", lvs_util::timefmt::utc(c.time)),
                        ("from", c.from.clone()),
                        ("to", c.to.clone()),
                        ("reason", c.reason.clone()),
                    ])
                })
                .collect()
        })
        .unwrap_or_default();
    let (pulse, pulse_error) = match snap.pulse {
        Ok(p) => (Some(p), None),
        Err(e) => (None, Some(e)),
    };
    let rates = snap.lvsd_stats.as_ref().map_or_else(Default::default, |s| {
        state
            .samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .rates(s, std::time::Instant::now())
    });
    let lp = snap.lvsd_page.as_ref();
    let nannies = lp
        .map(|p| monitor::nannies(&p.virtuals))
        .unwrap_or_default();
    let real_events: Vec<BTreeMap<&str, String>> = {
        let mut ev = state.events.lock().unwrap_or_else(|e| e.into_inner());
        ev.merge(lp.map_or(&[][..], |p| &p.events))
            .iter()
            .take(monitor::EVENTS)
            .map(|e| {
                BTreeMap::from([
                    ("when", lvs_util::timefmt::utc(e.time)),
                    ("virtual", e.virtual_name.clone()),
                    ("server", e.server.clone()),
                    ("health", e.health.clone()),
                    ("weight", e.weight.clone()),
                ])
            })
            .collect()
    };
    let reals = lp.map(|p| monitor::real_rows(&p.virtuals, snap.lvsd_stats.as_ref(), &rates));
    let counts = lp.map(|p| {
        context! {
            virtuals => p.total, reals => p.reals, up => p.reals_up,
            nannies => p.nannies, more_nannies => p.nannies.saturating_sub(nannies.len()),
        }
    });
    let (lvsd, lvsd_error) = match snap.lvsd {
        Ok(t) => (Some(t), None),
        Err(e) => (None, Some(e)),
    };
    let (ipvs, ipvs_error) = match snap.ipvs {
        Ok(t) => (Some(t), None),
        Err(e) => (None, Some(e)),
    };
    let ipvs_services = ipvs.as_ref().map(|i| i.services.clone());
    let ipvs_total = ipvs.as_ref().map_or(0, |i| i.total);
    let ipvs = ipvs.map(|i| i.raw);
    page(
        StatusCode::OK,
        if fragment {
            "control_body.html"
        } else {
            "control.html"
        },
        context! {
            css => CSS, csrf => &id.csrf, page => "control", pager => snap.pager,
            pulse, pulse_error, lvsd, lvsd_error, ipvs, ipvs_error, ipvs_services, ipvs_total,
            events, reals, nannies, real_events, counts,
        },
    )
}

/// A kept version as the HISTORY page lists it.
#[derive(Debug, serde::Serialize)]
struct VersionRow {
    name: String,
    serial: i32,
    replaced: String,
}

fn utc(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    lvs_util::timefmt::utc(secs)
}

async fn history_page(
    state: &Arc<State>,
    id: &Identity,
    query: Option<&str>,
    status: StatusCode,
    error: Option<String>,
) -> Response<Body> {
    let path = state.configfile.clone();
    let qs = parse_form(query.unwrap_or("").as_bytes());
    let view = qs.get("view").cloned();
    let got = tokio::task::spawn_blocking(move || {
        let current = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let current = String::from_utf8_lossy(&current).into_owned();
        let versions = lvscf::store::list_versions(&path).map_err(|e| e.to_string())?;
        let diff = match &view {
            Some(v) => Some(
                lvscf::store::read_version(&path, v)
                    .map(|old| lvscf::unified_diff(&current, &old, "lvs.cf (now)", v))
                    .map_err(|e| e.to_string())?,
            ),
            None => None,
        };
        Ok::<_, String>((current, versions, diff))
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let (current, versions, diff) = match got {
        Ok(g) => g,
        Err(e) => return message(StatusCode::NOT_FOUND, &id.csrf, "HISTORY", &e),
    };
    let rows: Vec<VersionRow> = versions
        .into_iter()
        .map(|v| VersionRow {
            name: v.name,
            serial: v.serial,
            replaced: utc(v.replaced),
        })
        .collect();
    page(
        status,
        "history.html",
        context! {
            css => CSS, csrf => &id.csrf, page => "history", rows, diff,
            view => qs.get("view"), serial_no => lvscf::store::serial_of(&current).unwrap_or(0),
            message => saved_message(&qs), error,
        },
    )
}

/// Restores a kept version (a save: checked, new serial_no); refused when
/// it would change a command key.
async fn restore(
    state: &Arc<State>,
    id: &Identity,
    form: BTreeMap<String, String>,
) -> Response<Body> {
    let path = state.configfile.clone();
    let name = form.get("name").cloned().unwrap_or_default();
    let expected = form
        .get("serial_no")
        .and_then(|v| v.trim().parse::<i32>().ok());
    if expected.is_none() {
        return message(
            StatusCode::BAD_REQUEST,
            &id.csrf,
            "Not restored",
            "the form has no serial_no",
        );
    }
    let job = SaveJob {
        configfile: path,
        post: "/history/restore".into(),
        form,
        state_dir: state.saver.state_dir.clone(),
        command: state.saver.command.clone(),
        forced: state.saver.forced,
    };
    let r = match tokio::task::spawn_blocking(move || save_in_worker(job)).await {
        Ok((Outcome::Saved(serial), _)) => Ok(serial),
        Ok((Outcome::Failed(e), _)) => Err(e),
        Ok((o, _)) => Err(format!("{o:?}")),
        Err(e) => Err(e.to_string()),
    };
    match r {
        Ok(serial) => {
            tracing::info!(
                "{} restored from {name} from the web tool: serial_no {serial}",
                state.configfile.display()
            );
            redirect(&format!("/history?saved={serial}"))
        }
        Err(e) => {
            history_page(
                state,
                id,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(format!("Not restored: {e}")),
            )
            .await
        }
    }
}

/// Runs `argv` (no shell) for at most `limit`; its standard output.
async fn run_program(argv: &[String], limit: Duration) -> Result<String, String> {
    run_program_env(argv, limit, &[]).await
}

/// [`run_program`] with environment variables.
async fn run_program_env(
    argv: &[String],
    limit: Duration,
    env: &[(&str, &std::ffi::OsStr)],
) -> Result<String, String> {
    let Some(program) = argv.first() else {
        return Err("no command".into());
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(&argv[1..])
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().map_err(|e| format!("{}: {e}", argv[0]))?;
    match tokio::time::timeout(limit, child.wait_with_output()).await {
        Err(_) => Err(format!(
            "{}: no answer within {} s",
            argv[0],
            limit.as_secs()
        )),
        Ok(Err(e)) => Err(format!("{}: {e}", argv[0])),
        Ok(Ok(out)) if out.status.success() => {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        }
        Ok(Ok(out)) => Err(format!(
            "{} failed ({}): {}",
            argv[0],
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// Synchronize to backup: runs the sync command (see [`Syncer`]; as user
/// piranha this process has no key for the backup router), then shows the
/// result it left: the backup router's `serial_no` and whether its copy is
/// the same file.
async fn sync_backup(state: &Arc<State>, id: &Identity) -> Response<Body> {
    let heading = "SYNCHRONIZE TO BACKUP";
    let fail = |e: &str| {
        message(
            StatusCode::UNPROCESSABLE_ENTITY,
            &id.csrf,
            heading,
            &format!("Not copied: {e}"),
        )
    };
    let sync = &state.syncer;
    if sync.command.is_empty() {
        return fail("no sync command");
    }
    match std::fs::remove_file(&sync.result) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return fail(&format!("{}: {e}", sync.result.display())),
    }
    let journal = "details are in `journalctl -u piranha-gui-sync`";
    let ran = run_program_env(
        &sync.command,
        SYNC_LIMIT,
        &[
            ("PIRANHA_GUI_SYNC_RESULT", sync.result.as_os_str()),
            ("PIRANHA_GUI_CONFIGFILE", state.configfile.as_os_str()),
        ],
    )
    .await;
    let result = read_small(&sync.result).map(|t| SyncResult::parse(&t));
    let r = match (ran, result) {
        (_, Some(r)) => r,
        (Err(e), None) => return fail(&format!("{e}; {journal}")),
        (Ok(_), None) => {
            return fail(&format!(
                "{} left no result in {}; {journal}",
                sync.command.join(" "),
                sync.result.display()
            ));
        }
    };
    if !r.ok {
        return fail(r.get("message"));
    }
    tracing::info!(
        "lvs.cf copied to the backup router {} from the web tool",
        r.get("backup")
    );
    let msg = format!(
        "Copied lvs.cf to the backup router {} with {}: its lvs.cf has serial_no {}{}. Reload pulse on the backup to put it in force.",
        r.get("backup"),
        r.get("program"),
        r.get("serial_no"),
        if r.get("same") == "yes" {
            ", the same file as here"
        } else {
            ", NOT the same file as here"
        }
    );
    page(
        StatusCode::OK,
        "message.html",
        context! { css => CSS, csrf => &id.csrf, heading, class => "note", message => msg },
    )
}

/// A small file (at most 64 KiB), if it can be read.
fn read_small(path: &std::path::Path) -> Option<String> {
    use std::io::Read as _;
    let mut s = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(64 << 10)
        .read_to_string(&mut s)
        .ok()?;
    Some(s)
}

/// What Apply runs: `systemctl reload pulse.service` (pulse rereads
/// lvs.cf on SIGHUP). Run directly, no shell; the piranha user may do this
/// one thing through the polkit rule in etc/polkit-1/rules.d/.
pub const RELOAD: [&str; 3] = ["systemctl", "reload", "pulse.service"];

/// Apply: checks lvs.cf as the daemons will, then reloads pulse.
async fn apply(state: &Arc<State>, id: &Identity) -> Response<Body> {
    let path = state.configfile.clone();
    let heavy = heavy(state).await;
    let checked = tokio::task::spawn_blocking(move || {
        let file = path.display().to_string();
        let text = std::fs::read(&path).map_err(|e| format!("{file}: {e}"))?;
        let text = String::from_utf8_lossy(&text).into_owned();
        lvscf::check(&text, &file)
            .map(|_| lvscf::store::serial_of(&text).unwrap_or(0))
            .map_err(|p| {
                p.iter()
                    .filter(|p| p.severity == lvscf::Severity::Error)
                    .map(|p| p.message.clone())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    drop(heavy);
    let serial = match checked {
        Ok(s) => s,
        Err(e) => {
            return message(
                StatusCode::UNPROCESSABLE_ENTITY,
                &id.csrf,
                "APPLY",
                &format!("Not applied: lvs.cf does not pass the daemons' checks:\n{e}"),
            );
        }
    };
    let argv: Vec<String> = RELOAD.iter().map(|s| s.to_string()).collect();
    match run_program(&argv, Duration::from_secs(30)).await {
        Ok(_) => {
            tracing::info!("pulse reloaded from the web tool (lvs.cf serial_no {serial})");
            page(
                StatusCode::OK,
                "message.html",
                context! {
                    css => CSS, csrf => &id.csrf, heading => "APPLY", class => "note",
                    message => format!("pulse reloads lvs.cf (serial_no {serial}); CONTROL/MONITORING shows when it has."),
                },
            )
        }
        Err(e) => message(
            StatusCode::BAD_GATEWAY,
            &id.csrf,
            "APPLY",
            &format!("lvs.cf passes the checks, but pulse was not reloaded: {e}"),
        ),
    }
}

fn password_page(
    status: StatusCode,
    id: &Identity,
    query: Option<&str>,
    error: Option<&str>,
) -> Response<Body> {
    let qs = parse_form(query.unwrap_or("").as_bytes());
    let message = qs
        .contains_key("changed")
        .then_some("The password was changed.");
    page(
        status,
        "password.html",
        context! { css => CSS, csrf => &id.csrf, page => "control", message, error },
    )
}

/// CHANGE PASSWORD: needs the current password (counted as a failed login
/// when wrong); the new one is stored as bcrypt, which ends every session
/// but this browser's, which gets a new one.
async fn password_change(
    state: &Arc<State>,
    id: &Identity,
    ip: IpAddr,
    form: BTreeMap<String, String>,
) -> Response<Body> {
    if state.failures.blocked(ip) {
        return too_many();
    }
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let (current, new, again) = (get("current"), get("new"), get("again"));
    let refuse = |msg: &str| password_page(StatusCode::UNPROCESSABLE_ENTITY, id, None, Some(msg));
    if new.is_empty() {
        return refuse("The new password is empty; nothing changed.");
    }
    if new.len() > 72 {
        return refuse(
            "The new password is longer than 72 bytes (bcrypt's limit); nothing changed.",
        );
    }
    if new != again {
        return refuse("The two new passwords differ; nothing changed.");
    }
    if !check_password(state, passwd::USER, &current).await {
        let n = state.failures.fail(ip);
        log_failure(ip, passwd::USER, "change password", n);
        return password_page(
            StatusCode::FORBIDDEN,
            id,
            None,
            Some("The current password is wrong; nothing changed."),
        );
    }
    let path = state.passwords.path().to_path_buf();
    let stored = tokio::task::spawn_blocking(move || {
        let hash = passwd::hash(&new)?;
        passwd::store(&path, passwd::USER, &hash)
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    if let Err(e) = stored {
        return refuse(&format!("Not changed: {e}"));
    }
    tracing::info!("password of user {} changed from {ip}", passwd::USER);
    let mut r = redirect("/password?changed=1");
    if let Some(old) = &id.session {
        state.sessions.remove(old);
        if let Some(hash) = state.passwords.current_hash() {
            let (sid, _) = state.sessions.create(&hash);
            set_cookie(&mut r, state.tls, SESSION_COOKIE, &sid, "/", None);
        }
    }
    r
}

async fn post(
    req: Request<Incoming>,
    state: &Arc<State>,
    id: Identity,
    ip: IpAddr,
) -> Response<Body> {
    if !same_origin(req.headers()) {
        return text(StatusCode::FORBIDDEN, "Cross-site request refused\n");
    }
    let path = req.uri().path().to_string();
    let form = match read_body(req.into_body()).await {
        Ok(b) => parse_form(&b),
        Err(r) => return r,
    };
    let token = form.get("csrf").map_or("", |s| s.as_str());
    if !same_token(token, &id.csrf) {
        return text(
            StatusCode::FORBIDDEN,
            "Missing or invalid CSRF token: reload the form and submit it again\n",
        );
    }
    let _heavy = match path.as_str() {
        "/logout" | "/password" | "/sync" | "/apply" => None,
        _ => heavy(state).await,
    };
    match path.as_str() {
        "/logout" => {
            if let Some(s) = &id.session {
                state.sessions.remove(s);
            }
            let mut r = redirect("/login");
            set_cookie(&mut r, state.tls, SESSION_COOKIE, "", "/", Some(0));
            r
        }
        "/password" => password_change(state, &id, ip, form).await,
        "/history/restore" => restore(state, &id, form).await,
        "/sync" => sync_backup(state, &id).await,
        "/apply" => apply(state, &id).await,
        p => match change(state, &id, p, form).await {
            Some(r) => r,
            None => text(StatusCode::NOT_FOUND, "Not found\n"),
        },
    }
}

/// Answers one request from `peer`.
pub async fn handle(req: Request<Incoming>, peer: SocketAddr, state: Arc<State>) -> Response<Body> {
    let mut r = route(req, peer, state).await;
    set_common_headers(r.headers_mut());
    r
}

async fn route(req: Request<Incoming>, peer: SocketAddr, state: Arc<State>) -> Response<Body> {
    let ip = match peer.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    if !state.access.allows(ip) {
        return text(StatusCode::FORBIDDEN, "Forbidden\n");
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_MAX as u64) {
        return text(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large\n");
    }
    if req.uri().path() == "/login" {
        return login(req, ip, state).await;
    }
    let id = match authenticate(&req, ip, &state).await {
        Authn::Ok(id) => id,
        Authn::Refused(r) => return r,
    };
    match *req.method() {
        Method::GET | Method::HEAD => {
            let _heavy = match req.uri().path() {
                "/" | "/static/monitor.js" | "/password" => None,
                _ => heavy(&state).await,
            };
            get(&req, &state, &id).await
        }
        Method::POST => post(req, &state, id, ip).await,
        _ => method_not_allowed(),
    }
}

/// The heavy-work slot ([`State::heavy`]); when it is given back, the
/// allocator returns the free memory the work left inside its heap to the
/// system (`malloc_trim`), so that what a large page or save freed does
/// not stay resident.
struct Heavy {
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for Heavy {
    fn drop(&mut self) {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only gives free pages back to the system
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

/// Waits for the heavy-work slot.
async fn heavy(state: &Arc<State>) -> Option<Heavy> {
    state
        .heavy
        .clone()
        .acquire_owned()
        .await
        .ok()
        .map(|p| Heavy { _permit: p })
}

async fn get(req: &Request<Incoming>, state: &Arc<State>, id: &Identity) -> Response<Body> {
    match req.uri().path() {
        "/" => redirect("/control"),
        "/control" => control_page(state, id, req.uri().query()).await,
        "/static/monitor.js" => {
            let mut r = text(StatusCode::OK, pages::MONITOR_JS);
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            );
            r
        }
        "/password" => password_page(StatusCode::OK, id, req.uri().query(), None),
        "/charts" => charts_page(state, id, req.uri().query()).await,
        "/history" => history_page(state, id, req.uri().query(), StatusCode::OK, None).await,
        "/global" => settings_page(state, id, "global", req.uri().query()).await,
        "/redundancy" => settings_page(state, id, "redundancy", req.uri().query()).await,
        "/virtual" => virtuals_page(state, id, req.uri().query()).await,
        p @ ("/virtual/edit" | "/server/edit" | "/failover" | "/failover/edit") => {
            edit_page(state, id, p, req.uri().query()).await
        }
        _ => text(StatusCode::NOT_FOUND, "Not found\n"),
    }
}

/// Samples lvsd's counters for the charts every [`crate::charts::INTERVAL`],
/// parsing the answer as it arrives. With `PIRANHA_GUI_SAMPLE_MS` (tests,
/// the benchmark) the first hour's samples ([`crate::charts::KEEP`] + 1)
/// come that often instead, each dated one [`crate::charts::INTERVAL`]
/// after the previous one (an hour of history in seconds); then every
/// [`crate::charts::INTERVAL`], dated likewise.
async fn sample_forever(state: Arc<State>) {
    use crate::charts::INTERVAL;
    let fast = std::env::var("PIRANHA_GUI_SAMPLE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis);
    let mut tick = tokio::time::interval(fast.unwrap_or(INTERVAL));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let start = lvs_util::timefmt::wall_now();
    let mut n = 0u32;
    loop {
        tick.tick().await;
        let t = match fast {
            Some(_) => start + INTERVAL.as_secs_f64() * n as f64,
            None => lvs_util::timefmt::wall_now(),
        };
        n = n.wrapping_add(1);
        if fast.is_some() && n as usize == crate::charts::KEEP + 1 {
            tick = tokio::time::interval_at(tokio::time::Instant::now() + INTERVAL, INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        }
        let _heavy = heavy(&state).await;
        let st = state.clone();
        let r = tokio::task::spawn_blocking(move || {
            let a =
                crate::monitor::ask(&st.sources.lvsd_socket, "stats").map_err(|e| e.to_string())?;
            let mut h = st.history.lock().unwrap_or_else(|e| e.into_inner());
            h.begin(t);
            let r = crate::monitor::for_each_in(
                a,
                "services",
                |s: piranha_status::lvsd::ServiceStats| {
                    if let Some(v) = &s.virtual_name {
                        h.service(
                            v,
                            &s.stats,
                            s.dests
                                .iter()
                                .map(|d| (format!("{}:{}", d.address, d.port), &d.stats)),
                        );
                    }
                },
            );
            // an answer cut short: the series it did not reach are kept
            h.end(r.is_ok());
            r
        })
        .await;
        if let Ok(Err(e)) = r {
            tracing::debug!("chart sample: {e}");
        }
    }
}

/// One chart row: a name and its three charts.
#[derive(Debug, serde::Serialize)]
struct ChartRow {
    name: String,
    link: Option<String>,
    conns: String,
    inbytes: String,
    outbytes: String,
    points: usize,
}

/// CHARTS: the virtual services (a page of them, filtered as on
/// CONTROL/MONITORING), or the real servers of one (`?virtual=NAME`).
async fn charts_page(state: &Arc<State>, id: &Identity, query: Option<&str>) -> Response<Body> {
    use crate::charts::{DEST_RES, INTERVAL, svg};
    let cfg = match load_config(state).await {
        Ok(c) => c,
        Err(e) => return message(StatusCode::OK, &id.csrf, "lvs.cf cannot be read", &e),
    };
    let qs = parse_form(query.unwrap_or("").as_bytes());
    let virt = qs.get("virtual").cloned();
    let mq = crate::monitor::Query::from_form(&qs);
    let h = state.history.lock().unwrap_or_else(|e| e.into_inner());
    // the end of the hour: now, or the newest sample when it is later
    let now = h.latest().map_or(lvs_util::timefmt::wall_now(), |l| {
        l.max(lvs_util::timefmt::wall_now())
    });
    let row = |name: String, p: crate::charts::Points, link: Option<String>, gap: f64| ChartRow {
        name,
        link,
        conns: svg(&p.t, &p.conns, now, gap, "conn/s"),
        inbytes: svg(&p.t, &p.inbytes, now, gap, "B/s"),
        outbytes: svg(&p.t, &p.outbytes, now, gap, "B/s"),
        points: p.len(),
    };
    let mut pager = None;
    let rows: Vec<ChartRow> = match &virt {
        None => {
            let mut matched = 0;
            let mut rows = Vec::new();
            let mut total = 0;
            for v in cfg.virtuals.iter().filter(|v| v.active) {
                total += 1;
                let vip = v.address.as_ref().map(|a| a.host.addr.to_string());
                if !mq.matches([v.name.as_str()].into_iter().chain(vip.as_deref())) {
                    continue;
                }
                if mq.on_page(matched) {
                    rows.push(row(
                        v.name.clone(),
                        h.service_points(&v.name),
                        Some(format!("/charts?virtual={}", q(&v.name))),
                        INTERVAL.as_secs_f64() * 1.5,
                    ));
                }
                matched += 1;
            }
            pager = Some(mq.pager("/charts", matched, total));
            rows
        }
        Some(name) => match find_virtual(&cfg, name) {
            Some(v) => v
                .servers
                .iter()
                .map(|r| {
                    // as lvsd's status names it: [IPV6]:PORT
                    let addr = match r.address.addr {
                        std::net::IpAddr::V4(a) => format!("{a}:{}", r.port),
                        std::net::IpAddr::V6(a) => format!("[{a}]:{}", r.port),
                    };
                    let p = h.dest_points(name, &addr);
                    row(
                        format!("{} ({addr})", r.name),
                        p,
                        None,
                        DEST_RES.as_secs_f64() * 1.5,
                    )
                })
                .collect(),
            None => Vec::new(),
        },
    };
    drop(h);
    drop(cfg);
    page(
        StatusCode::OK,
        "charts.html",
        context! { css => CSS, csrf => &id.csrf, page => "control", rows, virtual => virt, pager },
    )
}

/// Serves HTTP/1.1 on `io` until the client leaves or breaks a limit.
async fn serve_connection<T>(io: T, peer: SocketAddr, state: Arc<State>)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(StallLimit::new(io, STALL_TIMEOUT));
    let svc = hyper::service::service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(handle(req, peer, state).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(16 << 10)
        .max_headers(64)
        .serve_connection(io, svc)
        .await;
}

/// Accepts connections on `listener` for ever.
pub async fn run(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<State>,
) -> std::io::Result<()> {
    tokio::spawn(sample_forever(state.clone()));
    let conns = Arc::new(Semaphore::new(CONNECTIONS));
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::info!("accept: {e}");
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
                None => serve_connection(tcp, peer, state).await,
                Some(acceptor) => {
                    if let Ok(Ok(s)) =
                        tokio::time::timeout(HEAD_TIMEOUT, acceptor.accept(tcp)).await
                    {
                        serve_connection(s, peer, state).await;
                    }
                }
            }
        });
    }
}

/// The keys of a new virtual or failover block from its ADD form: added
/// inactive, with `address = VIP DEVICE` and `port` when given.
fn new_service_keys(vip: &str, dev: &str, port: String) -> Vec<(String, String)> {
    let mut keys = vec![("active".to_string(), "0".to_string())];
    if !vip.is_empty() || !dev.is_empty() {
        keys.push(("address".into(), format!("{vip} {dev}").trim().to_string()));
    }
    if !port.is_empty() {
        keys.push(("port".into(), port));
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_forms_and_redirects() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; piranha_session=abc"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "b"), None);
        let f = parse_form(b"csrf=x%20y&next=%2Fglobal&csrf=z");
        assert_eq!(f["csrf"], "z");
        assert_eq!(f["next"], "/global");
        assert_eq!(safe_next("/global"), "/global");
        assert_eq!(safe_next("//evil.example/"), "/control");
        assert_eq!(safe_next("https://evil.example/"), "/control");
        assert_eq!(safe_next("/\\evil"), "/control");
        assert_eq!(safe_next("/\t/evil.example"), "/control");
        assert_eq!(safe_next("/ /evil.example"), "/control");
    }

    #[test]
    fn sync_results_are_read_line_by_line() {
        let r = SyncResult::parse(
            "status=ok\nbackup=10.0.0.2\nprogram=scp\nserial_no=7\nsame=yes\nmessage=copied a=b\njunk\n",
        );
        assert!(r.ok);
        assert_eq!(r.get("serial_no"), "7");
        assert_eq!(r.get("message"), "copied a=b");
        assert_eq!(r.get("nothing"), "");
        assert!(!SyncResult::parse("status=failed\nmessage=x\n").ok);
        assert!(!SyncResult::parse("").ok);
        assert_eq!(
            Syncer::default().command,
            ["systemctl", "start", "piranha-gui-sync.service"]
        );
    }

    #[test]
    fn origin_check() {
        let mut h = HeaderMap::new();
        assert!(same_origin(&h));
        h.insert(header::HOST, HeaderValue::from_static("10.0.0.1:3636"));
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://10.0.0.1:3636"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h));
    }
}
