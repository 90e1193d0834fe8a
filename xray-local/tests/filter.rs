//! Filter expressions from AWS's guide and edge cases, against traces assembled by the
//! [`Collector`] from segment documents shaped like the SDKs send them (subsegments nested and
//! standalone, downstream segments as documents of their own, in-progress copies replaced).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use xray_local::filter::Filter;
use xray_local::{Collector, Trace};

/// The traces of the table, by label; each label's trace id ends in its index.
const LABELS: [&str; 10] =
    ["game", "slow", "notfound", "throttled", "fault", "handled", "partial", "lambda", "quotes", "bare"];

fn id(label: &str) -> String {
    let i = LABELS.iter().position(|l| *l == label).expect("known label");
    format!("1-5759e988-bd862e3fe1be46a9942720{i:02}")
}

fn seg(label: &str, entity: &str, name: &str, start: f64, end: f64) -> Value {
    json!({"trace_id": id(label), "id": entity, "name": name, "start_time": start, "end_time": end})
}

fn merge(mut doc: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().expect("object") {
        doc[k] = v.clone();
    }
    doc
}

fn http(method: &str, url: &str, status: u16) -> Value {
    json!({"request": {"method": method, "url": url, "client_ip": "78.255.233.48",
                       "user_agent": "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:45.0) Gecko/20100101 Firefox/45.0"},
           "response": {"status": status}})
}

