//! The server: flags, files, limits, errors, timeouts and shutdown. The real binary over HTTP on loopback (see `common`).

mod common;

#[allow(unused_imports)]
use common::prelude::*;
use common::*;

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
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unexpected argument '--nope'"));
    // Every flag has its environment variable, shown in the help.
    for variable in [
        "REFTRACK_DB",
        "REFTRACK_TRUSTED_PROXY",
        "REFTRACK_DB_TIMEOUT",
        "REFTRACK_RATE_LIMIT",
    ] {
        assert!(text.contains(variable), "{variable}");
    }
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

#[test]
fn rate_limits_answer_429_with_retry_after() {
    let (server, _) = server(&[
        "--rate-limit",
        "2",
        "--allow-origin",
        "https://www.acme.test",
    ]);
    let origin = [("Origin", "https://www.acme.test")];
    for n in 0..10 {
        let body = signup(80_000 + n).to_string();
        let reply = server.request("POST", "/v1/signups", &origin, body.as_bytes());
        assert_eq!(reply.status, 201, "within the burst: {}", reply.body);
    }
    let body = signup(80_100).to_string();
    let reply = server.request("POST", "/v1/signups", &origin, body.as_bytes());
    assert_eq!(reply.status, 429, "{}", reply.body);
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert!(
        reply.error().starts_with("too many requests"),
        "{}",
        reply.body
    );
    // The browser may read the answer and its Retry-After.
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://www.acme.test")
    );
    assert_eq!(
        reply.header("access-control-expose-headers"),
        Some("Retry-After")
    );
    let click = server.request("GET", "/r/YWxleC1zbWl0aA", &[], b"");
    assert_eq!(
        click.status, 429,
        "the partner links share the address's budget"
    );
    std::thread::sleep(Duration::from_millis(1100));
    let reply = server.request("POST", "/v1/signups", &origin, body.as_bytes());
    assert_eq!(reply.status, 201, "a second later: {}", reply.body);
    // Not the authenticated routes: the program owner's own server is not throttled.
    assert_eq!(server.list().len(), 11);
}

#[test]
fn stalled_and_idle_connections_are_closed_and_capped() {
    let dir = temp_dir();
    let db = dir.join("reftrack.db");
    // A 256-file limit, as the probe had: 370 stalled sockets must not starve a real request.
    let collector = env!("CARGO_BIN_EXE_reftrack-collector");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 256 && exec {collector} --listen 127.0.0.1:0 --db {} --www {} --dist {} \
             --request-timeout 1 --max-connections-per-address 1000 --secret {SECRET}",
            database(&db),
            dir.display(),
            dir.display()
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let server = Server {
        addr: line.trim().rsplit("http://").next().unwrap().to_owned(),
        child,
    };
    let mut stuck = stalled(&server.addr, 370);
    let started = std::time::Instant::now();
    assert_eq!(server.post_signup(&signup(81_000)).status, 201);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    // The stalled ones were closed at the deadline.
    let mut buf = [0u8; 64];
    let stream = &mut stuck[0];
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert!(matches!(stream.read(&mut buf), Ok(0) | Err(_)));
    // An idle keep-alive connection is closed too.
    let mut idle = TcpStream::connect(&server.addr).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = idle.read(&mut [0u8; 4096]).unwrap();
    assert!(n > 0, "the first request is answered");
    let waited = std::time::Instant::now();
    assert!(matches!(idle.read(&mut buf), Ok(0) | Err(_)));
    assert!(
        waited.elapsed() < Duration::from_secs(4),
        "{:?}",
        waited.elapsed()
    );
}

