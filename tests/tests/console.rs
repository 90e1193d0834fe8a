//! The xray-local console in a real browser: Debian's chromium, driven through chromedriver
//! with the W3C WebDriver protocol, against an in-process xray-local that receives the demo's
//! two services' traces (`xray_examples::services`).
//!
//! It checks what a developer would look at: the service map holds the demo's nodes and edges,
//! a filter expression lists exactly the matching traces, a trace's timeline has one bar per
//! entity, untrusted names render as text, and the console keeps working once 10,000 traces
//! have arrived. A screenshot of each view goes to `target/console-screenshots/`.
//!
//! Needs `XRAY_TEST_CHROMEDRIVER` (e.g. `/usr/bin/chromedriver`; the browser is
//! `/usr/bin/chromium` unless `XRAY_TEST_CHROMIUM` says otherwise). Without it the test skips
//! visibly, unless `CI` is set, when it fails.
//!
//! The WebDriver client is the few commands the test needs, written here over reqwest, rather
//! than a WebDriver crate: eight endpoints of plain JSON do not earn a dependency tree.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use xray_core::{AlwaysSample, DaemonAddress, Recorder};
use xray_examples::services::{notification, user_management};
use xray_examples::store::Store;
use xray_local::LocalDaemon;

/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

/// chromedriver's path from `XRAY_TEST_CHROMEDRIVER`; `None` (after saying so) to skip.
fn chromedriver_path() -> Option<String> {
    match std::env::var("XRAY_TEST_CHROMEDRIVER") {
        Ok(path) if !path.trim().is_empty() => Some(path),
        _ if std::env::var_os("CI").is_some() => panic!("CI is set but XRAY_TEST_CHROMEDRIVER is not"),
        _ => {
            eprintln!(
                "SKIPPED: the console's browser test needs chromedriver: set XRAY_TEST_CHROMEDRIVER=/usr/bin/chromedriver"
            );
            None
        }
    }
}

async fn start_driver(path: &str, http: &reqwest::Client) -> Driver {
    let port = free_port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("XRAY_TEST_CHROMEDRIVER={path} does not start: {e}"));
    let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
    for _ in 0..100 {
        if let Ok(resp) = http.get(format!("{}/status", driver.url)).send().await
            && let Ok(body) = resp.json::<Value>().await
            && body["value"]["ready"] == true
        {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver at {} did not become ready in 10 s", driver.url);
}

/// A browser session; deleted (closing the browser) when dropped, even after a failed assertion.
struct Session {
    http: reqwest::Client,
    url: String,
    driver: SocketAddr,
    id: String,
}

impl Drop for Session {
    fn drop(&mut self) {
        // Plain blocking HTTP: Drop cannot await, and the browser must not outlive the test.
        if let Ok(mut stream) = TcpStream::connect_timeout(&self.driver, Duration::from_secs(2)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                self.id, self.driver
            );
            let _ = stream.write_all(request.as_bytes());
            let _ = stream.read(&mut [0u8; 512]);
        }
    }
}

