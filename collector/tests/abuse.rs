//! What a probe of the running collector found, each reproduced as it was done and refused now:
//! security headers skipped by spelling a path differently, a health check that said `ok` while
//! writes failed, a forwarded address believed from anyone, unlimited token guesses, a log
//! flooded by refusals, one address holding every connection, and smaller holes in what is
//! accepted. The real binary over HTTP on loopback (see `common`).

mod common;

use common::*;
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn the_dashboards_headers_hold_however_its_path_is_spelled() {
    let (server, db) = server(&[]);
    let www = db.parent().unwrap().join("www");
    std::fs::write(www.join("dashboard.html"), "<h1>dashboard</h1>").unwrap();
    for path in [
        "/dashboard.html",
        "/%64ashboard.html",
        "//dashboard.html",
        "/dashboard%2ehtml",
        "/./dashboard.html",
    ] {
        let reply = server.request("GET", path, &[], b"");
        if reply.status == 404 {
            continue; // not served at all: nothing to protect
        }
        assert_eq!(reply.status, 200, "{path}");
        assert!(reply.body.contains("dashboard"), "{path}");
        assert!(
            reply
                .header("content-security-policy")
                .is_some_and(|p| p.contains("frame-ancestors 'none'")),
            "{path}: {:?}",
            reply.headers
        );
        assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{path}");
    }
    assert_eq!(
        server.request("GET", "/%64ashboard.html", &[], b"").status,
        200,
        "the probe's spelling is served"
    );
}

#[test]
fn a_client_that_is_not_the_proxy_cannot_forge_its_address() {
    let (server, _) = server(&["--trusted-proxy", "127.0.0.1/32", "--rate-limit", "1"]);
    // Directly, from 127.0.0.2, with a new X-Forwarded-For each time: one client, limited.
    let statuses: Vec<u16> = (0..12)
        .map(|n| {
            let forged = format!("203.0.113.{n}");
            server
                .request_from(
                    "127.0.0.2",
                    "POST",
                    "/v1/signups",
                    &[("X-Forwarded-For", &forged)],
                    signup(90_000 + n).to_string().as_bytes(),
                )
                .status
        })
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    // Through the proxy (127.0.0.1), each forwarded visitor is counted apart.
    for n in 0..12 {
        let visitor = format!("198.51.100.{n}");
        let reply = server.request(
            "POST",
            "/v1/signups",
            &[("X-Forwarded-For", &visitor)],
            signup(91_000 + n).to_string().as_bytes(),
        );
        assert_eq!(reply.status, 201, "{visitor}: {}", reply.body);
    }
}

#[test]
fn wrong_tokens_are_limited_per_address() {
    let (server, _) = server(&[]);
    let guess = |from: &str, token: &str| {
        let auth = format!("Bearer {token}");
        server.request_from(
            from,
            "GET",
            "/v1/partners",
            &[("Authorization", &auth)],
            b"",
        )
    };
    let statuses: Vec<u16> = (0..20)
        .map(|n| guess("127.0.0.2", &format!("guess-{n}")).status)
        .collect();
    assert_eq!(statuses[..10], [401; 10], "{statuses:?}");
    assert_eq!(statuses[10..], [429; 10], "{statuses:?}");
    let limited = guess("127.0.0.2", "guess-x");
    assert!(limited
        .header("retry-after")
        .is_some_and(|s| s.parse::<u64>().unwrap() >= 1));
    assert!(
        limited.error().starts_with("too many wrong tokens"),
        "{}",
        limited.body
    );
    // Another address, with the token, is not held up.
    assert_eq!(guess("127.0.0.3", SECRET).status, 200);
}