#[test]
fn sigterm_with_a_half_sent_request_exits_within_the_drain() {
    let (mut server, _) = server(&["--drain-seconds", "2"]);
    let _stuck = stalled(&server.addr, 3);
    let mut body = TcpStream::connect(&server.addr).unwrap();
    body.write_all(b"POST /v1/signups HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"a\":")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
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

#[test]
fn errors_carry_a_reason_and_authentication_a_challenge() {
    let (server, _) = server(&[]);
    let put = server.request(
        "PUT",
        "/v1/signups",
        &[("Authorization", "Bearer test-secret")],
        b"{}",
    );
    assert_eq!(
        (put.status, put.error().as_str()),
        (405, "method not allowed")
    );
    let long = format!("/v1/partners?x={}", "a".repeat(9000));
    let reply = server.request("GET", &long, &[], b"");
    assert_eq!(reply.status, 414);
    assert!(
        reply.error().starts_with("the request target is longer"),
        "{}",
        reply.body
    );
    let big = "b".repeat(17_000);
    let reply = server.request("GET", "/healthz", &[("X-Big", &big)], b"");
    assert_eq!(reply.status, 431);
    assert!(
        reply.error().starts_with("the request headers are larger"),
        "{}",
        reply.body
    );
    let reply = server.request("GET", "/v1/partners?since=%FF", &[], b"");
    assert_eq!(reply.status, 401, "authentication comes first");
    let auth = [("Authorization", "Bearer test-secret")];
    let reply = server.request("GET", "/v1/partners?since=%FF", &auth, b"");
    assert_eq!(reply.status, 400);
    assert!(!reply.error().is_empty(), "{}", reply.body);
    let denied = server.request("GET", "/v1/signups", &[], b"");
    assert_eq!(denied.status, 401);
    assert_eq!(
        denied.header("www-authenticate"),
        Some("Bearer realm=\"reftrack\"")
    );
    let lower = server.request(
        "GET",
        "/v1/signups",
        &[("Authorization", "bearer test-secret")],
        b"",
    );
    assert_eq!(lower.status, 200, "the scheme is case-insensitive");
    assert_eq!(lower.header("x-content-type-options"), Some("nosniff"));
    // What hyper answers by itself, before any route: not HTTP, or past its 64 KiB buffer.
    for (raw, status, reason) in [
        (
            b"GARBAGE\r\n\r\n".to_vec(),
            "400",
            "the request is not valid HTTP/1.1",
        ),
        (
            [
                b"GET /healthz HTTP/1.1\r\nX-Big: ".to_vec(),
                vec![b'a'; 300_000],
                b"\r\n\r\n".to_vec(),
            ]
            .concat(),
            "431",
            "the request line and headers are too large",
        ),
    ] {
        let mut stream = TcpStream::connect(&server.addr).unwrap();
        let _ = stream.write_all(&raw);
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let reply = Reply::parse(&answer);
        assert_eq!(reply.status.to_string(), status, "{}", reply.body);
        assert_eq!(reply.error(), reason);
    }
    let health = server.request("GET", "/healthz", &[], b"");
    assert_eq!(
        (health.status, health.json()["status"].clone()),
        (200, json!("ok"))
    );
}

#[test]
fn static_files_stay_inside_their_folders() {
    let (server, db) = server(&[]);
    let site = db.parent().unwrap();
    std::fs::write(site.join("dist/.env"), "SECRET=1").unwrap();
    std::fs::write(site.join("outside.txt"), "private").unwrap();
    std::os::unix::fs::symlink(site.join("outside.txt"), site.join("www/leak.txt")).unwrap();
    std::fs::write(site.join("dist/reftrack.d.ts"), "export {};").unwrap();
    std::fs::write(site.join("www/dashboard.html"), "<h1>dashboard</h1>").unwrap();
    std::fs::write(site.join("dist/big.js"), "/* reftrack */ ".repeat(400)).unwrap();
    for path in [
        "/sdk/.env",
        "/sdk/%2Eenv",
        "/leak.txt",
        &format!("/{}", "a".repeat(256)),
    ] {
        let reply = server.request("GET", path, &[], b"");
        assert_eq!(reply.status, 404, "{path}: {}", reply.body);
        assert!(!reply.body.contains("SECRET") && !reply.body.contains("private"));
    }
    let types = server.request("GET", "/sdk/reftrack.d.ts", &[], b"");
    assert_eq!(
        types.header("content-type"),
        Some("application/typescript; charset=utf-8")
    );
    assert_eq!(types.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(types.header("cache-control"), Some("public, max-age=300"));
    let dashboard = server.request("GET", "/dashboard.html", &[], b"");
    assert!(dashboard
        .header("content-security-policy")
        .is_some_and(
            |csp| csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'")
        ));
    assert_eq!(dashboard.header("cache-control"), Some("no-cache"));
    let fetch = |encoding: &str, extra: &str| {
        let mut stream = TcpStream::connect(&server.addr).unwrap();
        write!(
            stream,
            "GET /sdk/big.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: {encoding}\r\n{extra}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        // Names lower-cased, values as sent.
        let head = String::from_utf8_lossy(&raw[..end])
            .lines()
            .map(|line| match line.split_once(": ") {
                Some((name, value)) => format!("{}: {value}", name.to_ascii_lowercase()),
                None => line.to_ascii_lowercase(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        (head, raw[end + 4..].to_vec())
    };
    for encoding in ["gzip", "br"] {
        let (head, body) = fetch(encoding, "");
        assert!(
            head.contains(&format!("content-encoding: {encoding}")),
            "{head}"
        );
        assert!(head.contains("vary: accept-encoding"), "{head}");
        assert!(body.len() < 6000 / 2, "compressed: {} bytes", body.len());
        assert_eq!(
            fetch(encoding, "").1,
            body,
            "the same bytes, from the cache"
        );
        let modified = head
            .lines()
            .find_map(|l| l.strip_prefix("last-modified: "))
            .unwrap()
            .to_owned();
        let (again, _) = fetch(encoding, &format!("If-Modified-Since: {modified}\r\n"));
        assert!(again.starts_with("http/1.1 304"), "{again}");
    }
    // A new version of the file is compressed anew.
    let (_, before) = fetch("gzip", "");
    std::fs::write(site.join("dist/big.js"), "/* reftrack 2 */ ".repeat(500)).unwrap();
    let (_, after) = fetch("gzip", "");
    assert_ne!(before, after);
}
