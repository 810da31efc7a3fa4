//! The collector as a client meets it: the real binary on an ephemeral loopback port, a real
//! SQLite file, and plain HTTP/1.1 over a TCP socket (so that malformed and oversized requests can
//! be sent exactly as written).

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

const SECRET: &str = "test-secret";

fn temp_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir = std::env::temp_dir().join(format!(
        "reftrack-collector-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(db: &Path, extra: &[&str]) -> Server {
        Server::start_logging(db, extra, Stdio::inherit())
    }

    /// The collector with its log (standard error) going to `log`.
    fn start_logging(db: &Path, extra: &[&str], log: Stdio) -> Server {
        let site = db.parent().unwrap();
        std::fs::create_dir_all(site.join("dist")).unwrap();
        std::fs::create_dir_all(site.join("www")).unwrap();
        std::fs::write(site.join("dist/reftrack.js"), "/* sdk */").unwrap();
        std::fs::write(site.join("www/index.html"), "<h1>demo</h1>").unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_reftrack-collector"))
            .args(["--listen", "127.0.0.1:0", "--db"])
            .arg(db)
            .arg("--dist")
            .arg(site.join("dist"))
            .arg("--www")
            .arg(site.join("www"))
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("the collector starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .expect("the collector prints its address")
            .to_owned();
        Server { child, addr }
    }

    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        // A server may answer (413) before reading all of a large body; that is fine.
        let _ = stream.write_all(body);
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        Reply::parse(&raw)
    }

    fn post_signup(&self, body: &Value) -> Reply {
        self.request(
            "POST",
            "/v1/signups",
            &[("Content-Type", "text/plain;charset=UTF-8")],
            body.to_string().as_bytes(),
        )
    }

    fn list(&self) -> Vec<Value> {
        let reply = self.request(
            "GET",
            "/v1/signups?limit=100000",
            &[("Authorization", &format!("Bearer {SECRET}"))],
            b"",
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        serde_json::from_str::<Vec<Value>>(&reply.body).unwrap()
    }

    fn kill(mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn parse(raw: &[u8]) -> Reply {
        let text = String::from_utf8_lossy(raw);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let chunked = headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
        let body = if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .expect("an error reason")
            .to_owned()
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

fn signup(n: usize) -> Value {
    json!({
        "event_id": format!("00000000-0000-4000-8000-{n:012}"),
        "type": "signup",
        "public_key": "pk_test_123",
        "customer_key": format!("cus_{n}"),
        "email": format!("user{n}@example.com"),
        "name": "Jane Doe",
        "partner_key": "alex-smith",
        "xid": "clk_9f8e7d",
        "origin": "www.acme.test",
        "page_url": "https://www.acme.test/signup",
        "referrer": null,
        "user_agent": "Mozilla/5.0",
        "sub_ids": ["a"],
        "meta": {"plan": "pro"},
        "created_at": "2026-11-22T10:00:00.000Z"
    })
}

fn server(extra: &[&str]) -> (Server, PathBuf) {
    let db = temp_dir().join("reftrack.db");
    let mut args = vec!["--secret", SECRET];
    args.extend_from_slice(extra);
    (Server::start(&db, &args), db)
}

#[test]
fn a_signup_is_created_once_and_listed_with_every_field() {
    let (server, _) = server(&[]);
    let first = server.post_signup(&signup(1));
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.json()["status"], "created");

    let again = server.post_signup(&signup(1));
    assert_eq!(
        (again.status, again.json()["status"].clone()),
        (200, json!("duplicate")),
        "same event_id"
    );

    let mut same_customer = signup(1);
    same_customer["event_id"] = json!("00000000-0000-4000-8000-999999999999");
    let dup = server.post_signup(&same_customer);
    assert_eq!(
        (dup.status, dup.json()["status"].clone()),
        (200, json!("duplicate")),
        "same customer"
    );

    let mut other_program = same_customer.clone();
    other_program["public_key"] = json!("pk_other");
    assert_eq!(
        server.post_signup(&other_program).status,
        201,
        "another program's customer"
    );

    let list = server.list();
    assert_eq!(list.len(), 2);
    let stored = &list[1];
    for (field, value) in signup(1).as_object().unwrap() {
        assert_eq!(&stored[field], value, "{field}");
    }
    assert!(stored["received_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(list[0]["public_key"], "pk_other", "newest first");
}

#[test]
fn bad_input_is_refused_with_a_reason_and_stores_nothing() {
    let (server, _) = server(&["--allow-origin", "http://www.acme.test"]);
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (
            b"{\"event_id\": ".to_vec(),
            400,
            "the body is not valid JSON",
        ),
        (b"[]".to_vec(), 400, "the body must be a JSON object"),
        (
            json!({"type": "signup"}).to_string().into_bytes(),
            400,
            "event_id is required",
        ),
        (
            {
                let mut s = signup(2);
                s.as_object_mut().unwrap().remove("customer_key");
                s.as_object_mut().unwrap().remove("email");
                s.to_string().into_bytes()
            },
            400,
            "customer_key is required",
        ),
        (
            {
                let mut s = signup(2);
                s["customer_key"] = json!(42);
                s.to_string().into_bytes()
            },
            400,
            "customer_key must be a string",
        ),
        (
            {
                let mut s = signup(2);
                s["email"] = json!("not-an-email");
                s.to_string().into_bytes()
            },
            400,
            "email is not a valid email address",
        ),
        (
            {
                let mut s = signup(2);
                s["sub_ids"] = json!({"a": 1});
                s.to_string().into_bytes()
            },
            400,
            "sub_ids must be",
        ),
        (
            {
                let mut s = signup(2);
                s["meta"] = json!({"note": "x".repeat(70_000)});
                s.to_string().into_bytes()
            },
            413,
            "the body is larger than 65536 bytes",
        ),
    ];
    for (body, status, reason) in cases {
        let reply = server.request("POST", "/v1/signups", &[], &body);
        assert_eq!(reply.status, status, "{reason}: {}", reply.body);
        assert!(
            reply.error().starts_with(reason),
            "{reason}: {}",
            reply.body
        );
    }

    let body = signup(3).to_string();
    let refused = server.request(
        "POST",
        "/v1/signups",
        &[("Origin", "http://evil.test")],
        body.as_bytes(),
    );
    assert_eq!(refused.status, 403);
    assert_eq!(refused.error(), "this origin may not post signups");
    assert_eq!(
        refused.header("access-control-allow-origin"),
        Some("http://evil.test"),
        "readable by the SDK"
    );

    let preflight = server.request(
        "OPTIONS",
        "/v1/signups",
        &[("Origin", "http://www.acme.test")],
        b"",
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("http://www.acme.test")
    );

    assert_eq!(server.list().len(), 0, "nothing stored half-way");

    let allowed = server.request(
        "POST",
        "/v1/signups",
        &[("Origin", "http://www.acme.test")],
        body.as_bytes(),
    );
    assert_eq!(allowed.status, 201, "{}", allowed.body);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("http://www.acme.test")
    );
    assert_eq!(server.list().len(), 1);
}

#[test]
fn public_keys_limit_the_programs_and_each_refusal_is_logged_without_the_body() {
    let dir = temp_dir();
    let log_path = dir.join("collector.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let server = Server::start_logging(
        &dir.join("reftrack.db"),
        &["--public-key", "pk_test_123", "--public-key", "pk_other"],
        Stdio::from(log),
    );
    assert_eq!(server.post_signup(&signup(1)).status, 201);
    let mut typo = signup(2);
    typo["public_key"] = json!("pk_tset_123");
    let origin = [("Origin", "https://www.acme.test")];
    let refused = server.request("POST", "/v1/signups", &origin, typo.to_string().as_bytes());
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.error(),
        "unknown public key pk_tset_123: this collector takes signups for pk_test_123, pk_other"
    );
    assert_eq!(
        refused.header("access-control-allow-origin"),
        Some("https://www.acme.test"),
        "the browser may read why"
    );
    let list = server.request(
        "GET",
        "/v1/signups",
        &[("Authorization", "Bearer wrong")],
        b"",
    );
    assert_eq!(list.status, 401);
    drop(server);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("signups taken for public keys: pk_test_123, pk_other"),
        "{log}"
    );
    assert!(log.contains("no --secret"), "{log}");
    let refusals: Vec<&str> = log.lines().filter(|l| l.contains("refused")).collect();
    assert_eq!(refusals.len(), 2, "{log}");
    assert_eq!(
        refusals[0],
        "reftrack-collector: refused 403 POST /v1/signups origin=https://www.acme.test: \
         unknown public key pk_tset_123: this collector takes signups for pk_test_123, pk_other"
    );
    assert!(refusals[1].starts_with("reftrack-collector: refused 401 GET /v1/signups origin=-"));
    assert!(
        !log.contains("user2@example.com") && !log.contains("Jane"),
        "no body in the log"
    );
}

#[test]
fn the_authenticated_routes_need_the_bearer_secret() {
    let (server, _) = server(&[]);
    let conversion = json!({"xid": "clk_9f8e7d", "customer_key": "cus_7", "email": "a@b.co", "external_type": "stripe"}).to_string();
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("test-secret"),
        Some("Bearer test-secre"),
    ] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        let list = server.request("GET", "/v1/signups", &headers, b"");
        assert_eq!(list.status, 401, "{auth:?}");
        assert_eq!(list.error(), "missing or wrong bearer token");
        let post = server.request("POST", "/conversion/xid", &headers, conversion.as_bytes());
        assert_eq!(post.status, 401, "{auth:?}");
    }
    let auth = [("Authorization", "Bearer test-secret")];
    let created = server.request("POST", "/conversion/xid", &auth, conversion.as_bytes());
    assert_eq!(created.status, 201, "{}", created.body);
    let again = server.request("POST", "/conversion/xid", &auth, conversion.as_bytes());
    assert_eq!(
        (again.status, again.json()["status"].clone()),
        (200, json!("duplicate"))
    );
    let bad = server.request(
        "POST",
        "/conversion/xid",
        &auth,
        br#"{"customer_key": "c"}"#,
    );
    assert_eq!(
        (bad.status, bad.error()),
        (400, "xid is required".to_owned())
    );
    let list = server.list();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["type"], "conversion");
    assert_eq!(list[0]["external_type"], "stripe");

    let db = temp_dir().join("reftrack.db");
    let no_secret = Server::start(&db, &[]);
    let reply = no_secret.request(
        "GET",
        "/v1/signups",
        &[("Authorization", "Bearer anything")],
        b"",
    );
    assert_eq!(reply.status, 401);
    assert!(reply.error().contains("--secret"));
}

