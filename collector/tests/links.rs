//! Partner links, clicks, conversions, Partnero's customer API and the partner report. The real binary over HTTP on loopback (see `common`).

mod common;

#[allow(unused_imports)]
use common::prelude::*;
use common::*;

#[test]
fn partner_links_record_one_click_per_visitor_and_hour() {
    const T0: i64 = 1_795_000_000_000;
    let (server, _, set_clock) = clocked(&["--site-url", "https://www.acme.test/"]);
    let first = click(&server, "/r/alex-smith?to=/pricing%3Fplan%3Dpro", &[]);
    assert_eq!(first.status, 302, "{}", first.body);
    let location = first.header("location").unwrap();
    assert!(
        location.starts_with(
            "https://www.acme.test/pricing?plan=pro&ps_partner_key=YWxleC1zbWl0aA%3D%3D&ps_xid="
        ),
        "{location}"
    );
    let xid = xid_of(&first);
    assert!(
        xid.len() >= 16 && xid.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{xid}"
    );
    assert!(
        first.header("set-cookie").is_none(),
        "no cookies without --cookie-domain"
    );
    // A reload half an hour later is the same click.
    set_clock(T0 + 30 * 60 * 1000);
    assert_eq!(xid_of(&click(&server, "/r/alex-smith", &[])), xid);
    // Another browser is another click.
    let other = click(&server, "/r/alex-smith", &[("User-Agent", "Other/1.0")]);
    assert_ne!(xid_of(&other), xid);
    // Past the hour, a new click.
    set_clock(T0 + 61 * 60 * 1000);
    let later = xid_of(&click(&server, "/r/alex-smith", &[]));
    assert_ne!(later, xid);
    let report = server
        .request(
            "GET",
            "/v1/partners",
            &[("Authorization", "Bearer test-secret")],
            b"",
        )
        .json();
    assert_eq!(report["partners"][0]["partner_key"], "alex-smith");
    assert_eq!(report["partners"][0]["clicks"], 3, "{report}");
}

#[test]
fn partner_links_refuse_other_sites_and_invalid_keys() {
    let (server, _) = server(&[
        "--site-url",
        "https://www.acme.test/",
        "--allow-origin",
        "https://app.acme.test",
    ]);
    for to in [
        "https://evil.example/",
        "//evil.example/",
        "javascript:alert(1)",
        "https://www.acme.test.evil.example/",
    ] {
        let path = format!(
            "/r/alex-smith?to={}",
            to.replace(':', "%3A").replace('/', "%2F")
        );
        let reply = click(&server, &path, &[]);
        assert_eq!(reply.status, 400, "{to}: {}", reply.body);
        assert!(reply.header("location").is_none());
    }
    assert_eq!(
        click(
            &server,
            "/r/alex-smith?to=https%3A%2F%2Fapp.acme.test%2Fsignup",
            &[]
        )
        .status,
        302
    );
    // A mistyped link still takes the visitor to the site: no JSON, no attribution, no click.
    for key in ["a%3Bb", "%E2%98%83", "bad%20key", &"k".repeat(129)] {
        let reply = click(&server, &format!("/r/{key}?to=%2Fpricing"), &[]);
        assert_eq!(reply.status, 302, "{key}: {}", reply.body);
        assert_eq!(
            reply.header("location"),
            Some("https://www.acme.test/pricing"),
            "{key}"
        );
        assert!(reply.body.is_empty());
    }
    let report = server
        .request(
            "GET",
            "/v1/partners",
            &[("Authorization", "Bearer test-secret")],
            b"",
        )
        .json();
    assert_eq!(
        report["partners"][0]["clicks"], 1,
        "only the allowed click: {report}"
    );
}

#[test]
fn a_forged_forwarded_for_is_ignored_without_trusted_proxies() {
    let (direct, _) = server(&["--site-url", "https://www.acme.test/"]);
    let a = xid_of(&click(
        &direct,
        "/r/alex",
        &[("X-Forwarded-For", "6.6.6.6")],
    ));
    let b = xid_of(&click(
        &direct,
        "/r/alex",
        &[("X-Forwarded-For", "7.7.7.7")],
    ));
    assert_eq!(a, b, "the socket address counts, not the header");
    let (behind_proxy, _) = server(&[
        "--site-url",
        "https://www.acme.test/",
        "--trusted-proxies",
        "1",
    ]);
    let a = xid_of(&click(
        &behind_proxy,
        "/r/alex",
        &[("X-Forwarded-For", "6.6.6.6")],
    ));
    let b = xid_of(&click(
        &behind_proxy,
        "/r/alex",
        &[("X-Forwarded-For", "7.7.7.7")],
    ));
    assert_ne!(a, b, "behind the site's own proxy, its entry is the client");
    let c = xid_of(&click(
        &behind_proxy,
        "/r/alex",
        &[("X-Forwarded-For", "1.2.3.4, 6.6.6.99")],
    ));
    assert_eq!(
        a, c,
        "the same /24 as the proxy saw it; the visitor's own entry is not believed"
    );
}