/// Every trace's documents, in the order they are sent.
fn documents() -> Vec<(String, Value)> {
    const T: f64 = 1_465_510_000.0;
    let mut docs = Vec::new();
    let mut send = |label: &str, doc: Value| docs.push((id(label), doc));

    // A game lookup on ECS: 120 ms, DynamoDB call nested, annotations of each type.
    send(
        "game",
        merge(
            seg("game", "a000000000000001", "scorekeep", T, T + 0.12),
            json!({"origin": "AWS::ECS::Container", "user": "alice",
                   "http": http("GET", "http://scorekeep.example.com/api/game/817DL6VO", 200),
                   "annotations": {"gameid": "817DL6VO", "userId": 1, "age": 30, "beta": true},
                   "aws": {"ecs": {"container": "scorekeep-1"}},
                   "subsegments": [{"id": "a000000000000002", "name": "DynamoDB", "namespace": "aws",
                                    "start_time": T + 0.01, "end_time": T + 0.05,
                                    "aws": {"operation": "GetItem", "table_name": "scorekeep-game"},
                                    "http": {"response": {"status": 200}}}]}),
        ),
    );
    // A slow POST on EC2: answered after 6.2 s, background work until 7.5 s (a standalone subsegment).
    send(
        "slow",
        merge(
            seg("slow", "b000000000000001", "scorekeep", T + 10.0, T + 16.2),
            json!({"origin": "AWS::EC2::Instance", "user": "bob",
                   "http": http("POST", "http://scorekeep.example.com/api/game", 200),
                   "annotations": {"gameid": "X1", "userId": 2, "age": 29},
                   "aws": {"ec2": {"availability_zone": "us-west-2c", "instance_id": "i-0b5a4678fc325bg98"}}}),
        ),
    );
    send(
        "slow",
        merge(
            seg("slow", "b000000000000002", "save-replay", T + 16.0, T + 17.5),
            json!({"type": "subsegment", "parent_id": "b000000000000001"}),
        ),
    );
    // 404: a client error on the root segment.
    send(
        "notfound",
        merge(
            seg("notfound", "c000000000000001", "scorekeep", T + 20.0, T + 20.01),
            json!({"error": true, "http": http("GET", "http://scorekeep.example.com/api/user/nobody", 404),
                   "user": "Alice", "annotations": {"userId": "1"}}),
        ),
    );
    // 429: error and throttle.
    send(
        "throttled",
        merge(
            seg("throttled", "d000000000000001", "scorekeep", T + 30.0, T + 30.002),
            json!({"error": true, "throttle": true,
                   "http": http("GET", "http://scorekeep.example.com/api/game/817DL6VO", 429)}),
        ),
    );
    // A 502 from api.example.com, whose traced call to backend.example.com faulted on DynamoDB.
    send(
        "fault",
        merge(
            seg("fault", "e000000000000001", "api.example.com", T + 40.0, T + 40.9),
            json!({"fault": true, "http": http("GET", "http://api.example.com/v2/orders?id=7", 502),
                   "subsegments": [{"id": "e000000000000002", "name": "backend.example.com",
                                    "namespace": "remote", "start_time": T + 40.1, "end_time": T + 40.8,
                                    "fault": true, "http": {"request": {"method": "GET",
                                    "url": "http://backend.example.com/orders", "traced": true},
                                    "response": {"status": 500}}}]}),
        ),
    );
    send(
        "fault",
        merge(
            seg("fault", "f000000000000001", "backend.example.com", T + 40.15, T + 40.75),
            json!({"parent_id": "e000000000000002", "fault": true,
                   "http": http("GET", "http://backend.example.com/orders", 500),
                   "cause": {"working_directory": "/app", "exceptions": [{"id": "f0000000000000e1",
                             "message": "Access Denied for account_id: 1234567890", "type": "AccessDeniedException"}]},
                   "subsegments": [{"id": "f000000000000002", "name": "DynamoDB", "namespace": "aws",
                                    "start_time": T + 40.2, "end_time": T + 40.3, "fault": true,
                                    "http": {"response": {"status": 500}}}]}),
        ),
    );
    // api.example.com answers 200 although its call to backend.example.com got a 400: handled.
    send(
        "handled",
        merge(
            seg("handled", "a100000000000001", "api.example.com", T + 50.0, T + 50.3),
            json!({"http": http("GET", "http://api.example.com/v1/orders", 200),
                   "subsegments": [{"id": "a100000000000002", "name": "backend.example.com",
                                    "namespace": "remote", "start_time": T + 50.05, "end_time": T + 50.2,
                                    "error": true, "http": {"request": {"traced": true},
                                                            "response": {"status": 400}}},
                                   {"id": "a100000000000003", "name": "orders@db.example.com",
                                    "namespace": "remote", "start_time": T + 50.2, "end_time": T + 50.25,
                                    "sql": {"database_type": "PostgreSQL", "url": "db.example.com:5432/orders"}}]}),
        ),
    );
    send(
        "handled",
        merge(
            seg("handled", "a200000000000001", "backend.example.com", T + 50.06, T + 50.19),
            json!({"parent_id": "a100000000000002", "error": true,
                   "http": http("GET", "http://backend.example.com/orders", 400)}),
        ),
    );
    // Still in progress: the SDK sent the open segment first, then a finished subsegment.
    let mut open = seg("partial", "a300000000000001", "worker", T + 60.0, 0.0);
    open.as_object_mut().expect("object").remove("end_time");
    open["in_progress"] = json!(true);
    send("partial", open);
    send(
        "partial",
        merge(
            seg("partial", "a300000000000002", "step-1", T + 60.1, T + 60.2),
            json!({"type": "subsegment", "parent_id": "a300000000000001"}),
        ),
    );
    // Lambda: the service's segment and the function's, both named random-name; the function errs.
    send(
        "lambda",
        merge(
            seg("lambda", "a400000000000001", "random-name", T + 70.0, T + 70.5),
            json!({"origin": "AWS::Lambda", "resource_arn": "arn:aws:lambda:us-west-2:123456789012:function:random-name"}),
        ),
    );
    send(
        "lambda",
        merge(
            seg("lambda", "a400000000000002", "random-name", T + 70.1, T + 70.45),
            json!({"origin": "AWS::Lambda::Function", "parent_id": "a400000000000001", "error": true}),
        ),
    );
    // Quotes, backslashes and non-ASCII text in values.
    send(
        "quotes",
        merge(
            seg("quotes", "a500000000000001", "café", T + 80.0, T + 80.01),
            json!({"http": http("GET", "http://example.com/say?\"hi\"\\n", 200),
                   "annotations": {"note": "say \"hi\"", "path": "C:\\temp"}}),
        ),
    );
    // A segment without http, user or annotations.
    send("bare", seg("bare", "a600000000000001", "cron", T + 90.0, T + 91.0));
    docs
}