#[test]
fn a_flood_of_refusals_writes_a_line_a_second_with_a_count() {
    let db = temp_dir().join("reftrack.db");
    let log_path = db.parent().unwrap().join("collector.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let server = Server::start_logging(
        &db,
        &["--secret", SECRET, "--rate-limit", "1"],
        Stdio::from(log),
    );
    let start = Instant::now();
    let mut refused = 0;
    while start.elapsed() < Duration::from_millis(2500) {
        if server.post_signup(&json!({"bad": true})).status >= 400 {
            refused += 1;
        }
    }
    drop(server);
    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| l.contains("\"refused\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(refused > 100, "the flood was a flood: {refused}");
    // At most one line per reason (400, 429) per second of the flood, and a count of the rest.
    assert!(
        lines.len() <= 2 * 4,
        "{} lines for {refused} refusals:\n{log}",
        lines.len()
    );
    assert!(
        lines.iter().any(|l| l["held_back"].as_u64().unwrap() > 10),
        "{log}"
    );
}

#[test]
fn one_address_cannot_hold_every_connection() {
    let (server, _) = server(&["--max-connections-per-address", "64"]);
    let stalled: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    // The 65th and later were answered 429 and closed at once.
    let mut refused = 0;
    for mut stream in stalled.into_iter().skip(64).take(10) {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        if answer.starts_with("HTTP/1.1 429") && answer.contains("open connections") {
            refused += 1;
        }
    }
    assert_eq!(refused, 10);
    // Another client is served at once.
    let start = Instant::now();
    let reply = server.request_from(
        "127.0.0.2",
        "POST",
        "/v1/signups",
        &[],
        signup(92_000).to_string().as_bytes(),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn sloppy_json_and_sneaky_keys_are_refused() {
    let (server, _) = server(&[]);
    let base = signup(93_000).to_string();
    let duplicated = base.replacen("{", r#"{"customer_key":"cus_victim","#, 1);
    let reply = server.request("POST", "/v1/signups", &[], duplicated.as_bytes());
    assert_eq!(reply.status, 400);
    assert!(reply.error().contains("given twice"), "{}", reply.body);
    let mut big = signup(93_001);
    big["meta"] = json!({"n": 1});
    let huge = big
        .to_string()
        .replace(r#""n":1"#, r#""n":18446744073709551616"#);
    let reply = server.request("POST", "/v1/signups", &[], huge.as_bytes());
    assert_eq!(reply.status, 400);
    assert!(reply.error().contains("2^53"), "{}", reply.body);
    let mut bidi = signup(93_002);
    bidi["customer_key"] = json!("cus_\u{202e}9");
    let reply = server.post_signup(&bidi);
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(server.list().is_empty(), "nothing stored");
}

#[test]
fn a_link_to_a_user_at_the_site_is_refused() {
    let (server, _) = server(&["--site-url", "https://www.acme.test/"]);
    for to in [
        "https://evil.com@www.acme.test/",
        "https://u:p@www.acme.test/x",
    ] {
        let path = format!(
            "/r/alex-smith?to={}",
            to.replace('@', "%40").replace(':', "%3A")
        );
        let reply = server.request("GET", &path, &[], b"");
        assert_eq!(reply.status, 400, "{to}");
        assert!(reply.header("location").is_none());
        assert!(
            reply.error().contains("user name or password"),
            "{}",
            reply.body
        );
    }
}

#[test]
fn http_1_0_is_served_and_what_is_not_http_is_refused() {
    // nginx speaks HTTP/1.0 to its upstream unless told otherwise: the README's own set-up.
    let (server, _) = server(&[]);
    let body = signup(94_000).to_string();
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    write!(
        stream,
        "POST /v1/signups HTTP/1.0\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.0 201"), "{answer}");
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream.write_all(b"HELLO / SPDY/3\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("not valid HTTP/1.1"), "{answer}");
}

#[test]
fn a_database_that_cannot_be_written_is_refused_at_start() {
    if postgres_server().is_some() {
        return; // a read-only SQLite file; PostgreSQL is frozen in the store suite instead
    }
    let dir = temp_dir();
    let db = dir.join("reftrack.db");
    drop(Server::start(&db, &[])); // made and migrated
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_reftrack-collector"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--db",
            &format!("file:{}?mode=ro", db.display()),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(
        said.contains("cannot be written") && said.contains("readonly"),
        "{said}"
    );
}