impl Session {
    async fn new(driver: &Driver, http: reqwest::Client) -> Session {
        let browser = std::env::var("XRAY_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let mut args = vec!["--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,900"];
        if running_as_root() {
            args.push("--no-sandbox");
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": browser, "args": args},
        }}});
        let resp = http.post(format!("{}/session", driver.url)).json(&caps).send().await.expect("new session");
        let body: Value = resp.json().await.expect("session JSON");
        let id = body["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {body}")).to_string();
        let addr = driver.url.trim_start_matches("http://").parse().expect("driver address");
        Session { url: format!("{}/session/{id}", driver.url), http, driver: addr, id }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("WebDriver {path}: {e}"));
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or_else(|e| panic!("WebDriver {path}: not JSON: {e}"));
        assert!(status.is_success(), "WebDriver {path} answered {status}: {body}");
        body["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({ "url": url }))).await;
    }

    /// Runs `script` (a function body; `return` gives the value) in the page.
    async fn js(&self, script: &str) -> Value {
        self.cmd(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": []}))).await
    }

    /// Polls `script` until `done` holds for its value (bounded: 20 s), and returns the value.
    async fn wait_for(&self, what: &str, script: &str, done: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        for _ in 0..200 {
            last = self.js(script).await;
            if done(&last) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("timed out waiting for {what}; last value: {last}");
    }

    async fn element(&self, css: &str) -> String {
        let found =
            self.cmd(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await;
        found[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {css}: {found}")).to_string()
    }

    /// Types into a text field the way a user would (clear, then keys).
    async fn type_into(&self, css: &str, text: &str) {
        let el = self.element(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{el}/clear"), Some(json!({}))).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{el}/value"), Some(json!({ "text": text }))).await;
    }

    async fn click(&self, css: &str) {
        let el = self.element(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{el}/click"), Some(json!({}))).await;
    }

    /// Saves a screenshot of the window as `target/console-screenshots/NAME.png`.
    async fn screenshot(&self, name: &str) {
        let shot = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64_decode(shot.as_str().expect("screenshot is base64"));
        assert!(png.starts_with(b"\x89PNG"), "a screenshot is a PNG");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot directory");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("console-screenshots")
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let digits: Vec<u8> = text.bytes().filter_map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &d)| n | (u32::from(d) << (18 - 6 * i)));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

/// One demo request: which trace it made, and whether it should match `annotation.userId = 1 AND ok`.
struct Sent {
    trace_id: String,
    matches: bool,
}

/// The demo's traffic through both services; returns each request's trace.
async fn drive_demo(users: SocketAddr) -> Vec<Sent> {
    let client = reqwest::Client::new();
    let requests: [(&str, &str, Value); 7] = [
        ("POST", "/usermgmt/user", json!({"name": "Alice", "email": "alice@example.com"})),
        ("POST", "/usermgmt/user", json!({"name": "Bob", "email": "bob@bounce.example"})),
        ("POST", "/usermgmt/user", json!({"name": "Mallory"})),
        ("GET", "/usermgmt/users", Value::Null),
        ("POST", "/usermgmt/notification", json!({"userId": 1, "message": "Welcome, Alice"})),
        ("POST", "/usermgmt/notification", json!({"userId": 2, "message": "Welcome, Bob"})),
        ("GET", "/usermgmt/health-status", Value::Null),
    ];
    let mut sent = Vec::new();
    for (method, path, body) in requests {
        let url = format!("http://{users}{path}");
        let req = if method == "POST" { client.post(&url).json(&body) } else { client.get(&url) };
        let resp = req.send().await.expect("demo request");
        let status = resp.status().as_u16();
        let header = resp.headers().get("x-amzn-trace-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let trace_id = header
            .split(';')
            .find_map(|p| p.trim().strip_prefix("Root="))
            .unwrap_or_else(|| panic!("{path}: no Root in {header:?}"))
            .to_string();
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        // userId is annotated by user creation (the new user's id) and by notification (the
        // user notified); "ok" is a 2xx answer with no error or fault anywhere in the trace.
        let user_id = if path == "/usermgmt/user" { answer["id"].as_i64() } else { body["userId"].as_i64() };
        sent.push(Sent { trace_id, matches: user_id == Some(1) && (200..300).contains(&status) });
    }
    sent
}

/// A segment datagram as an SDK sends it.
fn datagram(trace_id: &str, id: &str, name: &str, start: f64, extra: Value) -> Vec<u8> {
    let mut doc = json!({"name": name, "id": id, "trace_id": trace_id, "start_time": start, "end_time": start + 0.012});
    if let (Some(doc), Some(extra)) = (doc.as_object_mut(), extra.as_object()) {
        doc.extend(extra.clone());
    }
    format!("{{\"format\":\"json\",\"version\":1}}\n{doc}").into_bytes()
}

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs_f64()
}

fn trace_id(epoch: f64, n: u64) -> String {
    format!("1-{:08x}-{:024x}", epoch as u64, n)
}

/// The entities of a trace's documents (each id once), as the console should draw them.
fn entity_ids(documents: &[Value]) -> BTreeSet<String> {
    fn walk(doc: &Value, ids: &mut BTreeSet<String>) {
        if let Some(id) = doc["id"].as_str() {
            ids.insert(id.to_string());
        }
        for sub in doc["subsegments"].as_array().into_iter().flatten() {
            walk(sub, ids);
        }
    }
    let mut ids = BTreeSet::new();
    for doc in documents {
        walk(doc, &mut ids);
    }
    ids
}

fn strings(value: &Value) -> BTreeSet<String> {
    value.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_real_browser() {
    let Some(chromedriver) = chromedriver_path() else { return };
    let http = reqwest::Client::new();

    let daemon = LocalDaemon::builder()
        .with_listen("127.0.0.1:0".parse().expect("addr"))
        .with_quiet_period(Duration::from_millis(200))
        // Below the 10,000 traces sent at the end, so the oldest are evicted.
        .with_max_traces(5_000)
        .start()
        .await
        .expect("xray-local starts");
    let daemon_addr = daemon.local_addr();
    let console = format!("http://{daemon_addr}/");
    let xray = Recorder::builder()
        .with_daemon_address(DaemonAddress::from(daemon_addr))
        .with_centralized_sampling(false)
        .with_sampler(AlwaysSample)
        .with_service_name("user-management")
        .install()
        .expect("recorder");

    let users = Store::connect(&Store::sqlite_url("console-users.db")).await.expect("users db");
    let outbox = Store::connect(&Store::sqlite_url("console-outbox.db")).await.expect("outbox db");
    let notification_addr = serve(notification(outbox)).await;
    let users_addr = serve(user_management(users, format!("http://{notification_addr}"))).await;
    let sent = drive_demo(users_addr).await;
    assert!(xray.recorder().flush(Duration::from_secs(5)), "the demo's segments are sent");
    // 7 user-management segments and 2 notification segments.
    daemon.wait_for_documents(9, Duration::from_secs(10)).await;

    let driver = start_driver(&chromedriver, &http).await;
    let browser = Session::new(&driver, http.clone()).await;

    // The service map: the demo's services and resources, and the calls between them.
    browser.goto(&format!("{console}#/map")).await;
    let names = browser
        .wait_for(
            "the service map's 4 nodes",
            "return [...document.querySelectorAll('#service-map g.node')].map(n => n.dataset.name)",
            |v| v.as_array().is_some_and(|a| a.len() >= 4),
        )
        .await;
    let expected_nodes: BTreeSet<String> =
        ["user-management", "notification", "console-users.db", "console-outbox.db"].map(String::from).into();
    assert_eq!(strings(&names), expected_nodes, "the map's nodes");
    let edges = browser.js("return document.querySelectorAll('#service-map path.edge').length").await;
    assert_eq!(edges, 3, "user-management -> its database, -> notification; notification -> its database");
    browser.screenshot("service-map").await;

    // Clicking a node lists that service's traces.
    browser.click("#service-map g.node[data-name='notification']").await;
    browser
        .wait_for("the trace list filtered to notification", "return document.getElementById('filter')?.value", |v| {
            v == "service(\"notification\")"
        })
        .await;

    // The filter box: exactly the traces with annotation userId = 1 that are ok.
    let expected: BTreeSet<String> = sent.iter().filter(|s| s.matches).map(|s| s.trace_id.clone()).collect();
    assert_eq!(expected.len(), 2, "Alice's creation and her notification");
    browser.goto(&format!("{console}#/traces")).await;
    browser
        .wait_for("the trace list", "return document.querySelectorAll('#trace-rows tr.trace').length", |v| v == 7)
        .await;
    browser.type_into("#filter", "annotation.userId = 1 AND ok").await;
    browser.click("#filter-apply").await;
    let listed = browser
        .wait_for(
            "the filtered list",
            "return location.hash.includes('userId') ? \
             [...document.querySelectorAll('#trace-rows tr.trace')].map(r => r.dataset.traceId) : null",
            |v| v.as_array().is_some_and(|a| a.len() == expected.len()),
        )
        .await;
    assert_eq!(strings(&listed), expected, "annotation.userId = 1 AND ok");
    browser.screenshot("traces").await;

    // A bad expression: the server's message, with the position it points at marked.
    browser.type_into("#filter", "annotation.userId = = 1").await;
    browser.click("#filter-apply").await;
    let error = browser
        .wait_for(
            "the filter error",
            "const e = document.getElementById('filter-error'); return e && !e.hidden ? e.textContent : null",
            |v| v.is_string(),
        )
        .await;
    assert!(error.as_str().is_some_and(|e| e.contains("position")), "{error}");
    let marked = browser.js("return document.querySelector('#filter-error mark.at')?.textContent").await;
    assert_eq!(marked, "=", "the second '=' is where the expression goes wrong");
    browser.screenshot("filter-error").await;

    // The trace page: one bar per entity of the trace that went through both services.
    let notified = &sent[4].trace_id;
    let held: Value = http
        .get(format!("{console}local/traces/{notified}"))
        .send()
        .await
        .expect("GET /local/traces")
        .json()
        .await
        .expect("trace JSON");
    let entities = entity_ids(held["documents"].as_array().expect("documents"));
    assert!(entities.len() >= 5, "two segments, SQL, the call, send-email: {entities:?}");
    browser.goto(&format!("{console}#/trace/{notified}")).await;
    let bars = browser
        .wait_for(
            "the waterfall",
            "return [...document.querySelectorAll('#waterfall .row')].map(r => r.dataset.entityId)",
            |v| v.as_array().is_some_and(|a| !a.is_empty()),
        )
        .await;
    assert_eq!(bars.as_array().map(Vec::len), Some(entities.len()), "one row per entity");
    assert_eq!(strings(&bars), entities);
    let bar_count = browser.js("return document.querySelectorAll('#waterfall .row .bar').length").await;
    assert_eq!(bar_count, entities.len());
    browser.screenshot("trace").await;
    browser.click("#waterfall .row.segment").await;
    let raw = browser.js("return document.querySelector('.entity-details details.raw pre')?.textContent").await;
    let raw: Value = serde_json::from_str(raw.as_str().expect("raw JSON shown")).expect("the raw JSON is JSON");
    assert_eq!(raw["trace_id"], notified.as_str());
    browser.screenshot("trace-details").await;

    // Untrusted content: markup in a name, an annotation and a URL renders as text.
    let hostile = "<script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\">";
    let xss_trace = trace_id(now(), 0xbad);
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let doc = datagram(
        &xss_trace,
        "00000000000000aa",
        hostile,
        now(),
        json!({"annotations": {"note": hostile}, "http": {"request": {"method": "GET", "url": format!("http://x/{hostile}")}}}),
    );
    udp.send_to(&doc, daemon_addr).expect("send");
    daemon.wait_for_trace(&xss_trace, Duration::from_secs(10)).await.expect("the hostile trace arrives");
    browser.goto(&format!("{console}#/trace/{xss_trace}")).await;
    let label = browser
        .wait_for("the hostile name", "return document.querySelector('#waterfall .row .name')?.textContent", |v| {
            v.is_string()
        })
        .await;
    assert_eq!(label, hostile, "the name shows as its characters");
    browser.goto(&format!("{console}#/traces")).await;
    browser
        .wait_for(
            "the hostile trace listed",
            &format!("return !!document.querySelector(\"tr[data-trace-id='{xss_trace}']\")"),
            |v| v == true,
        )
        .await;
    let url =
        browser.js(&format!("return document.querySelector(\"tr[data-trace-id='{xss_trace}'] td.url\")?.title")).await;
    assert_eq!(url, format!("http://x/{hostile}"), "the URL shows as its characters");

    // Live: a trace that arrives while the list is open appears without a reload.
    let page = browser.js("window.__page = 'kept'; return 1").await;
    assert_eq!(page, 1);
    let live_trace = trace_id(now(), 0x11fe);
    udp.send_to(&datagram(&live_trace, "000000000000011f", "live", now(), json!({})), daemon_addr).expect("send");
    browser
        .wait_for(
            "the new trace listed live",
            &format!("return !!document.querySelector(\"tr[data-trace-id='{live_trace}']\")"),
            |v| v == true,
        )
        .await;
    assert_eq!(browser.js("return window.__page").await, "kept", "the page was not reloaded");
    browser.goto(&format!("{console}#/map")).await;
    browser
        .wait_for(
            "the hostile and live nodes",
            "return [...document.querySelectorAll('#service-map g.node')].length",
            |v| v == 6,
        )
        .await;
    let node = browser
        .js("return [...document.querySelectorAll('#service-map g.node title')].map(t => t.textContent).find(t => t.startsWith('<'))")
        .await;
    assert!(node.as_str().is_some_and(|t| t.starts_with(hostile)), "the node's name is its characters: {node}");
    let injected =
        browser.js("return [window.__xss ?? null, document.querySelectorAll('body script, body img').length]").await;
    assert_eq!(injected, json!([null, 0]), "no markup from a document was parsed");

    // A wide map: one service calling 50 hosts (57 nodes with the others). Every node and name stays readable (nothing
    // overlaps), and all of them are drawn.
    let fanout = trace_id(now(), 0xfa);
    let start = now();
    let calls: Vec<Value> = (0..50)
        .map(|i| {
            json!({"name": format!("host-{i:02}.example"), "id": format!("{:016x}", 0xfa00 + i), "namespace": "remote",
                   "start_time": start + 0.001, "end_time": start + 0.002 + f64::from(i) * 0.0001,
                   "http": {"request": {"method": "GET", "url": format!("http://host-{i:02}.example/")}, "response": {"status": 200}}})
        })
        .collect();
    udp.send_to(&datagram(&fanout, "00000000000000fa", "fanout", start, json!({"subsegments": calls})), daemon_addr)
        .expect("send");
    daemon.wait_for_trace(&fanout, Duration::from_secs(10)).await.expect("the fan-out trace arrives");
    browser.goto(&format!("{console}#/map")).await;
    browser
        .wait_for("the wide map", "return document.querySelectorAll('#service-map g.node').length", |v| v == 57)
        .await;
    let overlaps = browser
        .js("const boxes = [...document.querySelectorAll('#service-map g.node')].flatMap(g => \
               [g.querySelector('.disc'), g.querySelector('text.name')].map(e => e.getBoundingClientRect())); \
             const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom; \
             let n = 0; for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) n += hit(boxes[i], boxes[j]); \
             return n")
        .await;
    assert_eq!(overlaps, 0, "no node or name of the map overlaps another");
    browser.screenshot("service-map-wide").await;

    // 10,000 traces: bounded memory, evictions counted, and every view still answers.
    let status_url = format!("{console}local/status");
    let documents = || async {
        let status: Value = http.get(&status_url).send().await.expect("status").json().await.expect("status JSON");
        (status["documents"].as_u64().unwrap_or(0), status)
    };
    let (before, _) = documents().await;
    let epoch = now();
    let mut status = Value::Null;
    for batch in 0..200u64 {
        for n in batch * 50..(batch + 1) * 50 {
            let doc = datagram(
                &trace_id(epoch, 0x1_0000 + n),
                &format!("{:016x}", 0x1_0000 + n),
                "load",
                epoch + n as f64 * 0.0001,
                // Latencies of 2 to 51 ms, every 100th 0.3 s; every 10th a fault, every 25th an error.
                json!({"annotations": {"n": n}, "fault": n % 10 == 0, "error": n % 25 == 1,
                       "end_time": epoch + n as f64 * 0.0001 + 0.002 + (n % 50) as f64 * 0.001 + if n % 100 == 7 { 0.3 } else { 0.0 },
                       "http": {"response": {"status": if n % 10 == 0 { 500 } else if n % 25 == 1 { 404 } else { 200 }}}}),
            );
            udp.send_to(&doc, daemon_addr).expect("send");
        }
        // Paced by what has arrived: a loopback socket's buffer holds only a few hundred
        // datagrams, and a sender faster than the daemon would lose the rest.
        for _ in 0..200 {
            let (received, now_status) = documents().await;
            status = now_status;
            if received >= before + (batch + 1) * 50 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    assert!(status["documents"].as_u64().unwrap_or(0) >= before + 10_000, "every datagram arrived: {status}");
    let max = status["max_traces"].as_u64().expect("max_traces");
    assert_eq!(max, 5_000);
    assert!(status["traces"].as_u64().expect("traces") <= max, "{status}");

    browser.goto(&format!("{console}#/status")).await;
    let shown = browser
        .wait_for(
            "the status counts",
            "return document.querySelector(\"#status-cards [data-figure='documents'] .value\")?.textContent",
            |v| v.as_str().is_some_and(|s| s.replace(',', "").parse::<u64>().is_ok_and(|n| n >= before + 10_000)),
        )
        .await;
    assert!(shown.is_string());
    let evicted = browser
        .wait_for(
            "the evictions shown",
            "return document.querySelector(\"#status-cards [data-figure='evicted traces'] .value\")?.textContent",
            |v| v.as_str().is_some_and(|s| s.replace(',', "").parse::<u64>().is_ok_and(|n| n > 0)),
        )
        .await;
    assert!(evicted.is_string(), "traces over the cap were evicted and the count is shown");
    browser.screenshot("status").await;

    browser.goto(&format!("{console}#/traces")).await;
    browser
        .wait_for("the list under load", "return document.querySelectorAll('#trace-rows tr.trace').length", |v| {
            v.as_u64().is_some_and(|n| n >= 100)
        })
        .await;
    let newest = trace_id(epoch, 0x1_0000 + 9_999);
    browser
        .wait_for(
            "the newest trace first",
            "return document.querySelector('#trace-rows tr.trace')?.dataset.traceId",
            |v| v == newest.as_str(),
        )
        .await;
    let rows = browser.js("return document.querySelectorAll('#trace-rows tr.trace').length").await;
    assert_eq!(rows, 500, "the newest 500 of 10,000 are listed");
    browser.goto(&format!("{console}#/analytics")).await;
    browser
        .wait_for(
            "analytics under load",
            "return document.querySelector(\"#filtered-stats [data-figure='traces'] .value\")?.textContent",
            |v| v == "1000+",
        )
        .await;
    // The newest 1,000 traces are n = 9,000..9,999: every 10th a fault, every 25th (n % 25 == 1) an error.
    let rates = browser
        .js("return ['fault rate', 'error rate', 'throttle rate'].map(k => \
             document.querySelector(`#filtered-stats [data-figure='${k}'] .value`)?.textContent)")
        .await;
    assert_eq!(rates, json!(["10%", "4.0%", "0%"]), "the filtered set's rates");
    browser
        // The demo's traces were the oldest, evicted over the cap: "load" is what is held.
        .wait_for(
            "per-service rows",
            "return [...document.querySelectorAll('#service-stats tr.service')].map(r => r.dataset.name)",
            |v| v.as_array().is_some_and(|a| a.iter().any(|n| n == "load")),
        )
        .await;
    browser.screenshot("analytics").await;
    browser.goto(&format!("{console}#/map")).await;
    browser
        .wait_for(
            "the map under load",
            "return [...document.querySelectorAll('#service-map g.node')].map(n => n.dataset.name)",
            |v| v.as_array().is_some_and(|a| a.iter().any(|n| n == "load")),
        )
        .await;
    let live = browser
        .wait_for("the live marker", "return document.getElementById('live')?.className", |v| v == "live up")
        .await;
    assert_eq!(live, "live up");

    drop(browser);
    drop(driver);
    drop(xray);
    daemon.shutdown().await;
}

#[tokio::test]
async fn without_the_console_the_api_still_answers() {
    let daemon = LocalDaemon::builder()
        .with_listen("127.0.0.1:0".parse().expect("addr"))
        .with_console(false)
        .start()
        .await
        .expect("xray-local starts");
    let base = format!("http://{}", daemon.local_addr());
    let http = reqwest::Client::new();
    for path in ["/", "/console/app.js"] {
        let resp = http.get(format!("{base}{path}")).send().await.expect("GET");
        assert_eq!(resp.status(), 404, "{path} is not served with the console off");
    }
    let status = http.get(format!("{base}/local/status")).send().await.expect("status");
    assert_eq!(status.status(), 200);

    let on = LocalDaemon::builder().with_listen("127.0.0.1:0".parse().expect("addr")).start().await.expect("starts");
    let page = http.get(format!("http://{}/", on.local_addr())).send().await.expect("GET /");
    assert_eq!(page.status(), 200);
    let policy = page.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe"), "{policy}");
    assert!(page.text().await.expect("body").contains("/console/app.js"));
    daemon.shutdown().await;
    on.shutdown().await;
}