#[test]
fn the_cookie_domain_sets_the_attribution_cookies_on_the_redirect() {
    let (server, _) = server(&[
        "--site-url",
        "https://www.acme.test/",
        "--cookie-domain",
        "acme.test",
        "--cookie-days",
        "30",
    ]);
    let reply = click(&server, "/r/alex-smith", &[]);
    let xid = xid_of(&reply);
    let cookies: Vec<&str> = reply
        .headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(cookies, [
        "growSumoPartnerKey=alex-smith; Path=/; Max-Age=2592000; SameSite=Lax; Secure; Domain=acme.test".to_string(),
        "ps_partner_key=alex-smith; Path=/; Max-Age=2592000; SameSite=Lax; Secure; Domain=acme.test".to_string(),
        format!("ps_xid={xid}; Path=/; Max-Age=2592000; SameSite=Lax; Secure; Domain=acme.test"),
    ]);
}

#[test]
fn conversions_resolve_their_xid_to_the_partner_once() {
    let (server, _) = server(&["--site-url", "https://www.acme.test/"]);
    let auth = [("Authorization", "Bearer test-secret")];
    let xid = xid_of(&click(&server, "/r/jane-doe", &[]));
    let conversion = |body: Value| {
        server.request(
            "POST",
            "/conversion/xid",
            &auth,
            body.to_string().as_bytes(),
        )
    };
    let first =
        conversion(json!({"xid": xid, "customer_key": "cus_1", "amount": 4900, "currency": "usd"}));
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(
        conversion(json!({"xid": xid, "customer_key": "cus_1"})).json()["status"],
        "duplicate"
    );
    let unknown = conversion(json!({"xid": "never_clicked", "customer_key": "cus_1"}));
    assert_eq!(
        (unknown.status, unknown.error()),
        (404, "unknown xid".to_owned())
    );
    // A transaction key makes a second conversion of the same customer a duplicate too.
    let t = json!({"xid": xid, "customer_key": "cus_2", "transaction_key": "in_1"});
    assert_eq!(conversion(t.clone()).status, 201);
    assert_eq!(
        conversion(json!({"xid": xid, "customer_key": "cus_3", "transaction_key": "in_1"})).json()
            ["status"],
        "duplicate"
    );
    let bad = conversion(json!({"xid": xid, "customer_key": "cus_4", "amount": 10}));
    assert_eq!(
        (bad.status, bad.error()),
        (400, "currency is required with amount".to_owned())
    );
    let list = server.list();
    let conversions: Vec<&Value> = list.iter().filter(|r| r["type"] == "conversion").collect();
    assert_eq!(
        conversions.len(),
        2,
        "nothing stored for the unknown xid or the duplicates"
    );
    let paid = conversions
        .iter()
        .find(|r| r["customer_key"] == "cus_1")
        .unwrap();
    assert_eq!(
        (
            paid["partner_key"].clone(),
            paid["amount"].clone(),
            paid["currency"].clone()
        ),
        (json!("jane-doe"), json!(4900), json!("USD"))
    );
}

#[test]
fn a_signup_is_credited_through_its_click_and_verified_clicks_refuse_forged_credit() {
    let (server, _) = server(&["--site-url", "https://www.acme.test/", "--verified-clicks"]);
    let xid = xid_of(&click(&server, "/r/alex-smith", &[]));
    // The click decides, and the claimed partner stays visible.
    let mut claimed = signup(1);
    claimed["partner_key"] = json!("mallory");
    claimed["xid"] = json!(xid);
    assert_eq!(server.post_signup(&claimed).status, 201);
    // Credit claimed without a recorded click: stored, but not counted.
    let mut forged = signup(2);
    forged["partner_key"] = json!("mallory");
    forged["xid"] = json!("made_up_click");
    assert_eq!(server.post_signup(&forged).status, 201);
    let list = server.list();
    let by = |key: &str| {
        list.iter()
            .find(|r| r["customer_key"] == key)
            .unwrap()
            .clone()
    };
    let credited = by("cus_1");
    assert_eq!(
        (
            credited["partner_key"].clone(),
            credited["claimed_partner_key"].clone(),
            credited["verified"].clone()
        ),
        (json!("alex-smith"), json!("mallory"), Value::Null)
    );
    assert_eq!(by("cus_2")["verified"], false);
    let report = server
        .request(
            "GET",
            "/v1/partners",
            &[("Authorization", "Bearer test-secret")],
            b"",
        )
        .json();
    let partners = report["partners"].as_array().unwrap();
    let mallory = partners.iter().find(|p| p["partner_key"] == "mallory");
    assert_eq!(
        mallory.map(|m| m["signups"].clone()),
        Some(json!(0)),
        "mallory's forged signup is not counted: {report}"
    );
    assert_eq!(
        (
            partners[0]["partner_key"].clone(),
            partners[0]["signups"].clone()
        ),
        (json!("alex-smith"), json!(1))
    );
}

