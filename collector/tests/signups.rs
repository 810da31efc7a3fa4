//! Signups: storing, listing, refusing, and their limits. The real binary over HTTP on loopback (see `common`).

mod common;

#[allow(unused_imports)]
use common::prelude::*;
use common::*;

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

    // A second claim for the same customer is a claim of its own: stored, and answered as any
    // new one, so the answer tells nobody whether the customer existed.
    let mut same_customer = signup(1);
    same_customer["event_id"] = json!("00000000-0000-4000-8000-999999999999");
    let second = server.post_signup(&same_customer);
    assert_eq!(
        (second.status, second.json()["status"].clone()),
        (201, json!("created")),
        "same customer, another claim"
    );

    let mut other_program = same_customer.clone();
    other_program["public_key"] = json!("pk_other");
    other_program["event_id"] = json!("00000000-0000-4000-8000-888888888888");
    assert_eq!(
        server.post_signup(&other_program).status,
        201,
        "another program's customer"
    );

    let list = server.list();
    assert_eq!(list.len(), 3);
    let stored = &list[2];
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
                s["name"] = json!("x".repeat(40_000));
                s.to_string().into_bytes()
            },
            413,
            "the body is larger than 32768 bytes",
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
        None,
        "a disallowed origin is not told it may read the answer"
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
fn a_signup_at_every_field_limit_fits_the_body_limit() {
    let (server, _) = server(&[]);
    let mut s = signup(3);
    s["sub_ids"] = json!(vec!["x".repeat(250); 20]);
    s["page_url"] = json!("x".repeat(2048));
    s["referrer"] = json!("x".repeat(2048));
    s["user_agent"] = json!("x".repeat(2048));
    s["origin"] = json!("x".repeat(2048));
    s["meta"] = Value::Object(
        (0..20)
            .map(|n| (format!("k{n}"), json!("y".repeat(256))))
            .collect(),
    );
    let body = s.to_string();
    assert!(
        body.len() > 16 * 1024 && body.len() < 32 * 1024,
        "{}",
        body.len()
    );
    let reply = server.request("POST", "/v1/signups", &[], body.as_bytes());
    assert_eq!(reply.status, 201, "{}", reply.body);
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
    let line = |n: usize| -> Value {
        let mut line: Value = serde_json::from_str(refusals[n]).unwrap();
        line.as_object_mut().unwrap().remove("timestamp");
        line
    };
    assert_eq!(
        line(0),
        json!({
            "level": "WARN", "message": "refused", "status": 403, "method": "POST",
            "route": "/v1/signups", "origin": "https://www.acme.test", "held_back": 0,
            "reason": "unknown public key pk_tset_123: this collector takes signups for pk_test_123, pk_other"
        })
    );
    assert_eq!(
        (&line(1)["status"], &line(1)["route"], &line(1)["origin"]),
        (&json!(401), &json!("/v1/signups"), &Value::Null)
    );
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
    // An anonymous signup carrying an xid makes it known to nobody ...
    assert_eq!(server.post_signup(&signup(7)).status, 201);
    let unknown = server.request("POST", "/conversion/xid", &auth, conversion.as_bytes());
    assert_eq!(
        (unknown.status, unknown.error()),
        (404, "unknown xid".into())
    );
    // ... a click id imported from the previous platform is known.
    let dir = temp_dir();
    let xids = dir.join("xids.csv");
    std::fs::write(
        &xids,
        "xid,partner_key,clicked_at\nclk_9f8e7d,alex-smith,2026-11-01T09:30:00Z\nnot one\n",
    )
    .unwrap();
    let server = Server::start(
        &dir.join("reftrack.db"),
        &["--secret", SECRET, "--import-xids", xids.to_str().unwrap()],
    );
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
    assert_eq!(list[0]["partner_key"], "alex-smith");

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
fn two_hundred_concurrent_signups_are_all_stored_in_fewer_commits() {
    let db = temp_dir().join("reftrack.db");
    let log_path = db.parent().unwrap().join("collector.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let server = Server::start_logging(
        &db,
        &[
            "--secret",
            SECRET,
            "--rate-limit",
            "0",
            "--max-connections-per-address",
            "256",
        ],
        Stdio::from(log),
    );
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
    // Group commit: signups that arrived together shared transactions.
    let mut server = std::sync::Arc::into_inner(server).unwrap();
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert!(server.child.wait().unwrap().success());
    let log = std::fs::read_to_string(&log_path).unwrap();
    let line: Value = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == "stopped")
        .unwrap_or_else(|| panic!("{log}"));
    let (writes, commits) = (
        line["writes"].as_u64().unwrap(),
        line["transactions"].as_u64().unwrap(),
    );
    assert_eq!(writes, 200, "{line}");
    assert!(commits < writes, "{line}");
    eprintln!("group commit: {line}");
}

#[test]
fn the_listing_is_paged_with_a_cursor() {
    let (server, _) = server(&[]);
    for n in 0..5 {
        assert_eq!(server.post_signup(&signup(82_000 + n)).status, 201);
    }
    let auth = [("Authorization", "Bearer test-secret")];
    let first = server.request("GET", "/v1/signups?limit=2", &auth, b"");
    assert_eq!(first.status, 200);
    let before = first.header("x-next-before").unwrap().to_owned();
    assert_eq!(
        first.header("link"),
        Some(format!("</v1/signups?limit=2&before={before}>; rel=\"next\"").as_str())
    );
    let page: Vec<Value> = serde_json::from_str(&first.body).unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0]["customer_key"], "cus_82004", "newest first");
    let all = server.list();
    assert_eq!(all.len(), 5);
    let keys: std::collections::HashSet<_> = all.iter().map(|r| r["event_id"].clone()).collect();
    assert_eq!(keys.len(), 5, "no row twice");
    for bad in ["limit=0", "limit=1001", "before=x", "limit=100000"] {
        let reply = server.request("GET", &format!("/v1/signups?{bad}"), &auth, b"");
        assert_eq!(reply.status, 400, "{bad}");
    }
}

