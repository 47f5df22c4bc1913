//! Driving the web app in a real, headless Chromium through chromedriver
//! (WebDriver), and running `danvan web` / `danvan serve --web` as a child
//! process. Both are killed on drop, so a failing test leaves no browser or
//! server behind.
//!
//! The tests of this binary are synchronous; [`Browser`] owns a small tokio
//! runtime and blocks on each WebDriver call, so a browser test reads as a
//! plain sequence of steps.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

use crate::harness::{self, Dv};

/// How long a wait for the page may take by default. Generous because the
/// CI machine is small and shared; a passing test waits only as long as the
/// condition takes.
pub(crate) const WAIT_MS_DEFAULT: u64 = 15_000;

/// How long chromedriver and a web server may take to answer on their port.
const START_MS_MAX: u64 = 30_000;

/// The window of a 1366×768 laptop, the smallest screen officers use.
pub(crate) const LAPTOP: (u32, u32) = (1366, 768);

/// A free TCP port on loopback. Another process could take it between this
/// call and its use; with ports picked by the kernel that race is rare
/// enough for tests.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a free loopback port")
}

/// Waits until something accepts TCP connections at `addr`.
fn wait_for_port(addr: SocketAddr, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_millis(START_MS_MAX);
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before answering on {addr}: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not answer on {addr} within {START_MS_MAX} ms"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A headless Chromium driven through its own chromedriver process.
pub(crate) struct Browser {
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
}

impl Browser {
    /// A browser with a 1366×768 window.
    pub(crate) fn open() -> Browser {
        Browser::with_window(LAPTOP)
    }

    /// A browser with a window of `(width, height)` pixels.
    pub(crate) fn with_window((width, height): (u32, u32)) -> Browser {
        let port = free_port();
        let mut driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver (installed by .ci/setup.sh: chromium-driver)");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_for_port(addr, "chromedriver", &mut driver);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let mut options = serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                format!("--window-size={width},{height}"),
                "--lang=vi",
            ],
        });
        // Chromium keeps a window at least 500 px wide; a phone's narrower
        // screen is emulated instead.
        if width < 500 {
            options["mobileEmulation"] = serde_json::json!({
                "deviceMetrics": { "width": width, "height": height, "pixelRatio": 1.0 },
            });
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = rt.block_on(async {
            ClientBuilder::new(connector)
                .capabilities(caps)
                .connect(&format!("http://{addr}"))
                .await
        });
        let client = match client {
            Ok(c) => c,
            Err(e) => {
                let _ = driver.kill();
                let _ = driver.wait();
                panic!("chromedriver did not open Chromium: {e}");
            }
        };
        Browser {
            rt,
            client: Some(client),
            driver,
        }
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("browser open")
    }

    /// Opens `url` and waits for the page to load.
    pub(crate) fn goto(&self, url: &str) {
        self.rt
            .block_on(self.client().goto(url))
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The address of the page shown.
    pub(crate) fn url(&self) -> String {
        self.rt
            .block_on(self.client().current_url())
            .expect("current url")
            .to_string()
    }

    /// The page's HTML as the browser holds it now.
    pub(crate) fn source(&self) -> String {
        self.rt
            .block_on(self.client().source())
            .expect("page source")
    }

    /// Waits (up to [`WAIT_MS_DEFAULT`]) for an element matching the CSS
    /// `selector`.
    pub(crate) fn wait_for(&self, selector: &str) -> Element {
        self.wait_for_within(selector, Duration::from_millis(WAIT_MS_DEFAULT))
    }

    /// Waits up to `limit` for an element matching `selector`. A lookup
    /// that meets the page being replaced (a form just posted) is tried
    /// again, like one that finds nothing yet.
    pub(crate) fn wait_for_within(&self, selector: &str, limit: Duration) -> Element {
        let deadline = Instant::now() + limit;
        loop {
            match self.rt.block_on(self.client().find(Locator::Css(selector))) {
                Ok(element) => return element,
                Err(e) if Instant::now() >= deadline => panic!(
                    "no element {selector:?} within {limit:?} on {}: {e}",
                    self.url()
                ),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Waits until `condition` holds of the browser, polling; panics with
    /// `what` after `limit`.
    pub(crate) fn wait_until(
        &self,
        what: &str,
        limit: Duration,
        mut condition: impl FnMut(&Browser) -> bool,
    ) {
        let deadline = Instant::now() + limit;
        loop {
            if condition(self) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "waited {limit:?} for {what} on {}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the page's text contains `needle`.
    pub(crate) fn wait_for_text(&self, needle: &str) {
        self.wait_until(
            &format!("text {needle:?}"),
            Duration::from_millis(WAIT_MS_DEFAULT),
            |b| b.try_text("body").is_some_and(|t| t.contains(needle)),
        );
    }

    /// The visible text of the first element matching `selector`.
    pub(crate) fn text(&self, selector: &str) -> String {
        self.rt
            .block_on(async {
                let element = self.client().find(Locator::Css(selector)).await?;
                element.text().await
            })
            .unwrap_or_else(|e| panic!("text of {selector:?}: {e}"))
    }

    /// Like [`Browser::text`], or `None` while no element matches (a page
    /// being replaced by the next one has none).
    pub(crate) fn try_text(&self, selector: &str) -> Option<String> {
        self.rt
            .block_on(async {
                let element = self.client().find(Locator::Css(selector)).await?;
                element.text().await
            })
            .ok()
    }

    /// An attribute of the first element matching `selector`.
    pub(crate) fn attr(&self, selector: &str, name: &str) -> Option<String> {
        self.rt
            .block_on(async {
                let element = self.client().find(Locator::Css(selector)).await?;
                element.attr(name).await
            })
            .unwrap_or_else(|e| panic!("attribute {name} of {selector:?}: {e}"))
    }

    /// How many elements match `selector`.
    pub(crate) fn count(&self, selector: &str) -> usize {
        self.rt
            .block_on(self.client().find_all(Locator::Css(selector)))
            .map(|all| all.len())
            .unwrap_or(0)
    }

    /// Replaces the value of the field matching `selector` with `text`.
    pub(crate) fn fill(&self, selector: &str, text: &str) {
        let element = self.wait_for(selector);
        self.rt
            .block_on(async {
                element.clear().await?;
                element.send_keys(text).await
            })
            .unwrap_or_else(|e| panic!("fill {selector:?}: {e}"));
    }

    /// Chooses the option with `value` in the `<select>` matching `selector`.
    pub(crate) fn select(&self, selector: &str, value: &str) {
        let element = self.wait_for(selector);
        self.rt
            .block_on(element.select_by_value(value))
            .unwrap_or_else(|e| panic!("choose {value:?} in {selector:?}: {e}"));
    }

    /// The current value of the form field matching `selector` (what the
    /// officer would see typed in it).
    pub(crate) fn value(&self, selector: &str) -> String {
        let element = self.wait_for(selector);
        self.rt
            .block_on(element.prop("value"))
            .unwrap_or_else(|e| panic!("value of {selector:?}: {e}"))
            .unwrap_or_default()
    }

    /// Chooses a file for the `<input type=file>` matching `selector`.
    pub(crate) fn choose_file(&self, selector: &str, path: &Path) {
        let element = self.wait_for(selector);
        let path = path.to_str().expect("utf-8 path");
        self.rt
            .block_on(element.send_keys(path))
            .unwrap_or_else(|e| panic!("choose file for {selector:?}: {e}"));
    }

    /// Clicks the element matching `selector`.
    pub(crate) fn click(&self, selector: &str) {
        let element = self.wait_for(selector);
        self.rt
            .block_on(element.click())
            .unwrap_or_else(|e| panic!("click {selector:?}: {e}"));
    }

    /// Runs JavaScript in the page and returns its result.
    pub(crate) fn execute(&self, script: &str) -> serde_json::Value {
        self.rt
            .block_on(self.client().execute(script, Vec::new()))
            .unwrap_or_else(|e| panic!("run script: {e}"))
    }

    /// The value of the browser's cookie `name` for the page shown (the
    /// WebDriver sees HttpOnly cookies that scripts cannot).
    pub(crate) fn cookie(&self, name: &str) -> Option<String> {
        self.rt
            .block_on(self.client().get_named_cookie(name))
            .ok()
            .map(|c| c.value().to_string())
    }

    /// Saves a PNG of the whole window to `path`.
    pub(crate) fn screenshot(&self, path: &Path) {
        let png = self
            .rt
            .block_on(self.client().screenshot())
            .expect("screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot directory");
        }
        std::fs::write(path, png).expect("write screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session makes chromedriver quit Chromium; killing only
        // chromedriver would leave the browser running.
        if let Some(client) = self.client.take() {
            let _ = self.rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(10), client.close()).await
            });
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `danvan web` or `danvan serve --web` for one data directory, killed on
/// drop.
pub(crate) struct WebServer {
    child: Child,
    /// Where the browser reaches the app (loopback, even when the app
    /// listens on every address).
    pub(crate) addr: SocketAddr,
    /// Where `serve` takes sync connections, when started with
    /// [`WebServer::serve`].
    pub(crate) sync_addr: Option<SocketAddr>,
}

impl WebServer {
    /// `danvan web --listen LISTEN`; `listen` may use port 0.
    pub(crate) fn web(dv: &Dv, listen: &str) -> WebServer {
        let args = ["web", "--listen", listen];
        WebServer::spawn(dv.command(&args), false)
    }

    /// `danvan serve --listen 127.0.0.1:0 --web LISTEN EXTRA…`.
    pub(crate) fn serve(dv: &Dv, listen: &str, extra: &[&str]) -> WebServer {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--web", listen];
        args.extend_from_slice(extra);
        WebServer::spawn(dv.command(&args), true)
    }

    fn spawn(mut command: Command, with_sync: bool) -> WebServer {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start danvan");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut web = None;
        let mut sync_addr = None;
        for _ in 0..20 {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            let addr = line
                .split(|c: char| c.is_whitespace() || c == '/')
                .find_map(|w| w.trim_end_matches([',', '.']).parse::<SocketAddr>().ok());
            // `serve` prints its sync address and the app's, in either
            // order.
            if line.contains("http://") {
                web = addr;
            } else if with_sync && sync_addr.is_none() {
                sync_addr = addr;
            }
            if web.is_some() && (!with_sync || sync_addr.is_some()) {
                break;
            }
        }
        let Some(mut addr) = web else {
            harness::stop(&mut child);
            panic!("danvan did not print the web app's address");
        };
        // The rest of the output is read and dropped, so a chatty server
        // never blocks on a full pipe.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut out, &mut std::io::sink());
        });
        if addr.ip().is_unspecified() {
            addr.set_ip([127, 0, 0, 1].into());
        }
        wait_for_port(addr, "danvan web", &mut child);
        WebServer {
            child,
            addr,
            sync_addr,
        }
    }

    /// The app's address for `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the server (to use the data directory from the CLI again).
    pub(crate) fn stop(&mut self) {
        harness::stop(&mut self.child);
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the app answered to a plain request.
pub(crate) struct Reply {
    /// The HTTP status code.
    pub(crate) status: u16,
    /// The response's headers, names in lowercase.
    pub(crate) headers: Vec<(String, String)>,
    /// The body as sent (chunked bodies are not used by the app).
    pub(crate) body: Vec<u8>,
}

impl Reply {
    /// The value of header `name` (lowercase), if sent.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A plain HTTP/1.1 request to the app, outside any browser: for what a
/// browser would never send (a form without its token) and for downloads.
pub(crate) fn http_exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect to the web app");
    stream
        .set_read_timeout(Some(Duration::from_millis(WAIT_MS_DEFAULT)))
        .expect("read timeout");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .expect("send the request");
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .expect("read the response");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(response.len());
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let body = response.get(split + 4..).unwrap_or_default().to_vec();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body,
    }
}

/// [`http_exchange`], with the status code and the body as text.
pub(crate) fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let reply = http_exchange(addr, method, path, headers, body);
    (
        reply.status,
        String::from_utf8_lossy(&reply.body).into_owned(),
    )
}
