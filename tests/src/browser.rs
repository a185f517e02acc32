//! A real browser for tests: headless Chromium driven over WebDriver.
//!
//! [`Browser::start`] finds Debian's `chromedriver` (package `chromium-driver`)
//! and `chromium`, starts chromedriver on a free loopback port and opens a
//! headless session. When either is missing the test is skipped through
//! [`crate::skip`] (a failure under `CI=true`); `.ci/install-deps` installs
//! both. A browser that is installed but does not start is a test failure.
//!
//! The API is blocking (the browser keeps a tokio runtime of its own), so a
//! test is a plain `#[test]` function; do not call it from inside another
//! tokio runtime. Every helper panics with the current URL and what the page
//! shows when it cannot do what it was asked, so a failing step says why.
//! For anything the helpers lack, [`Browser::client`] is the fantoccini
//! client and [`Browser::block_on`] runs its futures:
//!
//! ```no_run
//! let Some(b) = lvs_tests::browser::Browser::start("my_test") else { return };
//! b.goto("http://127.0.0.1:3636/");
//! b.login("piranha", "secret");
//! assert_eq!(b.follow("VIRTUAL SERVERS"), Some(200));
//! b.fill("port", "80");
//! assert_eq!(b.submit("ACCEPT"), Some(200));
//! b.wait_for_text("saved");
//! b.assert_no_console_errors();
//! b.screenshot_full("virtual-servers");
//! let title = b.block_on(b.client().title()).unwrap();
//! ```
//!
//! Navigating: [`Browser::goto`] loads a URL; [`Browser::submit`] and
//! [`Browser::follow`] click a button or link and wait for the page that
//! answers (after a plain [`Browser::click_button`] the old page may still
//! be shown for a moment), returning its HTTP status ([`Browser::status`]).
//! A server that sends `Referrer-Policy: no-referrer` gets `Origin: null`
//! with Chromium's form POSTs; a same-origin check must allow for that (or
//! the server should send `same-origin`).
//!
//! Logging in: [`Browser::login`] fills a login form (its password field,
//! and a user field if there is one) and submits it. For HTTP Basic
//! authentication, `http://user:pass@host/` URLs do not work in current
//! Chromium; [`Browser::set_basic_auth`] instead sends an `Authorization:
//! Basic` header with every request of the page from then on (CDP's
//! `Network.setExtraHTTPHeaders` through chromedriver's `goog/cdp/execute`).
//!
//! Screenshots go to `target/screenshots/TEST-NAME.png` (or
//! `$LVS_SCREENSHOT_DIR`): [`Browser::screenshot`] of the window,
//! [`Browser::screenshot_full`] of the whole page; [`Browser::screenshot_to`]
//! takes any path.
//!
//! The page's console: [`Browser::console_messages`], and
//! [`Browser::assert_no_console_errors`] for failed scripts, resources that
//! did not load and what a Content Security Policy refused.
//!
//! `$LVS_CHROMEDRIVER` and `$LVS_CHROMIUM` name other programs to use.
//!
//! Only loopback: chromedriver listens on 127.0.0.1 and ::1 and accepts
//! local clients only, and talks to Chromium over a pipe (no debugging
//! port); Chromium runs with its background networking (updates, sync,
//! metrics) off and resolves no host name but `localhost` (addresses in
//! 127.0.0.0/8 and ::1 work as they are), so a test page reaches nothing
//! but this machine.
//!
//! Clean-up: dropping the [`Browser`] (also while a failing test unwinds)
//! ends the session, then kills chromedriver's process group, which holds
//! Chromium and its helpers, and any process still using the session's
//! profile directory; nothing is left running. A test process that dies
//! without unwinding takes chromedriver with it (parent-death signal), and
//! Chromium ends when its pipe closes.

