//! A small W3C WebDriver client for the console's browser tests: it drives
//! Debian's headless chromium through `chromedriver` (both installed by
//! scripts/install-chromium.sh).
#![allow(dead_code)]

use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    http: reqwest::blocking::Client,
    session: String,
    base: String,
    // Dropped after the session is deleted: chromedriver is killed by pid.
    _driver: super::support::LocalServer,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// chromedriver on a free loopback port, and a fresh headless chromium.
    pub fn start() -> Browser {
        let program =
            super::support::installed_tool("FD_CHROMEDRIVER", "scripts/install-chromium.sh");
        let port = super::support::free_port();
        let mut command = std::process::Command::new(program);
        command.args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()]);
        let driver = super::support::LocalServer::start(command, port, "chromedriver");
        let profile = tempfile::tempdir().expect("a temporary profile directory");
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client");
        let base = driver.url();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1366,900",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut options = json!({ "args": args });
        if let Ok(binary) = std::env::var("FD_CHROMIUM") {
            options["binary"] = json!(binary);
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": options}}});
        let created = call(
            &http,
            reqwest::Method::POST,
            &format!("{base}/session"),
            Some(capabilities),
        );
        let session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver made no session: {created}"))
            .to_owned();
        Browser {
            http,
            session,
            base,
            _driver: driver,
            _profile: profile,
        }
    }

    fn session_call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        call(&self.http, method, &url, body)
    }

    pub fn goto(&self, url: &str) {
        self.session_call(reqwest::Method::POST, "/url", Some(json!({ "url": url })));
    }

    /// The element, waiting up to 20 s for it to exist.
    pub fn find(&self, css: &str) -> Element<'_> {
        self.wait_for(&format!("element {css}"), || self.try_find(css))
    }

    pub fn try_find(&self, css: &str) -> Option<Element<'_>> {
        let url = format!("{}/session/{}/element", self.base, self.session);
        let response = self
            .http
            .post(url)
            .json(&json!({"using": "css selector", "value": css}))
            .send()
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        let body: Value = response.json().ok()?;
        let id = body["value"][ELEMENT].as_str()?.to_owned();
        Some(Element { browser: self, id })
    }

    /// Runs a script in the page and returns its value.
    pub fn run(&self, script: &str) -> Value {
        self.session_call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    pub fn text_of(&self, css: &str) -> String {
        self.find(css).text()
    }

    /// Polls `probe` every 100 ms for up to 20 s.
    pub fn wait_for<T>(&self, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(value) = probe() {
                return value;
            }
            if Instant::now() > deadline {
                let page = self.run("return document.body.innerText");
                panic!(
                    "timed out waiting for {what}; the page shows:\n{}",
                    page.as_str().unwrap_or("")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Saves a PNG of the window.
    pub fn screenshot(&self, path: &Path) {
        use base64::Engine as _;
        let shot = self.session_call(reqwest::Method::GET, "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot.as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("the screenshot directory");
        }
        std::fs::write(path, png).expect("writing the screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = self.http.delete(url).send();
    }
}

pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl Element<'_> {
    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.browser
            .session_call(method, &format!("/element/{}{path}", self.id), body)
    }

    pub fn click(&self) {
        self.call(reqwest::Method::POST, "/click", Some(json!({})));
    }

    pub fn type_text(&self, text: &str) {
        self.call(
            reqwest::Method::POST,
            "/value",
            Some(json!({ "text": text })),
        );
    }

    pub fn text(&self) -> String {
        self.call(reqwest::Method::GET, "/text", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// One WebDriver command; its `value`, or a panic naming the error.
fn call(
    http: &reqwest::blocking::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Value {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .unwrap_or_else(|error| panic!("WebDriver {url}: {error}"));
    let status = response.status();
    let body: Value = response
        .json()
        .unwrap_or_else(|error| panic!("WebDriver {url}: not JSON: {error}"));
    assert!(status.is_success(), "WebDriver {url}: {status} {body}");
    body["value"].clone()
}