#[test]
fn two_hundred_concurrent_signups_are_all_stored() {
    let (server, _) = server(&[]);
    let server = std::sync::Arc::new(server);
    let threads: Vec<_> = (0..200)
        .map(|n| {
            let server = server.clone();
            std::thread::spawn(move || server.post_signup(&signup(1000 + n)).status)
        })
        .collect();
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(statuses.iter().all(|&s| s == 201), "{statuses:?}");
    assert_eq!(server.list().len(), 200);
}

#[test]
fn every_acknowledged_signup_survives_sigkill() {
    let (server, db) = server(&[]);
    for n in 0..40 {
        assert_eq!(server.post_signup(&signup(5000 + n)).status, 201);
    }
    server.kill();
    let restarted = Server::start(&db, &["--secret", SECRET]);
    let list = restarted.list();
    assert_eq!(list.len(), 40, "every acknowledged signup is on disk");
    assert_eq!(
        restarted.post_signup(&signup(5000)).json()["status"],
        "duplicate"
    );
}

#[test]
fn it_serves_the_sdk_and_the_demo() {
    let (server, _) = server(&[]);
    let sdk = server.request("GET", "/sdk/reftrack.js", &[], b"");
    assert_eq!((sdk.status, sdk.body.as_str()), (200, "/* sdk */"));
    assert!(sdk.header("content-type").unwrap().contains("javascript"));
    let page = server.request("GET", "/", &[], b"");
    assert_eq!((page.status, page.body.as_str()), (200, "<h1>demo</h1>"));
    assert_eq!(server.request("GET", "/missing.html", &[], b"").status, 404);
}

#[test]
fn help_explains_the_flags() {
    let out = Command::new(env!("CARGO_BIN_EXE_reftrack-collector"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen",
        "--db",
        "--secret",
        "--allow-origin",
        "--dist",
        "--www",
    ] {
        assert!(text.contains(flag), "{flag}");
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_reftrack-collector"))
        .arg("--nope")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown flag --nope"));
}

#[test]
fn sigterm_stops_it_gracefully() {
    let (mut server, _) = server(&[]);
    assert_eq!(server.post_signup(&signup(9000)).status, 201);
    let pid = server.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still running 5 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