use std::io::Read as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// Where Debian puts chromedriver (package `chromium-driver`).
const CHROMEDRIVER: &[&str] = &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"];
/// Chromium itself (package `chromium`); the first is the real binary, the
/// second Debian's shell launcher for it.
const CHROMIUM: &[&str] = &["/usr/lib/chromium/chromium", "/usr/bin/chromium"];

/// How long [`Browser::start`] waits for chromedriver and the session.
const START_PATIENCE: Duration = Duration::from_secs(30);

/// Headless Chromium over WebDriver; see the [module documentation](self).
pub struct Browser {
    test: String,
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Option<Child>,
    /// Chromium's `--user-data-dir` and chromedriver's log.
    dir: Option<tempfile::TempDir>,
    timeout: Duration,
}

/// The program named by `$env` when set, else the first of `candidates`
/// that exists; `None` when there is none (or `$env` names nothing).
fn find_program(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p)).filter(|p| p.exists());
    }
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// The `target` directory the running test binary was built in.
fn target_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(d);
    }
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test-binary> -> target
    exe.ancestors()
        .find(|d| d.file_name().is_some_and(|n| n == "deps"))
        .and_then(|deps| deps.parent())
        .and_then(|profile| profile.parent())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// Where screenshots go: `$LVS_SCREENSHOT_DIR`, else `target/screenshots`.
pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("LVS_SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("screenshots"))
}

/// `name` made safe as a file name.
fn file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// An XPath string literal for `s` (XPath 1.0 has no escapes: quotes are
/// spliced in with `concat`).
pub fn xpath_literal(s: &str) -> String {
    if !s.contains('"') {
        format!("\"{s}\"")
    } else if !s.contains('\'') {
        format!("'{s}'")
    } else {
        let parts: Vec<String> = s.split('"').map(|p| format!("\"{p}\"")).collect();
        format!("concat({})", parts.join(", '\"', "))
    }
}

