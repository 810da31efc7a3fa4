//! Credit decided by evidence: the attacks a probe made on who is credited, each as a request
//! sequence against the real binary (see `common`), on SQLite and on PostgreSQL.

mod common;

#[allow(unused_imports)]
use common::prelude::*;
use common::*;

const SIGNUP_SECRET: &str = "site-server-secret";

/// A signup claiming `customer` for `partner`, carrying `xid`.
fn claim(n: usize, customer: &str, partner: &str, xid: Option<&str>) -> Value {
    let mut body = signup(n);
    body["customer_key"] = json!(customer);
    if customer.contains('@') {
        body["email"] = json!(customer);
    }
    body["partner_key"] = json!(partner);
    body["xid"] = json!(xid);
    body
}

fn report(server: &Server, query: &str) -> Value {
    let reply = server.request("GET", &format!("/v1/partners{query}"), &auth(), b"");
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

fn partner_row(report: &Value, key: &str) -> Value {
    report["partners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["partner_key"] == key)
        .cloned()
        .unwrap_or(Value::Null)
}

fn listed<'a>(list: &'a [Value], event_id: &str) -> &'a Value {
    list.iter()
        .find(|r| r["event_id"] == event_id)
        .unwrap_or_else(|| panic!("{event_id} is listed"))
}