fn traces() -> Vec<Trace> {
    let mut collector = Collector::new(Duration::from_secs(3600));
    let now = Instant::now();
    for (trace_id, doc) in documents() {
        assert!(collector.add(&trace_id, doc, Vec::new(), now).is_none());
    }
    let mut traces = collector.complete_all();
    traces.sort_by(|a, b| a.trace_id.cmp(&b.trace_id));
    assert_eq!(traces.len(), LABELS.len());
    traces
}

fn label(trace: &Trace) -> &'static str {
    LABELS.iter().find(|l| id(l) == trace.trace_id).expect("known trace")
}

#[test]
fn the_traces_assemble_as_the_table_expects() {
    let traces = traces();
    let by = |l: &str| traces.iter().find(|t| label(t) == l).expect("trace");
    assert_eq!(by("slow").nodes().len(), 2);
    assert_eq!(by("fault").roots.len(), 1, "the downstream segment hangs under its caller");
    assert_eq!(by("fault").nodes().len(), 4);
    assert_eq!(by("partial").nodes().len(), 2);
    assert!(by("partial").roots[0].in_progress());
}

#[test]
fn expressions_select_the_expected_traces() {
    let all = ["game", "slow", "notfound", "throttled", "fault", "handled", "partial", "lambda", "quotes", "bare"];
    let except = |gone: &[&str]| all.iter().filter(|l| !gone.contains(l)).copied().collect::<Vec<_>>();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        // The guide's examples.
        ("responsetime > 5", vec!["slow"]),
        ("duration >= 5 AND duration <= 8", vec!["slow"]),
        ("ok", vec!["game", "slow", "handled", "partial", "lambda", "quotes", "bare"]),
        ("!ok", vec!["notfound", "throttled", "fault"]),
        ("ok = false", vec!["notfound", "throttled", "fault"]),
        ("http.status != 200", vec!["notfound", "throttled", "fault"]),
        ("ok !partial duration <3", vec!["game", "handled", "lambda", "quotes", "bare"]),
        ("http.url CONTAINS \"/api/game/\"", vec!["game", "throttled"]),
        ("user CONTAINS \"\"", vec!["game", "slow", "notfound"]),
        ("service(\"api.example.com\") { fault }", vec!["fault"]),
        ("service() { fault }", vec!["fault"]),
        ("edge(\"api.example.com\", \"backend.example.com\") { error }", vec!["handled"]),
        (
            "http.url BEGINSWITH \"http://api.example.com/\" AND http.url CONTAINS \"/v2/\" AND !service(\"backend.example.com\")",
            vec![],
        ),
        ("http.url BEGINSWITH \"http://api.example.com/\" AND http.url CONTAINS \"/v2/\"", vec!["fault"]),
        ("annotation.gameid = \"817DL6VO\"", vec!["game"]),
        ("annotation.age > 29", vec!["game"]),
        ("annotation.age", vec!["game", "slow"]),
        ("!annotation.age", except(&["game", "slow"])),
        ("http.url AND responseTime > 2", vec!["slow"]),
        ("service(\"data-plane\") {root = true and fault = true}", vec![]),
        ("service(\"api.example.com\") {root = true and fault = true}", vec!["fault"]),
        ("service(\"random-name\") { error }", vec!["lambda"]),
        ("service(id(name: \"random-name\", type: \"AWS::Lambda::Function\")) { error }", vec!["lambda"]),
        ("service(id(name: \"random-name\", type: \"AWS::Lambda\")) { error }", vec![]),
        ("service(id(type: \"AWS::Lambda::Function\")) { error }", vec!["lambda"]),
        // Trace-level keywords read the root segment: a handled downstream error is not `error`.
        ("error", vec!["notfound", "throttled"]),
        ("fault", vec!["fault"]),
        ("throttle", vec!["throttled"]),
        ("error AND !throttle", vec!["notfound"]),
        ("service(\"backend.example.com\") { error }", vec!["handled"]),
        ("service(\"backend.example.com\") { error OR fault }", vec!["fault", "handled"]),
        ("edge(\"backend.example.com\", \"DynamoDB\") { fault }", vec!["fault"]),
        ("edge(\"api.example.com\", id(name: \"orders@db.example.com\", type: \"Database::SQL\"))", vec!["handled"]),
        ("service(id(type: \"AWS::DynamoDB\"))", vec!["game", "fault"]),
        ("service(\"DynamoDB\") { !fault }", vec!["game"]),
        ("service(\"scorekeep\") { http.status >= 400 AND http.status < 500 }", vec!["notfound", "throttled"]),
        ("partial", vec!["partial"]),
        ("inferred", vec!["game", "fault", "handled"]),
        ("service() { inferred AND fault }", vec!["fault"]),
        ("root", except(&[])),
        // Number, string and annotation types.
        ("http.status = 429", vec!["throttled"]),
        ("http.status", except(&["partial", "lambda", "bare"])),
        ("responsetime < 0.005", vec!["throttled"]),
        ("duration > 7 AND responsetime < 7", vec!["slow"]),
        ("http.method = \"POST\"", vec!["slow"]),
        ("http.method != \"GET\"", vec!["slow"]),
        ("http.useragent CONTAINS \"Firefox\"", except(&["partial", "lambda", "bare"])),
        ("http.clientip = \"78.255.233.48\" AND http.url ENDSWITH \"817DL6VO\"", vec!["game", "throttled"]),
        ("name = \"scorekeep\"", vec!["game", "slow", "notfound", "throttled"]),
        ("type = \"AWS::EC2::Instance\"", vec!["slow"]),
        ("availabilityzone = \"us-west-2c\" AND instance.id BEGINSWITH \"i-\"", vec!["slow"]),
        ("resource.arn ENDSWITH \":function:random-name\"", vec!["lambda"]),
        ("message = \"Access Denied for account_id: 1234567890\"", vec!["fault"]),
        ("annotation.userId = 1", vec!["game"]),
        ("annotation.userId = \"1\"", vec!["notfound"]),
        ("annotation.userId = 1 AND ok", vec!["game"]),
        ("annotation.userId >= 1", vec!["game", "slow"]),
        ("annotation.beta", vec!["game"]),
        ("annotation.beta = false", vec![]),
        ("annotation.gameid BEGINSWITH \"817\"", vec!["game"]),
        // Case: keywords and operator words ignore it; values, names and annotation keys do not.
        ("RESPONSETIME > 5 and HTTP.METHOD = \"POST\"", vec!["slow"]),
        ("http.url contains \"/api/game/\" Or Fault", vec!["game", "throttled", "fault"]),
        ("user = \"alice\"", vec!["game"]),
        ("user = \"Alice\"", vec!["notfound"]),
        ("annotation.USERID = 1", vec![]),
        ("service(\"Scorekeep\")", vec![]),
        // Precedence: ! then AND then OR; side by side means AND; parentheses group.
        ("fault OR throttle AND http.status = 502", vec!["fault"]),
        ("(fault OR throttle) AND http.status = 502", vec!["fault"]),
        ("fault OR throttle AND http.status = 429", vec!["throttled", "fault"]),
        ("throttle AND http.status = 429 OR fault", vec!["throttled", "fault"]),
        ("!fault AND !ok", vec!["notfound", "throttled"]),
        ("!(fault OR ok)", vec!["notfound", "throttled"]),
        ("!!fault", vec!["fault"]),
        ("error throttle OR partial", vec!["throttled", "partial"]),
        ("((((ok)))) AND (((name = \"cron\")))", vec!["bare"]),
        // Quoting: escapes inside strings, non-ASCII values.
        ("annotation.note = \"say \\\"hi\\\"\"", vec!["quotes"]),
        ("annotation.path = \"C:\\\\temp\"", vec!["quotes"]),
        ("http.url ENDSWITH \"\\\"hi\\\"\\\\n\"", vec!["quotes"]),
        ("name = \"café\"", vec!["quotes"]),
        ("name CONTAINS \"AND\"", vec![]),
        // A keyword the trace lacks fails every comparison, != included.
        ("http.method != \"POST\"", vec!["game", "notfound", "throttled", "fault", "handled", "quotes"]),
        ("!http.url", vec!["partial", "lambda", "bare"]),
        // Blank expressions match everything.
        ("", except(&[])),
        ("   ", except(&[])),
    ];
    let traces = traces();
    let mut failures = Vec::new();
    for (expr, want) in &cases {
        let filter = match Filter::parse(expr) {
            Ok(filter) => filter,
            Err(e) => {
                failures.push(format!("{expr}: does not parse: {e}"));
                continue;
            }
        };
        let got: Vec<&str> = traces.iter().filter(|t| filter.matches(t)).map(label).collect();
        let mut want = want.clone();
        want.sort_by_key(|l| LABELS.iter().position(|x| x == l));
        if got != want {
            failures.push(format!("{expr}: got {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn bad_expressions_point_at_the_problem() {
    let cases: &[(&str, usize, &str)] = &[
        ("responsetme > 5", 0, "unknown keyword \"responsetme\": did you mean responsetime?"),
        ("ok AND banana", 7, "unknown keyword \"banana\""),
        ("responsetime > 5s", 15, "bad number \"5s\""),
        ("duration < 1.2.3", 11, "bad number \"1.2.3\""),
        ("duration < 1e400", 11, "out of range"),
        ("http.url CONTAINS \"/api", 18, "unclosed string"),
        ("http.url = /api", 11, "unexpected character '/'"),
        ("name = traces", 7, "string values go in double quotes: \"traces\""),
        ("name = 'traces'", 7, "double quotes"),
        ("ok AND", 6, "expected a filter after AND"),
        ("ok OR", 5, "expected a filter after OR"),
        ("ok AND OR fault", 7, "expected a filter after AND"),
        ("AND ok", 0, "expected a filter before AND"),
        ("!", 1, "expected a filter after !"),
        ("http.status >", 13, "expected a value after >"),
        ("http.status > )", 14, "expected a value after >"),
        ("(ok", 3, "expected ) to close the ( at position 0"),
        ("ok)", 2, "there is no ( to close"),
        ("()", 1, "expected a filter inside ( )"),
        ("http.status > \"500\"", 14, "http.status is a number"),
        ("http.status CONTAINS \"5\"", 12, "http.status is a number: use = != < <= > >="),
        ("http.url > 5", 9, "http.url is a string"),
        ("http.url = 5", 11, "http.url is a string: compare it with a value in double quotes"),
        ("ok = 1", 5, "ok is true or false"),
        ("ok > true", 3, "ok is true or false"),
        ("annotation.age CONTAINS 5", 24, "CONTAINS compares strings"),
        ("annotation.age > \"29\"", 17, "> compares numbers"),
        ("annotation.", 0, "annotation keys"),
        ("service(\"a\") { annotation.x = 1 }", 15, "annotation keywords cannot be used inside service"),
        ("service(\"a\") { service(\"b\") }", 15, "cannot be used inside service"),
        ("service(api) { fault }", 8, "service names go in double quotes: \"api\""),
        ("service \"api\"", 8, "expected ( after service"),
        ("service(\"api\" { fault }", 14, "expected ) after the service name"),
        ("service(\"api\") { fault", 22, "expected } to close the { of the service at position 0"),
        ("service(\"api\") { }", 17, "expected a filter inside the { }"),
        ("edge(\"a\") { error }", 8, "expected a comma"),
        ("service(id(name \"x\"))", 16, "expected a colon"),
        ("service(id(kind: \"x\"))", 11, "expected name: or type:"),
        ("service(id(name: \"x\", name: \"y\"))", 22, "once"),
        ("rootcause.fault.service { name = \"Auth\" }", 0, "not supported: xray-local does not compute root causes"),
        ("last and ok", 0, "last is not supported"),
        ("coverage > 0.7", 0, "coverage is not supported"),
        ("group.name = \"high_response_time\"", 0, "no groups"),
        ("rootcause.json = #[{}]", 17, "JSON values"),
        ("ok && fault", 3, "combine filters with AND"),
        ("http.status == 200", 12, "single ="),
        ("NOT ok", 0, "use !"),
        ("\"x\"", 0, "expected a keyword before string \"x\""),
        ("café = \"x\"", 3, "unexpected character 'é'"),
        ("name = \"é\" ;", 11, "unexpected character ';'"),
    ];
    let mut failures = Vec::new();
    for (expr, position, message) in cases {
        match Filter::parse(expr) {
            Ok(_) => failures.push(format!("{expr}: parsed")),
            Err(e) if e.position != *position || !e.message.contains(message) => {
                failures.push(format!("{expr}: got {e}, want at position {position}: ...{message}..."));
            }
            Err(e) => assert_eq!(e.to_string(), format!("at position {}: {}", e.position, e.message)),
        }
    }
    assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for depth in [33, 1_000, 200_000] {
        let expr = format!("{}ok{}", "(".repeat(depth), ")".repeat(depth));
        let err = Filter::parse(&expr).expect_err("too deep");
        assert_eq!(err.position, 32, "{err}");
        let expr = format!("{}ok", "!".repeat(depth));
        assert!(Filter::parse(&expr).is_err());
        let expr = format!("{}ok{}", "service() { (".repeat(depth.min(1000)), ") }".repeat(depth.min(1000)));
        assert!(Filter::parse(&expr).is_err());
    }
    let expr = format!("{}ok{}", "(".repeat(32), ")".repeat(32));
    assert!(Filter::parse(&expr).expect("32 levels are fine").matches(&traces()[0]));
}

#[test]
fn long_flat_expressions_parse_and_match() {
    let expr = vec!["http.status = 404"; 20_000].join(" OR ");
    let filter = Filter::parse(&expr).expect("long");
    let got: Vec<&str> = traces().iter().filter(|t| filter.matches(t)).map(label).collect();
    assert_eq!(got, ["notfound"]);
}

/// The `xray-local` binary, killed when dropped; its stdout lines arrive on a channel.
struct Bin {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Bin {
    fn start(args: &[&str]) -> Bin {
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};
        let mut child = Command::new(env!("CARGO_BIN_EXE_xray-local"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("runs");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Bin { child, lines, seen: Vec::new() }
    }

    /// Reads lines until one contains `text`, for at most 10 s.
    fn wait_for(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(line) = self.lines.recv_timeout(left) else { break };
            self.seen.push(line.clone());
            if line.contains(text) {
                return line;
            }
        }
        panic!("no line with {text:?} in:\n{}", self.seen.join("\n"));
    }

    /// Waits (at most 10 s) for the process to exit; returns every line it printed.
    fn wait_for_exit(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().expect("try_wait").is_none() {
            assert!(Instant::now() < deadline, "binary did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }
}

impl Drop for Bin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary with `--filter`: only matching traces are printed; the summary still counts all.
#[cfg(unix)]
#[test]
fn the_binary_prints_only_matching_traces() {
    let mut bin = Bin::start(&["--listen", "127.0.0.1:0", "--quiet-ms", "100", "--filter", "fault OR service(\"db\")"]);
    let first = bin.wait_for("xray-local listening on udp://");
    assert!(bin.wait_for("printing only traces matching").contains("fault OR service(\"db\")"));
    let addr: std::net::SocketAddr =
        first.rsplit("udp://").next().and_then(|a| a.trim().parse().ok()).expect("address");

    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind sender");
    let send = |trace: &str, entity: &str, name: &str, extra: &str| {
        let doc = format!(
            "{{\"format\":\"json\",\"version\":1}}\n{{\"name\":\"{name}\",\"id\":\"{entity}\",\"trace_id\":\"{trace}\",\
             \"start_time\":1478293361.271,\"end_time\":1478293361.449{extra}}}"
        );
        socket.send_to(doc.as_bytes(), addr).expect("send");
    };
    send("1-581cf771-a006649127e371903a2de901", "70de5b6f19ff9a01", "quiet-ok", "");
    send("1-581cf771-a006649127e371903a2de902", "70de5b6f19ff9a02", "loud-fault", ",\"fault\":true");
    send(
        "1-581cf771-a006649127e371903a2de903",
        "70de5b6f19ff9a03",
        "calls-db",
        ",\"subsegments\":[{\"name\":\"db\",\"id\":\"70de5b6f19ff9a04\",\"namespace\":\"remote\",\
          \"start_time\":1478293361.3,\"end_time\":1478293361.4}]",
    );
    bin.wait_for("loud-fault [segment");
    bin.wait_for("calls-db [segment");
    // Ctrl-C: every pending trace is completed (and filtered) before the summary.
    let pid = bin.child.id().to_string();
    let status = std::process::Command::new("kill").args(["-INT", &pid]).status().expect("kill runs");
    assert!(status.success());
    let out = bin.wait_for_exit();
    assert!(out.contains("3 documents, 3 traces"), "{out}");
    assert_eq!(bin.seen.iter().filter(|l| l.starts_with("trace 1-")).count(), 2, "{out}");
    assert!(!out.contains("quiet-ok [segment") && !out.contains("trace 1-581cf771-a006649127e371903a2de901"), "{out}");
}

#[test]
fn the_binary_refuses_a_bad_filter_with_its_position() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xray-local"))
        .args(["--listen", "127.0.0.1:0", "--filter", "responsetime > 5s"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--filter \"responsetime > 5s\": at position 15: bad number \"5s\""), "{err}");
}

/// Documents as this SDK's recorder sends them over UDP, received by an in-process daemon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_recorded_by_this_sdk_filter_as_expected() {
    use xray_core::model::{HttpRequest, HttpResponse, Namespace};
    use xray_core::{AlwaysSample, DaemonAddress, Recorder};
    use xray_local::LocalDaemon;

    let daemon = LocalDaemon::builder()
        .with_listen("127.0.0.1:0".parse().expect("addr"))
        .with_quiet_period(Duration::from_millis(200))
        .start()
        .await
        .expect("daemon starts");
    let recorder = Recorder::builder()
        .with_daemon_address(DaemonAddress::from(daemon.local_addr()))
        .with_centralized_sampling(false)
        .with_sampler(AlwaysSample)
        .build()
        .expect("recorder");
    let request = |method: &'static str, url: &str| HttpRequest {
        method: Some(method.into()),
        url: Some(url.into()),
        client_ip: Some("10.0.0.7".into()),
        ..HttpRequest::default()
    };
    let response = |status| HttpResponse { status: Some(status), content_length: None };

    // A 200 whose call to payments.example.com got a 503 it handled.
    let handled = recorder.new_segment("checkout");
    handled.set_http_request(request("GET", "https://shop.example.com/cart"));
    handled.annotate("userId", 1);
    handled.set_user("alice");
    let call = handled.begin_subsegment("payments.example.com");
    call.set_namespace(Namespace::Remote);
    call.set_http_request(request("POST", "https://payments.example.com/charge"));
    call.set_http_response(response(503));
    call.end();
    handled.set_http_response(response(200));
    let handled_id = handled.trace_id().expect("sampled").to_string();
    handled.end();
    // A 502.
    let failed = recorder.new_segment("checkout");
    failed.set_http_request(request("POST", "https://shop.example.com/order"));
    failed.annotate("userId", 2);
    failed.set_http_response(response(502));
    let failed_id = failed.trace_id().expect("sampled").to_string();
    failed.end();
    assert!(recorder.flush(Duration::from_secs(5)), "segments sent");

    let wait = Duration::from_secs(10);
    let traces = [
        daemon.wait_for_trace(&handled_id, wait).await.expect("first trace"),
        daemon.wait_for_trace(&failed_id, wait).await.expect("second trace"),
    ];
    let cases: &[(&str, &[&str])] = &[
        ("annotation.userId = 1 AND ok", &["handled"]),
        ("ok", &["handled"]),
        ("fault", &["failed"]),
        ("service(\"payments.example.com\") { fault }", &["handled"]),
        ("edge(\"checkout\", \"payments.example.com\") { http.status = 503 }", &["handled"]),
        ("http.method = \"POST\" AND http.status = 502", &["failed"]),
        ("http.clientip = \"10.0.0.7\" AND http.url BEGINSWITH \"https://shop.example.com/\"", &["handled", "failed"]),
        ("user = \"alice\"", &["handled"]),
        ("annotation.userId > 1", &["failed"]),
        ("inferred", &["handled"]),
    ];
    for (expr, want) in cases {
        let filter = Filter::parse(expr).expect(expr);
        let got: Vec<&str> = (traces.iter().zip(["handled", "failed"]))
            .filter(|(t, _)| filter.matches(t))
            .map(|(_, name)| name)
            .collect();
        assert_eq!(&got, want, "{expr}");
    }
    daemon.shutdown().await;
}