#[test]
fn partneros_customer_api_answers_as_partnero_does() {
    let (server, _) = server(&["--site-url", "https://www.acme.test/"]);
    click(&server, "/r/alex-smith", &[]); // alex-smith is a known partner now
    let auth = [("Authorization", "Bearer test-secret")];
    let post =
        |body: Value| server.request("POST", "/v1/customers", &auth, body.to_string().as_bytes());
    let created = post(
        json!({"partner": {"key": "alex-smith"}, "key": "cus_p1", "email": "p1@example.com", "name": "Pat", "options": {"referral_url": "https://www.acme.test/?aff=alex-smith"}}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let body = created.json();
    assert_eq!(body["status"], 1);
    assert_eq!(body["data"]["key"], "cus_p1");
    assert_eq!(body["data"]["partner"]["key"], "alex-smith");
    let again = post(json!({"partner": {"key": "alex-smith"}, "key": "cus_p1"}));
    assert_eq!(
        (again.status, again.json()["message"].clone()),
        (422, json!("The customer already exists"))
    );
    let unknown = post(json!({"partner": {"key": "nobody"}, "key": "cus_p2"}));
    assert_eq!(
        (unknown.status, unknown.json()["message"].clone()),
        (400, json!("Invalid partner key"))
    );
    let by_id = post(json!({"partner": {"id": 7}, "key": "cus_p3"}));
    assert_eq!(by_id.status, 422);
    assert!(by_id.json()["message"]
        .as_str()
        .unwrap()
        .contains("partner.key"));
    assert_eq!(
        post(json!({"partner": {"key": "alex-smith"}})).status,
        422,
        "key is required"
    );
    assert_eq!(
        server.request("POST", "/v1/customers", &[], b"{}").status,
        401
    );
    let stored: Vec<Value> = server
        .list()
        .into_iter()
        .filter(|r| r["customer_key"] == "cus_p1")
        .collect();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["partner_key"], "alex-smith");
}

#[test]
fn the_report_counts_over_a_date_range() {
    const NOV_17: i64 = 1_794_873_600_000; // 2026-11-17T00:00:00Z
    const DAY: i64 = 86_400_000;
    let (server, _, set_clock) = clocked(&["--site-url", "https://www.acme.test/"]);
    let auth = [("Authorization", "Bearer test-secret")];
    set_clock(NOV_17 + 3_600_000);
    let xid = xid_of(&click(&server, "/r/alex", &[]));
    let mut s = signup(1);
    s["xid"] = json!(xid);
    s["partner_key"] = json!("alex");
    assert_eq!(server.post_signup(&s).status, 201);
    set_clock(NOV_17 + 2 * DAY + 3_600_000);
    click(&server, "/r/alex", &[("User-Agent", "Second/1.0")]);
    click(&server, "/r/jane", &[]);
    let conv = json!({"xid": xid, "customer_key": "cus_1"}).to_string();
    assert_eq!(
        server
            .request("POST", "/conversion/xid", &auth, conv.as_bytes())
            .status,
        201
    );
    let report = |query: &str| {
        server
            .request("GET", &format!("/v1/partners{query}"), &auth, b"")
            .json()
    };
    let all = report("");
    let alex = &all["partners"][0];
    assert_eq!(
        (
            alex["partner_key"].clone(),
            alex["clicks"].clone(),
            alex["signups"].clone(),
            alex["conversions"].clone()
        ),
        (json!("alex"), json!(2), json!(1), json!(1))
    );
    assert_eq!(alex["signups_per_click"], 0.5);
    assert_eq!(alex["conversion_rate"], 1.0, "conversions per signup");
    assert!(alex["last_activity"]
        .as_str()
        .unwrap()
        .starts_with("2026-11-19"));
    let first_day = report("?since=2026-11-17&until=2026-11-17");
    // Jane, registered by her first click two days later, is listed with nothing that day.
    assert_eq!(first_day["partners"][1]["partner_key"], "jane");
    assert_eq!(first_day["partners"][1]["clicks"], 0);
    assert!(first_day["partners"][1]["last_activity"].is_null());
    assert_eq!(
        (
            first_day["partners"][0]["clicks"].clone(),
            first_day["partners"][0]["signups"].clone()
        ),
        (json!(1), json!(1))
    );
    let later = report("?since=2026-11-18");
    assert_eq!(later["partners"].as_array().unwrap().len(), 2, "{later}");
    assert_eq!(later["days"][0]["day"], "2026-11-19");
    assert_eq!(later["days"][0]["clicks"], 2);
    let bad = server.request("GET", "/v1/partners?since=yesterday", &auth, b"");
    assert_eq!(bad.status, 400);
    assert_eq!(server.request("GET", "/v1/partners", &[], b"").status, 401);
}