#[test]
fn control_characters_and_oversized_meta_are_refused() {
    let (server, _) = server(&[]);
    for (field, value, reason) in [
        (
            "customer_key",
            json!("cus\u{0}1"),
            "customer_key must not contain NUL characters",
        ),
        (
            "customer_key",
            json!("cus\n1"),
            "customer_key must not contain control or invisible formatting characters",
        ),
        (
            "name",
            json!("Ja\u{0}ne"),
            "name must not contain NUL characters",
        ),
        (
            "meta",
            json!({"k": "x".repeat(257)}),
            "meta.k must be at most 256 bytes",
        ),
        (
            "meta",
            json!({"k".repeat(65): 1}),
            "meta keys must be 1-64 bytes",
        ),
        (
            "meta",
            json!({"k": {"nested": 1}}),
            "meta.k must be a string, a number",
        ),
    ] {
        let mut body = signup(83_000);
        body[field] = value;
        let reply = server.post_signup(&body);
        assert_eq!(reply.status, 400, "{field}: {}", reply.body);
        assert!(reply.error().starts_with(reason), "{field}: {}", reply.body);
    }
    assert!(server.list().is_empty(), "nothing stored");
}

#[test]
fn a_listing_read_slowly_does_not_hold_up_signups() {
    let (server, _) = server(&["--rate-limit", "0"]);
    let server = std::sync::Arc::new(server);
    let posts: Vec<_> = (0..8)
        .map(|t| {
            let server = server.clone();
            std::thread::spawn(move || {
                for n in 0..125 {
                    let mut body = signup(90_000 + t * 1000 + n);
                    body["meta"] = json!({ "note": "x".repeat(250) });
                    assert_eq!(server.post_signup(&body).status, 201);
                }
            })
        })
        .collect();
    posts.into_iter().for_each(|p| p.join().unwrap());
    // A client asks for a full page and reads only the first bytes of it, for now.
    let mut slow = TcpStream::connect(&server.addr).unwrap();
    write!(
        slow,
        "GET /v1/signups?limit=1000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SECRET}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut first = [0u8; 64];
    slow.read_exact(&mut first).unwrap();
    assert!(first.starts_with(b"HTTP/1.1 200"));
    let started = std::time::Instant::now();
    assert_eq!(server.post_signup(&signup(99_999)).status, 201);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a signup waited {:?} behind the listing",
        started.elapsed()
    );
    let mut rest = Vec::new();
    slow.read_to_end(&mut rest).unwrap();
    let text = String::from_utf8_lossy(&rest);
    let body = dechunk(&text[text.find("\r\n\r\n").unwrap() + 4..]);
    let rows: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(
        rows.len(),
        1000,
        "the page, whole, from the snapshot it started on"
    );
    assert!(rows.iter().all(|r| r["customer_key"] != "cus_99999"));
}

#[test]
fn the_listing_and_its_csv_export_cover_a_date_range_and_keep_formulas_as_text() {
    const DAY: i64 = 86_400_000;
    let (server, _, set_clock) = clocked(&[]);
    let start = 1_795_000_000_000; // 2026-11-18
    for n in 0..3 {
        set_clock(start + n * DAY);
        let mut body = signup(600 + n as usize);
        if n == 1 {
            body["name"] = json!("=HYPERLINK(\"http://evil.example\",\"Jane\")");
        }
        assert_eq!(server.post_signup(&body).status, 201);
    }
    let auth = [("Authorization", format!("Bearer {SECRET}"))];
    let auth: Vec<(&str, &str)> = auth.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let page = server.request(
        "GET",
        "/v1/signups?since=2026-11-19&until=2026-11-19",
        &auth,
        b"",
    );
    let rows: Vec<Value> = serde_json::from_str(&page.body).unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0]["received_at"]
        .as_str()
        .unwrap()
        .starts_with("2026-11-19"));
    // Paging keeps the range in its next link.
    let first = server.request("GET", "/v1/signups?limit=1&since=2026-11-18", &auth, b"");
    assert!(
        first
            .header("link")
            .unwrap()
            .contains("&since=2026-11-18&until="),
        "{:?}",
        first.header("link")
    );

    let csv = server.request("GET", "/v1/signups.csv?since=2026-11-19", &auth, b"");
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(csv
        .header("content-disposition")
        .unwrap()
        .contains("reftrack-records-2026-11-19-9999-12-31.csv"));
    let lines: Vec<&str> = csv.body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3, "the header and two records: {}", csv.body);
    assert!(lines[0].starts_with("received_at,type,event_id,"));
    assert!(
        lines[2].contains("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"Jane\"\")\""),
        "the formula stays text: {}",
        lines[2]
    );
    assert_eq!(
        server.request("GET", "/v1/signups.csv", &[], b"").status,
        401
    );
    assert_eq!(
        server
            .request("GET", "/v1/signups?since=yesterday", &auth, b"")
            .status,
        400
    );
}