/// Standard base64 of `bytes` (for the Basic authentication header).
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A POST to a chromedriver extension of the session,
/// `/session/ID/PATH` (`goog/cdp/execute`, `se/log`).
#[derive(Debug)]
struct SessionPost {
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for SessionPost {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/{}",
            session.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

/// Kills every process of process group `pgid`.
fn kill_group(pgid: i32) {
    // SAFETY: kill has no memory-safety preconditions; a negative pid names
    // the process group chromedriver leads (its pid), which we created.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
}

/// Pids of processes whose command line mentions `needle` (Chromium's
/// processes carry the profile directory, unique to one [`Browser`]).
fn pids_using(needle: &str) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id() as i32;
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session for test `test`
    /// (the name also names its screenshots). `None`, after recording a skip
    /// (a failure under CI), when chromedriver or Chromium is not installed.
    /// Panics when they are installed but do not start.
    pub fn start(test: &str) -> Option<Browser> {
        let Some(driver) = find_program("LVS_CHROMEDRIVER", CHROMEDRIVER) else {
            crate::skip(
                test,
                "needs chromedriver (Debian package chromium-driver, see .ci/install-deps; \
                 or $LVS_CHROMEDRIVER)",
            );
            return None;
        };
        let Some(chromium) = find_program("LVS_CHROMIUM", CHROMIUM) else {
            crate::skip(
                test,
                "needs Chromium (Debian package chromium, see .ci/install-deps; or $LVS_CHROMIUM)",
            );
            return None;
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let dir = tempfile::Builder::new()
            .prefix("lvs-browser-")
            .tempdir()
            .expect("temporary directory for the browser profile");
        let mut b = Browser {
            test: test.to_string(),
            rt,
            client: None,
            driver: None,
            dir: Some(dir),
            timeout: Duration::from_secs(10),
        };
        // The port was free a moment ago; another process may take it
        // before chromedriver binds it: try again with a new one.
        let mut last = String::new();
        for _ in 0..3 {
            match b.launch(&driver, &chromium) {
                Ok(()) => return Some(b),
                Err(e) => {
                    last = e;
                    b.shutdown();
                }
            }
        }
        panic!("{test}: the browser did not start: {last}");
    }

    /// One try at starting chromedriver and the session.
    fn launch(&mut self, driver: &Path, chromium: &Path) -> Result<(), String> {
        let dir = self.dir.as_ref().expect("profile directory").path();
        let log = dir.join("chromedriver.log");
        let profile = dir.join("profile");
        let port = free_port();
        let mut cmd = Command::new(driver);
        cmd.arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // its own process group, which Chromium joins: killed as one
            .process_group(0);
        // SAFETY: prctl is async-signal-safe; the closure allocates nothing.
        unsafe {
            cmd.pre_exec(|| {
                // chromedriver dies with the test process
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("{}: {e}", driver.display()))?;
        self.driver = Some(child);
        let log_tail = || {
            let s = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = s.lines().collect();
            lines[lines.len().saturating_sub(20)..].join("\n")
        };

        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let end = Instant::now() + START_PATIENCE;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if let Some(st) = self
                .driver
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(format!("chromedriver exited ({st}):\n{}", log_tail()));
            }
            if Instant::now() > end {
                return Err(format!(
                    "chromedriver not listening on {addr} after {START_PATIENCE:?}:\n{}",
                    log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }

        let args = [
            "--headless=new".to_string(),
            // chromedriver talks to Chromium over a pipe, not a port: no
            // listening socket, and Chromium ends when chromedriver does
            "--remote-debugging-pipe".into(),
            // root has no sandbox; /dev/shm may be small in containers
            "--no-sandbox".into(),
            "--disable-dev-shm-usage".into(),
            "--window-size=1280,1024".into(),
            format!("--user-data-dir={}", profile.display()),
            // nothing but the pages the test opens: no updates, sync,
            // metrics, and no host name resolves but localhost
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-extensions".into(),
            "--disable-default-apps".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--metrics-recording-only".into(),
            "--no-proxy-server".into(),
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.*, EXCLUDE ::1, EXCLUDE [::1]".into(),
            "--disable-gpu".into(),
            "--hide-scrollbars".into(),
            "--lang=en-US".into(),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": chromium, "args": args }),
        );
        caps.insert("pageLoadStrategy".into(), json!("normal"));
        // the page's console, for console_messages()
        caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        // a page or script that never finishes is an error, not a hang
        caps.insert(
            "timeouts".into(),
            json!({ "pageLoad": 30_000, "script": 30_000, "implicit": 0 }),
        );
        let url = format!("http://{addr}/");
        let connect = async {
            let mut builder =
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
            builder.capabilities(caps);
            tokio::time::timeout(START_PATIENCE, builder.connect(&url)).await
        };
        let client = match self.rt.block_on(connect) {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(format!("new session: {e}\n{}", log_tail())),
            Err(_) => {
                return Err(format!(
                    "no session within {START_PATIENCE:?}\n{}",
                    log_tail()
                ));
            }
        };
        self.client = Some(client);
        Ok(())
    }

    /// Ends the session and every process of this browser; idempotent.
    fn shutdown(&mut self) {
        if let Some(client) = self.client.take() {
            // chromedriver quits Chromium and removes nothing of ours
            let _ = self.rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(5), client.close()).await
            });
        }
        if let Some(mut child) = self.driver.take() {
            kill_group(child.id() as i32);
            let _ = crate::child::kill(&mut child, Duration::from_secs(5));
        }
        // Chromium processes that left the group (none are known to):
        // found by the profile directory, which is ours alone.
        if let Some(dir) = &self.dir {
            let needle = dir.path().display().to_string();
            let end = Instant::now() + Duration::from_secs(5);
            loop {
                let pids = pids_using(&needle);
                if pids.is_empty() || Instant::now() > end {
                    break;
                }
                for pid in pids {
                    // SAFETY: kill has no memory-safety preconditions; the
                    // pid runs with our private profile directory.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// The fantoccini client, for what the helpers here lack; run its
    /// futures with [`Browser::block_on`].
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("browser session")
    }

    /// Runs `fut` (a fantoccini call) on the browser's runtime.
    pub fn block_on<F: std::future::Future>(&self, fut: F) -> F::Output {
        self.rt.block_on(fut)
    }

    /// The processes of this browser now: chromedriver and every Chromium
    /// process (for tests that check that nothing outlives the browser).
    pub fn pids(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = self.driver.iter().map(|c| c.id() as i32).collect();
        if let Some(dir) = &self.dir {
            pids.extend(pids_using(&dir.path().display().to_string()));
        }
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// The test name given to [`Browser::start`].
    pub fn test_name(&self) -> &str {
        &self.test
    }

    /// How long the `wait_*` helpers and element look-ups wait (10 s unless set).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Panics with `what` failed, the error, and where the browser is.
    #[track_caller]
    fn fail(&self, what: &str, err: &dyn std::fmt::Display) -> ! {
        let url = self.rt.block_on(self.client().current_url());
        let url = url
            .map(|u| u.to_string())
            .unwrap_or_else(|e| format!("({e})"));
        let text = self.try_page_text().unwrap_or_default();
        let text: String = text.chars().take(2000).collect();
        panic!(
            "{}: {what}: {err}\n  at {url}\n  page text:\n{text}",
            self.test
        );
    }

    fn try_page_text(&self) -> Option<String> {
        let v = self
            .rt
            .block_on(self.client().execute(
                "return document.body ? document.body.innerText : '';",
                vec![],
            ))
            .ok()?;
        v.as_str().map(str::to_string)
    }

    /// Opens `url`; waits for the page to load.
    #[track_caller]
    pub fn goto(&self, url: &str) {
        if let Err(e) = self.rt.block_on(self.client().goto(url)) {
            self.fail(&format!("go to {url}"), &e);
        }
    }

    /// The URL the browser shows now.
    #[track_caller]
    pub fn url(&self) -> String {
        match self.rt.block_on(self.client().current_url()) {
            Ok(u) => u.to_string(),
            Err(e) => self.fail("current URL", &e),
        }
    }

    /// The HTTP status of the page shown (the last navigation's response,
    /// after redirects); `None` for a page not loaded over HTTP.
    #[track_caller]
    pub fn status(&self) -> Option<u16> {
        let v = self.execute(
            "const n = performance.getEntriesByType('navigation')[0]; \
             return n && n.responseStatus ? n.responseStatus : null;",
            vec![],
        );
        v.as_u64().and_then(|s| u16::try_from(s).ok())
    }

    /// The page's HTML as the browser has it now.
    #[track_caller]
    pub fn source(&self) -> String {
        match self.rt.block_on(self.client().source()) {
            Ok(s) => s,
            Err(e) => self.fail("page source", &e),
        }
    }

    /// The text a person sees on the page (`document.body.innerText`).
    #[track_caller]
    pub fn page_text(&self) -> String {
        match self.try_page_text() {
            Some(t) => t,
            None => self.fail("page text", &"no document body"),
        }
    }

    /// Runs JavaScript `script` in the page (`arguments[i]` are `args`) and
    /// returns what it returns.
    #[track_caller]
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        match self.rt.block_on(self.client().execute(script, args)) {
            Ok(v) => v,
            Err(e) => self.fail("execute script", &e),
        }
    }

    /// The first element `locator` finds, waiting up to the timeout for it.
    #[track_caller]
    fn find(&self, locator: Locator<'_>, what: &str) -> Element {
        let wait = self
            .client()
            .wait()
            .at_most(self.timeout)
            .every(Duration::from_millis(50))
            .for_element(locator);
        match self.rt.block_on(wait) {
            Ok(e) => e,
            Err(e) => self.fail(&format!("find {what} within {:?}", self.timeout), &e),
        }
    }

    /// Whether an element matches CSS `selector` now (no waiting).
    #[track_caller]
    pub fn has(&self, selector: &str) -> bool {
        match self
            .rt
            .block_on(self.client().find_all(Locator::Css(selector)))
        {
            Ok(v) => !v.is_empty(),
            Err(e) => self.fail(&format!("look for {selector}"), &e),
        }
    }

    /// Waits until an element matches CSS `selector`.
    #[track_caller]
    pub fn wait_for(&self, selector: &str) {
        self.find(Locator::Css(selector), selector);
    }

    /// Waits until the page text contains `text`.
    #[track_caller]
    pub fn wait_for_text(&self, text: &str) {
        let end = Instant::now() + self.timeout;
        loop {
            if self.try_page_text().is_some_and(|t| t.contains(text)) {
                return;
            }
            if Instant::now() > end {
                self.fail(
                    &format!("wait for text {text:?}"),
                    &format!("not shown within {:?}", self.timeout),
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the current URL contains `part`.
    #[track_caller]
    pub fn wait_for_url(&self, part: &str) {
        let end = Instant::now() + self.timeout;
        loop {
            let now = self.rt.block_on(self.client().current_url());
            if now.is_ok_and(|u| u.as_str().contains(part)) {
                return;
            }
            if Instant::now() > end {
                self.fail(
                    &format!("wait for a URL with {part:?}"),
                    &format!("not reached within {:?}", self.timeout),
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The visible text of the first element matching CSS `selector`
    /// (waiting for it).
    #[track_caller]
    pub fn text(&self, selector: &str) -> String {
        let el = self.find(Locator::Css(selector), selector);
        match self.rt.block_on(el.text()) {
            Ok(t) => t,
            Err(e) => self.fail(&format!("text of {selector}"), &e),
        }
    }

    /// The current value of form field `name` (the first element with
    /// that `name` attribute).
    #[track_caller]
    pub fn value(&self, name: &str) -> String {
        let sel = format!("[name={}]", css_string(name));
        let el = self.find(Locator::Css(&sel), &sel);
        match self.rt.block_on(el.prop("value")) {
            Ok(v) => v.unwrap_or_default(),
            Err(e) => self.fail(&format!("value of {sel}"), &e),
        }
    }

    /// Sets form field `name` to `value`: a text field or text area is
    /// cleared and typed into; a `<select>` gets the option whose value (or
    /// else visible text) is `value`.
    #[track_caller]
    pub fn fill(&self, name: &str, value: &str) {
        let sel = format!("[name={}]", css_string(name));
        let el = self.find(Locator::Css(&sel), &sel);
        let tag = self.rt.block_on(el.tag_name()).unwrap_or_default();
        let r = self.rt.block_on(async {
            if tag.eq_ignore_ascii_case("select") {
                match el.select_by_value(value).await {
                    Ok(()) => Ok(()),
                    Err(_) => el.select_by_label(value).await,
                }
            } else {
                el.clear().await?;
                el.send_keys(value).await
            }
        });
        if let Err(e) = r {
            self.fail(&format!("fill {sel} with {value:?}"), &e);
        }
    }

    /// Ticks (`true`) or clears the checkbox named `name`.
    #[track_caller]
    pub fn set_checked(&self, name: &str, checked: bool) {
        let sel = format!("input[name={}]", css_string(name));
        let el = self.find(Locator::Css(&sel), &sel);
        let r = self.rt.block_on(async {
            if el.is_selected().await? != checked {
                el.click().await?;
            }
            Ok::<(), fantoccini::error::CmdError>(())
        });
        if let Err(e) = r {
            self.fail(&format!("set {sel} to {checked}"), &e);
        }
    }

    /// Clicks the first element matching CSS `selector`.
    #[track_caller]
    pub fn click(&self, selector: &str) {
        let el = self.find(Locator::Css(selector), selector);
        if let Err(e) = self.rt.block_on(el.click()) {
            self.fail(&format!("click {selector}"), &e);
        }
    }

    /// Clicks the button whose text (a `<button>`) or value (an `<input
    /// type=submit|button|reset>`) is `text`, ignoring surrounding space.
    #[track_caller]
    pub fn click_button(&self, text: &str) {
        let t = xpath_literal(text);
        let xpath = format!(
            "//button[normalize-space(.)={t}] | \
             //input[(@type='submit' or @type='button' or @type='reset') and normalize-space(@value)={t}]"
        );
        let el = self.find(Locator::XPath(&xpath), &format!("button {text:?}"));
        if let Err(e) = self.rt.block_on(el.click()) {
            self.fail(&format!("click button {text:?}"), &e);
        }
    }

    /// Clicks the link whose text is `text`, ignoring surrounding space.
    #[track_caller]
    pub fn click_link(&self, text: &str) {
        let xpath = format!("//a[normalize-space(.)={}]", xpath_literal(text));
        let el = self.find(Locator::XPath(&xpath), &format!("link {text:?}"));
        if let Err(e) = self.rt.block_on(el.click()) {
            self.fail(&format!("click link {text:?}"), &e);
        }
    }

    /// Logs in through the login form on the current page: fills its
    /// password field and, when the form has one, its user field (`user`,
    /// `username`, `login` or the form's first text field) with `user`,
    /// then submits the form with its submit button (or Enter) and waits
    /// for the answer: a page with an HTTP error status, or a login form
    /// again, fails. Go to the login page (or any page
    /// that shows the form) first.
    #[track_caller]
    pub fn login(&self, user: &str, password: &str) {
        let pw = self.find(Locator::Css("input[type=password]"), "a password field");
        self.mark_page();
        let r = self.rt.block_on(async {
            let form = pw.find(Locator::XPath("./ancestor::form")).await.ok();
            if let Some(form) = &form {
                let fields = form
                    .find_all(Locator::Css(
                        "input[name=user], input[name=username], input[name=login], \
                         input[type=text], input[type=email], input:not([type])",
                    ))
                    .await?;
                if let Some(u) = fields.first() {
                    u.clear().await?;
                    u.send_keys(user).await?;
                }
            }
            pw.clear().await?;
            pw.send_keys(password).await?;
            let submit = match &form {
                Some(f) => f
                    .find_all(Locator::Css(
                        "button:not([type]), button[type=submit], input[type=submit]",
                    ))
                    .await?
                    .into_iter()
                    .next(),
                None => None,
            };
            match submit {
                Some(s) => s.click().await,
                // WebDriver's Enter key
                None => pw.send_keys("\u{E007}").await,
            }
        });
        if let Err(e) = r {
            self.fail("log in", &e);
        }
        self.wait_for_new_page("log in");
        if let Some(status) = self.status().filter(|&s| s >= 400) {
            self.fail("log in", &format!("the answer was HTTP {status}"));
        }
        let form_again = self
            .rt
            .block_on(self.client().find_all(Locator::Css("input[type=password]")))
            .map_or(true, |v| !v.is_empty());
        if form_again {
            self.fail("log in", &"the answer is a login form again");
        }
    }

    /// Marks the document shown now, for [`Browser::wait_for_new_page`].
    #[track_caller]
    fn mark_page(&self) {
        self.execute("window.__lvsOldPage = true;", vec![]);
    }

    /// Waits until the browser shows a document other than the one
    /// [`Browser::mark_page`] marked, loaded completely.
    #[track_caller]
    fn wait_for_new_page(&self, what: &str) {
        let end = Instant::now() + self.timeout;
        loop {
            // errors while the next page loads count as "not yet"
            let new = self
                .rt
                .block_on(self.client().execute(
                    "return document.readyState === 'complete' \
                     && window.__lvsOldPage === undefined;",
                    vec![],
                ))
                .is_ok_and(|v| v == json!(true));
            if new {
                return;
            }
            if Instant::now() > end {
                self.fail(what, &format!("no new page within {:?}", self.timeout));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Clicks the button `text` (as [`Browser::click_button`]) and waits
    /// for the page that answers the form; returns its HTTP status. (After
    /// a plain click the old page may still be shown for a moment.)
    #[track_caller]
    pub fn submit(&self, text: &str) -> Option<u16> {
        self.mark_page();
        self.click_button(text);
        self.wait_for_new_page(&format!("submit with {text:?}"));
        self.status()
    }

    /// Clicks the link `text` (as [`Browser::click_link`]) and waits for
    /// the page it leads to; returns its HTTP status.
    #[track_caller]
    pub fn follow(&self, text: &str) -> Option<u16> {
        self.mark_page();
        self.click_link(text);
        self.wait_for_new_page(&format!("follow link {text:?}"));
        self.status()
    }

    /// Sends a Chrome DevTools Protocol command to the page (through
    /// chromedriver's `goog/cdp/execute`) and returns its result.
    #[track_caller]
    pub fn cdp(&self, cmd: &'static str, params: Value) -> Value {
        let post = SessionPost {
            path: "goog/cdp/execute",
            body: json!({ "cmd": cmd, "params": params }),
        };
        match self.rt.block_on(self.client().issue_cmd(post)) {
            Ok(v) => v,
            Err(e) => self.fail(&format!("CDP {cmd}"), &e),
        }
    }

    /// HTTP Basic authentication: from now on every request of this page
    /// carries `Authorization: Basic base64(user:password)`, to every
    /// host. (Chromium ignores `user:pass@` in URLs.)
    #[track_caller]
    pub fn set_basic_auth(&self, user: &str, password: &str) {
        let token = base64(format!("{user}:{password}").as_bytes());
        self.set_extra_headers(json!({ "Authorization": format!("Basic {token}") }));
    }

    /// Headers sent with every request of this page from now on
    /// (`{"Name": "value", ...}`; `{}` removes them).
    #[track_caller]
    pub fn set_extra_headers(&self, headers: Value) {
        self.cdp("Network.enable", json!({}));
        self.cdp("Network.setExtraHTTPHeaders", json!({ "headers": headers }));
    }

    /// A PNG screenshot of the page (the 1280x1024 window).
    #[track_caller]
    pub fn screenshot_png(&self) -> Vec<u8> {
        match self.rt.block_on(self.client().screenshot()) {
            Ok(png) => png,
            Err(e) => self.fail("screenshot", &e),
        }
    }

    /// Saves a screenshot as `TEST-NAME.png` in [`screenshot_dir`]
    /// (`target/screenshots/`); returns its path.
    #[track_caller]
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let path = self.screenshot_path(name);
        self.screenshot_to(&path);
        path
    }

    /// Saves a screenshot (of the window) at `path`, creating its directory.
    #[track_caller]
    pub fn screenshot_to(&self, path: &Path) {
        let png = self.screenshot_png();
        self.save(path, &png);
    }

    /// `screenshot_dir()/TEST-NAME.png`.
    fn screenshot_path(&self, name: &str) -> PathBuf {
        screenshot_dir().join(format!("{}-{}.png", file_name(&self.test), file_name(name)))
    }

    #[track_caller]
    fn save(&self, path: &Path, png: &[u8]) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .unwrap_or_else(|e| panic!("{}: {}: {e}", self.test, dir.display()));
        }
        std::fs::write(path, png)
            .unwrap_or_else(|e| panic!("{}: {}: {e}", self.test, path.display()));
    }

    /// A PNG screenshot of the whole page, also what lies below the
    /// window (CDP `Page.captureScreenshot` beyond the viewport).
    #[track_caller]
    pub fn full_page_png(&self) -> Vec<u8> {
        use base64::Engine as _;
        let m = self.cdp("Page.getLayoutMetrics", json!({}));
        let size = &m["cssContentSize"];
        let (w, h) = (
            size["width"].as_f64().unwrap_or(1280.0).ceil(),
            size["height"].as_f64().unwrap_or(1024.0).ceil(),
        );
        let shot = self.cdp(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": { "x": 0, "y": 0, "width": w, "height": h, "scale": 1 },
            }),
        );
        let data = shot["data"].as_str().unwrap_or_default();
        match base64::engine::general_purpose::STANDARD.decode(data) {
            Ok(png) => png,
            Err(e) => self.fail("full-page screenshot", &e),
        }
    }

    /// Saves a screenshot of the whole page (see [`Browser::full_page_png`])
    /// as `TEST-NAME.png` in [`screenshot_dir`]; returns its path.
    #[track_caller]
    pub fn screenshot_full(&self, name: &str) -> PathBuf {
        let path = self.screenshot_path(name);
        let png = self.full_page_png();
        self.save(&path, &png);
        path
    }

    /// The page's console messages since the last call (errors, warnings,
    /// `console.log`; also scripts and styles a Content Security Policy
    /// refused), as `LEVEL message` lines.
    #[track_caller]
    pub fn console_messages(&self) -> Vec<String> {
        let post = SessionPost {
            path: "se/log",
            body: json!({ "type": "browser" }),
        };
        match self.rt.block_on(self.client().issue_cmd(post)) {
            Ok(Value::Array(v)) => v
                .iter()
                .map(|e| {
                    format!(
                        "{} {}",
                        e["level"].as_str().unwrap_or("?"),
                        e["message"].as_str().unwrap_or_default()
                    )
                })
                .collect(),
            Ok(other) => self.fail("console messages", &other),
            Err(e) => self.fail("console messages", &e),
        }
    }

    /// Panics when the page's console has had errors (`SEVERE`) since the
    /// last [`Browser::console_messages`]: a script that failed, a
    /// resource that did not load, something a Content Security Policy
    /// refused. A missing `/favicon.ico` (which Chromium asks for by
    /// itself) does not count.
    #[track_caller]
    pub fn assert_no_console_errors(&self) {
        let errors: Vec<String> = self
            .console_messages()
            .into_iter()
            .filter(|m| m.starts_with("SEVERE") && !m.contains("/favicon.ico"))
            .collect();
        if !errors.is_empty() {
            self.fail("console errors", &errors.join("\n"));
        }
    }

    /// chromedriver's log so far (for a failing test's message).
    pub fn driver_log(&self) -> String {
        let Some(dir) = &self.dir else {
            return String::new();
        };
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(dir.path().join("chromedriver.log")) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.shutdown();
        // the profile directory goes after every process using it
        drop(self.dir.take());
    }
}

/// A CSS string literal for `s` (for attribute selectors).
fn css_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\a "),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// HTML text as a browser reads it back: the entities the web tool's
/// templates (minijinja's escaping) write, decoded.
pub fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("piranha:secret", "cGlyYW5oYTpzZWNyZXQ="),
        ] {
            assert_eq!(base64(plain.as_bytes()), enc, "{plain:?}");
        }
    }

    #[test]
    fn xpath_literals_quote_anything() {
        assert_eq!(xpath_literal("Save"), "\"Save\"");
        assert_eq!(xpath_literal("say \"hi\""), "'say \"hi\"'");
        assert_eq!(
            xpath_literal("it's \"x\""),
            "concat(\"it's \", '\"', \"x\", '\"', \"\")"
        );
    }

    #[test]
    fn css_strings_escape_quotes() {
        assert_eq!(css_string("vip"), "\"vip\"");
        assert_eq!(css_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }

    #[test]
    fn screenshot_names_are_file_names() {
        assert_eq!(file_name("gui login/page 1"), "gui_login_page_1");
    }
}