#[test]
fn attack_1_an_earlier_anonymous_claim_does_not_take_a_signed_signups_credit() {
    let (server, _) = server(&[
        "--site-url",
        "https://www.acme.test/",
        "--signup-secret",
        SIGNUP_SECRET,
    ]);
    // The attacker clicks their own partner link, then claims the victim's email with that click.
    let mallory_xid = xid_of(&click(
        &server,
        "/r/mallory",
        &[("User-Agent", "Attacker/1")],
    ));
    let theft = claim(1, "victim@example.com", "mallory", Some(&mallory_xid));
    let stolen = server.post_signup(&theft);
    assert_eq!(stolen.status, 201, "{}", stolen.body);

    // The victim really arrives through Alex's link and signs up; the site's server signed it.
    let alex_xid = xid_of(&click(&server, "/r/alex", &[("User-Agent", "Victim/1")]));
    let mut genuine = claim(2, "victim@example.com", "alex", Some(&alex_xid));
    genuine["customer_hash"] = json!(customer_hash(SIGNUP_SECRET, "victim@example.com"));
    let answer = server.post_signup(&genuine);
    assert_eq!(
        (answer.status, answer.json()["event_id"].clone()),
        (201, genuine["event_id"].clone()),
        "the genuine signup is stored as itself: {}",
        answer.body
    );

    let list = server.list();
    let real = listed(&list, genuine["event_id"].as_str().unwrap());
    assert_eq!(
        real["name"], "Jane Doe",
        "the genuine signup's fields are kept"
    );
    assert_eq!(real["xid"], json!(alex_xid));
    assert_eq!(real["credit"]["credited"], true, "{real}");
    assert_eq!(real["credit"]["standing"], "confirmed");
    assert_eq!(real["credit"]["contested"], true);
    assert!(
        real.get("customer_hash").is_none(),
        "the proof is not stored"
    );
    let fake = listed(&list, theft["event_id"].as_str().unwrap());
    assert_eq!(fake["credit"]["credited"], false);
    assert_eq!(
        fake["credit"]["reason"],
        "not credited: another claim ranks higher (confirmed by the site's server)"
    );

    let report = report(&server, "");
    let (alex, mallory) = (
        partner_row(&report, "alex"),
        partner_row(&report, "mallory"),
    );
    assert_eq!(
        (alex["signups"].clone(), alex["contested"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(
        (mallory["signups"].clone(), mallory["contested"].clone()),
        (json!(0), json!(1)),
        "{report}"
    );
}

#[test]
fn attack_1_without_signing_a_click_backed_claim_beats_an_earlier_bare_one() {
    let (server, _) = server(&["--site-url", "https://www.acme.test/"]);
    // Claimed first, with nothing behind it but a cookie the attacker wrote.
    let theft = claim(1, "victim@example.com", "mallory", None);
    assert_eq!(server.post_signup(&theft).status, 201);
    let alex_xid = xid_of(&click(&server, "/r/alex", &[]));
    let genuine = claim(2, "victim@example.com", "alex", Some(&alex_xid));
    assert_eq!(server.post_signup(&genuine).status, 201);
    let list = server.list();
    let real = listed(&list, genuine["event_id"].as_str().unwrap());
    assert_eq!(
        (
            real["credit"]["credited"].clone(),
            real["credit"]["standing"].clone()
        ),
        (json!(true), json!("clicked")),
        "{real}"
    );
    assert_eq!(partner_row(&report(&server, ""), "alex")["signups"], 1);
}

#[test]
fn attack_2_the_answer_does_not_tell_who_is_a_customer() {
    let (server, _) = server(&[]);
    assert_eq!(
        server
            .post_signup(&claim(1, "known@example.com", "alex", None))
            .status,
        201
    );
    // A probe for a customer that exists and one that does not: the same answer, each its own id.
    let probe = |n: usize, customer: &str| {
        let body = claim(n, customer, "mallory", None);
        let reply = server.post_signup(&body);
        assert_eq!(reply.json()["event_id"], body["event_id"]);
        (reply.status, reply.json()["status"].clone())
    };
    assert_eq!(
        probe(2, "known@example.com"),
        probe(3, "nobody@example.com")
    );
    assert_eq!(probe(4, "known@example.com"), (201, json!("created")));
    // Only the one who holds a signup's random event_id can learn that it was stored.
    let resent = server.post_signup(&claim(1, "known@example.com", "alex", None));
    assert_eq!(
        (resent.status, resent.json()["status"].clone()),
        (200, json!("duplicate"))
    );
}

#[test]
fn attack_3_an_xid_the_collector_never_issued_credits_no_conversion() {
    let (server, _) = server(&[]);
    let claimed = claim(1, "cus_legacy", "mallory", Some("PS_legacy_xid_42"));
    assert_eq!(server.post_signup(&claimed).status, 201);
    let conversion = json!({"xid": "PS_legacy_xid_42", "customer_key": "cus_legacy",
                            "amount": 9900, "currency": "usd"})
    .to_string();
    let reply = server.request("POST", "/conversion/xid", &auth(), conversion.as_bytes());
    assert_eq!(
        (reply.status, reply.error()),
        (404, "unknown xid".to_owned())
    );
    assert_eq!(server.list().len(), 1, "no conversion stored");
    assert_eq!(
        partner_row(&report(&server, ""), "mallory")["conversions"],
        0
    );

    // The same xid signed by the site's server, or imported, is known.
    let dir = temp_dir();
    let server = Server::start(
        &dir.join("reftrack.db"),
        &["--secret", SECRET, "--signup-secret", SIGNUP_SECRET],
    );
    let mut signed = claimed.clone();
    signed["customer_hash"] = json!(customer_hash(SIGNUP_SECRET, "cus_legacy"));
    assert_eq!(server.post_signup(&signed).status, 201);
    let reply = server.request("POST", "/conversion/xid", &auth(), conversion.as_bytes());
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(
        partner_row(&report(&server, ""), "mallory")["conversions"],
        1
    );
}

#[test]
fn attack_4_one_address_changing_its_user_agent_does_not_inflate_clicks() {
    let (server, _) = server(&["--site-url", "https://www.acme.test/", "--rate-limit", "0"]);
    let mut xids = std::collections::HashSet::new();
    for n in 0..50 {
        let reply = click(&server, "/r/alex", &[("User-Agent", &format!("Agent/{n}"))]);
        assert_eq!(reply.status, 302);
        xids.insert(xid_of(&reply));
    }
    let alex = partner_row(&report(&server, ""), "alex");
    assert_eq!(
        (alex["clicks"].clone(), alex["suppressed_clicks"].clone()),
        (json!(3), json!(47)),
        "three visitors an hour from one network, the rest held back: {alex}"
    );
    assert_eq!(
        xids.len(),
        3,
        "the held-back visitors carry a recorded click id on"
    );
    // Another network is other visitors.
    let other = server.request_from(
        "127.0.1.1",
        "GET",
        "/r/alex",
        &[("User-Agent", "Agent/0")],
        b"",
    );
    assert_eq!(other.status, 302);
    assert_eq!(partner_row(&report(&server, ""), "alex")["clicks"], 4);

    // An anonymous claim does not make an invented partner known to Partnero's customer API.
    assert_eq!(
        server.post_signup(&claim(1, "c1", "ghost", None)).status,
        201
    );
    let customer = json!({"partner": {"key": "ghost"}, "key": "c1"}).to_string();
    let reply = server.request("POST", "/v1/customers", &auth(), customer.as_bytes());
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.json()["message"], "Invalid partner key");
}

#[test]
fn a_wrong_customer_hash_is_refused_with_a_reason_and_stores_nothing() {
    let (server, _) = server(&["--signup-secret", SIGNUP_SECRET]);
    for hash in [customer_hash("another-secret", "cus_1"), "nothex".into()] {
        let mut body = claim(1, "cus_1", "alex", None);
        body["customer_hash"] = json!(hash);
        let reply = server.post_signup(&body);
        assert_eq!(reply.status, 403, "{}", reply.body);
        assert!(
            reply
                .error()
                .starts_with("customer_hash does not match customer_key"),
            "{}",
            reply.body
        );
    }
    assert!(server.list().is_empty());
}

#[test]
fn required_signatures_store_unsigned_claims_without_credit() {
    let (server, _) = server(&["--signup-secret", SIGNUP_SECRET, "--require-signed-signups"]);
    let unsigned = claim(1, "cus_1", "mallory", None);
    assert_eq!(server.post_signup(&unsigned).status, 201);
    let mut signed = claim(2, "cus_2", "alex", None);
    signed["customer_hash"] = json!(customer_hash(SIGNUP_SECRET, "cus_2"));
    assert_eq!(server.post_signup(&signed).status, 201);
    let list = server.list();
    let stored = listed(&list, unsigned["event_id"].as_str().unwrap());
    assert_eq!(stored["credit"]["credited"], false);
    assert_eq!(stored["credit"]["standing"], "unsigned");
    let report = report(&server, "");
    assert_eq!(partner_row(&report, "alex")["signups"], 1);
    assert_eq!(partner_row(&report, "mallory")["signups"], 0);
}

#[test]
fn the_registry_decides_which_partners_links_and_claims_credit() {
    let (server, _) = server(&[
        "--site-url",
        "https://www.acme.test/",
        "--registered-partners-only",
    ]);
    let body = json!({"name": "Alex Smith", "email": "alex@partners.test"}).to_string();
    let created = server.request("POST", "/v1/partners/alex", &auth(), body.as_bytes());
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.json()["status"], "active");
    assert_eq!(created.json()["registered"], true);
    let again = server.request("POST", "/v1/partners/alex", &auth(), body.as_bytes());
    assert_eq!(again.status, 409);
    let shown = server.request("GET", "/v1/partners/alex", &auth(), b"");
    assert_eq!(shown.json()["name"], "Alex Smith");
    assert_eq!(
        server
            .request("GET", "/v1/partners/nobody", &auth(), b"")
            .status,
        404
    );
    let bad = server.request(
        "PATCH",
        "/v1/partners/alex",
        &auth(),
        br#"{"status":"gone"}"#,
    );
    assert_eq!(bad.status, 400);
    assert_eq!(
        server.request("POST", "/v1/partners/alex", &[], b"").status,
        401
    );

    // A registered partner's link attributes; an invented key's leads to the site without it.
    let link = click(&server, "/r/alex", &[]);
    assert!(link.header("location").unwrap().contains("ps_xid="));
    let invented = click(&server, "/r/invented", &[]);
    assert_eq!(invented.status, 302);
    assert_eq!(invented.header("location"), Some("https://www.acme.test/"));
    let ghost = claim(1, "cus_1", "invented", None);
    assert_eq!(server.post_signup(&ghost).status, 201);
    let list = server.list();
    assert_eq!(
        listed(&list, ghost["event_id"].as_str().unwrap())["credit"]["standing"],
        "unattributed"
    );

    // Paused: links lead to the site unattributed, new claims do not credit.
    let paused = server.request(
        "PATCH",
        "/v1/partners/alex",
        &auth(),
        br#"{"status":"paused"}"#,
    );
    assert_eq!(paused.json()["status"], "paused");
    let link = click(&server, "/r/alex", &[("User-Agent", "Other/1")]);
    assert_eq!(link.header("location"), Some("https://www.acme.test/"));
    assert_eq!(
        server.post_signup(&claim(2, "cus_2", "alex", None)).status,
        201
    );
    let report = report(&server, "");
    let alex = partner_row(&report, "alex");
    assert_eq!(
        (
            alex["clicks"].clone(),
            alex["signups"].clone(),
            alex["status"].clone()
        ),
        (json!(1), json!(0), json!("paused")),
        "{report}"
    );
    assert!(
        partner_row(&report, "invented")["clicks"].is_null()
            || partner_row(&report, "invented")["clicks"] == 0
    );
}

#[test]
fn a_landing_through_a_hand_made_link_is_a_click_with_the_same_limits() {
    let (server, _) = server(&["--allow-origin", "https://www.acme.test"]);
    let post = |body: Value, agent: &str| {
        server.request(
            "POST",
            "/v1/clicks",
            &[
                ("Origin", "https://www.acme.test"),
                ("User-Agent", agent),
                ("Content-Type", "text/plain;charset=UTF-8"),
            ],
            body.to_string().as_bytes(),
        )
    };
    let landing = json!({"public_key": "pk_test_123", "partner_key": "alex",
                         "page_url": "https://www.acme.test/?ps_partner_key=YWxleA"});
    let first = post(landing.clone(), "Visitor/1");
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(
        first.header("access-control-allow-origin"),
        Some("https://www.acme.test")
    );
    let xid = first.json()["xid"].as_str().unwrap().to_owned();
    assert_eq!(xid.len(), 20);
    assert_eq!(
        post(landing.clone(), "Visitor/1").json()["xid"],
        json!(xid),
        "a reload"
    );
    for n in 2..10 {
        assert_eq!(post(landing.clone(), &format!("Visitor/{n}")).status, 200);
    }
    let alex = partner_row(&report(&server, ""), "alex");
    assert_eq!(
        (alex["clicks"].clone(), alex["suppressed_clicks"].clone()),
        (json!(3), json!(6))
    );
    // A signup carrying the landing's xid is backed by a click.
    let backed = claim(1, "cus_1", "alex", Some(&xid));
    assert_eq!(server.post_signup(&backed).status, 201);
    assert_eq!(server.list()[0]["credit"]["standing"], "clicked");
    // Refusals say why.
    let bad = post(
        json!({"public_key": "pk_test_123", "partner_key": "a b"}),
        "V/1",
    );
    assert_eq!(bad.status, 400);
    assert!(
        bad.error().starts_with("partner_key must be"),
        "{}",
        bad.body
    );
    let other = server.request(
        "POST",
        "/v1/clicks",
        &[("Origin", "https://evil.example")],
        landing.to_string().as_bytes(),
    );
    assert_eq!(other.status, 403);
}

#[test]
fn a_contested_customer_is_shown_per_program() {
    let (server, _) = server(&[]);
    let mut other = claim(3, "cus_1", "sam", None);
    other["public_key"] = json!("pk_other");
    for body in [
        claim(1, "cus_1", "alex", None),
        claim(2, "cus_1", "mallory", None),
        other,
    ] {
        assert_eq!(server.post_signup(&body).status, 201);
    }
    let program = report(&server, "?public_key=pk_test_123");
    assert_eq!(program["public_key"], "pk_test_123");
    assert_eq!(partner_row(&program, "alex")["signups"], 1);
    assert_eq!(partner_row(&program, "alex")["contested"], 1);
    assert_eq!(partner_row(&program, "mallory")["contested"], 1);
    assert_eq!(partner_row(&program, "sam")["signups"], 0, "{program}");
    let other = report(&server, "?public_key=pk_other");
    assert_eq!(partner_row(&other, "sam")["signups"], 1);
    assert_eq!(partner_row(&other, "sam")["contested"], 0);
    assert_eq!(
        server
            .request("GET", "/v1/partners?public_key=pk%20x", &auth(), b"")
            .status,
        400
    );
}
