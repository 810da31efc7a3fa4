//! Money in: Stripe's webhooks, signed by Stripe's own library (the `stripe` npm package,
//! offline), with event bodies in the shapes of Stripe's published fixtures; conversions as
//! sales; payments that match no customer, credited by hand. On SQLite and PostgreSQL.

mod common;

#[allow(unused_imports)]
use common::prelude::*;
use common::*;

const WEBHOOK_SECRET: &str = "whsec_test_reftrack";

/// `Stripe-Signature` headers for `payloads`, from `stripe.webhooks.generateTestHeaderString`
/// (and each accepted by `stripe.webhooks.constructEvent`); `timestamp` to sign as of another time.
fn sign_all(payloads: &[String], secret: &str, timestamp: Option<i64>) -> Vec<String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/common/stripe-sign.cjs");
    let mut command = Command::new("node");
    command.arg(script).arg(secret);
    if let Some(t) = timestamp {
        command.arg(t.to_string());
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(payloads).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "Stripe's library signs the events");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A Stripe `Event` around `object`, as Stripe sends it.
fn event(id: &str, kind: &str, object: Value) -> String {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2025-06-30.basil",
        "created": 1_795_000_000,
        "data": { "object": object },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": kind,
    })
    .to_string()
}

fn invoice(id: &str, customer: &str, amount: i64, currency: &str) -> Value {
    json!({
        "id": id, "object": "invoice", "amount_due": amount, "amount_paid": amount,
        "amount_remaining": 0, "billing_reason": "subscription_cycle", "currency": currency,
        "customer": customer, "livemode": false, "status": "paid",
        "lines": { "object": "list", "data": [], "has_more": false },
    })
}

fn post_events(server: &Server, payloads: &[String]) -> Vec<Reply> {
    let headers = sign_all(payloads, WEBHOOK_SECRET, None);
    payloads
        .iter()
        .zip(&headers)
        .map(|(body, signature)| {
            server.request(
                "POST",
                "/webhooks/stripe",
                &[
                    ("Stripe-Signature", signature),
                    ("Content-Type", "application/json; charset=utf-8"),
                ],
                body.as_bytes(),
            )
        })
        .collect()
}

fn revenue(server: &Server, partner: &str) -> Value {
    let report = server.request("GET", "/v1/partners", &auth(), b"").json();
    report["partners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["partner_key"] == partner)
        .map(|p| p["revenue"].clone())
        .unwrap_or(Value::Null)
}

#[test]
fn a_recorded_stripe_sequence_stores_the_money_once_to_the_cent() {
    let (server, _) = server(&[
        "--site-url",
        "https://www.acme.test/",
        "--stripe-webhook-secret",
        "whsec_rotated_out",
        "--stripe-webhook-secret",
        WEBHOOK_SECRET,
    ]);
    // The visitor came through Alex's link and signed up on the site.
    let xid = xid_of(&click(&server, "/r/alex", &[]));
    let mut claim = signup(1);
    claim["customer_key"] = json!("cus_site_1");
    claim["partner_key"] = json!("alex");
    claim["xid"] = json!(xid);
    assert_eq!(server.post_signup(&claim).status, 201);

    let sequence = vec![
        event(
            "evt_checkout",
            "checkout.session.completed",
            json!({
                "id": "cs_test_1", "object": "checkout.session", "mode": "subscription",
                "client_reference_id": xid, "customer": "cus_Stripe1",
                "customer_details": { "email": "user1@example.com" },
                "metadata": { "customer_key": "cus_site_1" }, "payment_status": "paid",
                "amount_total": 4900, "currency": "eur",
            }),
        ),
        event(
            "evt_charge",
            "charge.succeeded",
            json!({"id": "ch_1", "object": "charge", "amount": 4900, "currency": "eur",
                   "customer": "cus_Stripe1", "paid": true, "amount_refunded": 0}),
        ),
        event(
            "evt_inv1",
            "invoice.paid",
            invoice("in_1", "cus_Stripe1", 4900, "eur"),
        ),
        event(
            "evt_inv2",
            "invoice.paid",
            invoice("in_2", "cus_Stripe1", 4900, "eur"),
        ),
        event(
            "evt_inv3",
            "invoice.paid",
            invoice("in_3", "cus_Stripe1", 4900, "eur"),
        ),
        // A 30 % refund of one charge, then a further one: each records what is new.
        event(
            "evt_refund1",
            "charge.refunded",
            json!({"id": "ch_1", "object": "charge", "amount": 4900, "currency": "eur",
                   "customer": "cus_Stripe1", "amount_refunded": 1470, "refunded": false}),
        ),
        event(
            "evt_refund2",
            "charge.refunded",
            json!({"id": "ch_1", "object": "charge", "amount": 4900, "currency": "eur",
                   "customer": "cus_Stripe1", "amount_refunded": 2000, "refunded": false}),
        ),
    ];
    for (n, reply) in post_events(&server, &sequence).iter().enumerate() {
        assert_eq!(reply.status, 200, "event {n}: {}", reply.body);
        assert_eq!(reply.json()["received"], true);
    }
    let expected = json!([{
        "currency": "EUR", "sales": 14700, "refunds": 2000, "net": 12700, "paying_customers": 1,
    }]);
    assert_eq!(revenue(&server, "alex"), expected);

    // Stripe redelivers every event (in another order, too): nothing changes.
    let mut again = sequence.clone();
    again.reverse();
    for reply in post_events(&server, &again) {
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    assert_eq!(
        revenue(&server, "alex"),
        expected,
        "to the cent after redelivery"
    );

    // The checkout confirmed the click's claim: the customer is Alex's, confirmed.
    let list = server.list();
    let confirmed = list
        .iter()
        .find(|r| r["customer_key"] == "cus_site_1" && r["credit"]["credited"] == true)
        .unwrap();
    assert_eq!(confirmed["credit"]["standing"], "confirmed", "{confirmed}");
    assert_eq!(
        list.iter()
            .filter(|r| r["customer_key"] == "cus_site_1")
            .count(),
        2,
        "the browser's claim and the checkout's, the checkout's once"
    );

    // A lost dispute of the charge is a refund of its amount.
    let dispute = event(
        "evt_dispute",
        "charge.dispute.closed",
        json!({"id": "dp_1", "object": "dispute", "amount": 2900, "currency": "eur",
               "charge": "ch_1", "status": "lost", "reason": "fraudulent"}),
    );
    for _ in 0..2 {
        assert_eq!(
            post_events(&server, std::slice::from_ref(&dispute))[0].status,
            200
        );
    }
    assert_eq!(revenue(&server, "alex")[0]["refunds"], 4900);
    // A further refund of the charge after the dispute: the dispute is no part of the charge's
    // refunded total, so the new 500 is recorded.
    let later = event(
        "evt_refund3",
        "charge.refunded",
        json!({"id": "ch_1", "object": "charge", "amount": 4900, "currency": "eur",
               "customer": "cus_Stripe1", "amount_refunded": 2500, "refunded": false}),
    );
    assert_eq!(
        post_events(&server, std::slice::from_ref(&later))[0].status,
        200
    );
    assert_eq!(revenue(&server, "alex")[0]["refunds"], 5400);
}

#[test]
fn a_payment_no_customer_matches_is_kept_and_credited_by_hand() {
    let (server, _) = server(&[
        "--site-url",
        "https://www.acme.test/",
        "--stripe-webhook-secret",
        WEBHOOK_SECRET,
    ]);
    let xid = xid_of(&click(&server, "/r/sam", &[]));
    let mut claim = signup(2);
    claim["customer_key"] = json!("cus_site_2");
    claim["partner_key"] = json!("sam");
    claim["xid"] = json!(xid);
    assert_eq!(server.post_signup(&claim).status, 201);
    let paid = event(
        "evt_orphan",
        "invoice.paid",
        invoice("in_9", "cus_Unknown", 1000, "usd"),
    );
    let reply = &post_events(&server, std::slice::from_ref(&paid))[0];
    assert_eq!(reply.status, 200, "{}", reply.body);
    let outcome = reply.json()["outcome"].as_str().unwrap().to_owned();
    assert!(
        outcome.starts_with("recorded sale 1000 USD as transaction"),
        "{outcome}"
    );
    let id: i64 = outcome.rsplit(' ').next().unwrap().parse().unwrap();
    let stored = server
        .request("GET", &format!("/v1/transactions/{id}"), &auth(), b"")
        .json();
    assert!(stored["unmatched"]
        .as_str()
        .unwrap()
        .starts_with("no customer is bound to Stripe customer cus_Unknown"));
    let report = server.request("GET", "/v1/partners", &auth(), b"").json();
    assert_eq!(
        report["unmatched"],
        json!([{"currency": "USD", "transactions": 1, "amount": 1000}])
    );

    let path = format!("/v1/transactions/{id}/attribute");
    let body = json!({"customer_key": "cus_site_2"}).to_string();
    let credited = server.request("POST", &path, &auth(), body.as_bytes());
    assert_eq!(credited.status, 200, "{}", credited.body);
    assert_eq!(credited.json()["partner_key"], "sam");
    assert_eq!(
        server
            .request("POST", &path, &auth(), body.as_bytes())
            .status,
        409,
        "a credited payment stays where it is"
    );
    assert_eq!(revenue(&server, "sam")[0]["sales"], 1000);
    let nobody = json!({"customer_key": "nobody"}).to_string();
    assert_eq!(
        server
            .request(
                "POST",
                "/v1/transactions/999999/attribute",
                &auth(),
                nobody.as_bytes()
            )
            .status,
        404
    );
}

#[test]
fn webhooks_without_a_valid_signature_store_nothing() {
    let (server, _) = server(&["--stripe-webhook-secret", WEBHOOK_SECRET]);
    let paid = event(
        "evt_1",
        "invoice.paid",
        invoice("in_1", "cus_A", 1000, "usd"),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let wrong = sign_all(std::slice::from_ref(&paid), "whsec_someone_else", None);
    let stale = sign_all(std::slice::from_ref(&paid), WEBHOOK_SECRET, Some(now - 301));
    for (header, reason) in [
        (wrong[0].as_str(), "no v1 signature matches"),
        (
            stale[0].as_str(),
            "the Stripe-Signature timestamp is more than 300 s",
        ),
        ("", "Stripe-Signature is missing"),
    ] {
        let reply = server.request(
            "POST",
            "/webhooks/stripe",
            &[("Stripe-Signature", header)],
            paid.as_bytes(),
        );
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert!(reply.error().starts_with(reason), "{}", reply.body);
    }
    // Tampered after signing.
    let header = sign_all(std::slice::from_ref(&paid), WEBHOOK_SECRET, None);
    let tampered = paid.replace("1000", "9000");
    let reply = server.request(
        "POST",
        "/webhooks/stripe",
        &[("Stripe-Signature", &header[0])],
        tampered.as_bytes(),
    );
    assert_eq!(reply.status, 400);
    let report = server.request("GET", "/v1/partners", &auth(), b"").json();
    assert_eq!(report["unmatched"], json!([]), "nothing stored: {report}");
    // A live-mode event, to a collector that records test mode: acknowledged, ignored.
    let live = paid.replace("\"livemode\":false", "\"livemode\":true");
    let reply = &post_events(&server, std::slice::from_ref(&live))[0];
    assert_eq!(reply.status, 200);
    assert!(reply.json()["outcome"]
        .as_str()
        .unwrap()
        .starts_with("ignored: a live-mode event"));
    // An address that keeps sending bad signatures is limited before its body is read.
    let statuses: Vec<u16> = (0..12)
        .map(|_| {
            server
                .request_from(
                    "127.0.0.5",
                    "POST",
                    "/webhooks/stripe",
                    &[("Stripe-Signature", "t=1,v1=00")],
                    paid.as_bytes(),
                )
                .status
        })
        .collect();
    assert_eq!(statuses[..10], [400; 10], "{statuses:?}");
    assert_eq!(statuses[10..], [429; 2], "{statuses:?}");
    assert_eq!(
        post_events(&server, std::slice::from_ref(&paid))[0].status,
        200,
        "Stripe, from its own address, is not held up"
    );
    // No secret configured: refused with the reason.
    let (bare, _) = common::server(&[]);
    let reply = bare.request("POST", "/webhooks/stripe", &[], paid.as_bytes());
    assert_eq!(reply.status, 400);
    assert!(reply.error().contains("--stripe-webhook-secret"));
}

#[test]
fn conversions_with_an_amount_are_sales_and_a_renewal_is_a_new_one() {
    let (server, _) = server(&["--site-url", "https://www.acme.test/"]);
    let xid = xid_of(&click(&server, "/r/lee", &[]));
    let conversion = |key: &str, amount: i64| {
        let body = json!({"xid": xid, "customer_key": "cus_lee", "amount": amount,
                          "currency": "gbp", "transaction_key": key})
        .to_string();
        server.request("POST", "/conversion/xid", &auth(), body.as_bytes())
    };
    assert_eq!(conversion("order_1", 2500).status, 201);
    assert_eq!(conversion("order_2", 2500).status, 201, "a renewal");
    let again = conversion("order_1", 2500);
    assert_eq!(
        (again.status, again.json()["status"].clone()),
        (200, json!("duplicate"))
    );
    assert_eq!(
        revenue(&server, "lee"),
        json!([{"currency": "GBP", "sales": 5000, "refunds": 0, "net": 5000, "paying_customers": 1}])
    );
    let report = server.request("GET", "/v1/partners", &auth(), b"").json();
    let today = report["days"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(today["revenue"], json!({"GBP": 5000}), "{report}");
}

#[test]
fn partnerstack_and_partnero_transactions_are_stored_once_in_their_shapes() {
    let (server, _) = server(&["--site-url", "https://www.acme.test/", "--currency", "EUR"]);
    let xid = xid_of(&click(&server, "/r/kim", &[]));
    let mut claim = signup(3);
    claim["customer_key"] = json!("cus_site_3");
    claim["email"] = json!("Kim.Buyer@example.com");
    claim["partner_key"] = json!("kim");
    claim["xid"] = json!(xid);
    assert_eq!(server.post_signup(&claim).status, 201);
    let post = |path: &str, body: Value| {
        server.request("POST", path, &auth(), body.to_string().as_bytes())
    };

    // PartnerStack: cents, the site's key as customer_external_key; a refund is negative.
    let sale = json!({"customer_external_key": "cus_site_3", "amount": 12000, "currency": "usd",
                      "key": "ps_tx_1", "product_key": "pro", "metadata": {"plan": "pro"}});
    let first = post("/api/v2/transactions", sale.clone());
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.json()["data"]["partner_key"], "kim");
    assert_eq!(first.json()["message"], "Transaction created");
    let again = post("/api/v2/transactions", sale);
    assert_eq!(
        again.json()["data"]["id"],
        first.json()["data"]["id"],
        "the same key: the same"
    );
    assert_eq!(again.json()["message"], "Transaction exists");
    let refund = json!({"customer_email": "kim.buyer@example.com", "amount": -2000,
                        "currency": "USD", "key": "ps_tx_2"});
    assert_eq!(post("/api/v2/transactions", refund).status, 200);
    let bad = post(
        "/api/v2/transactions",
        json!({"customer_key": "c", "amount": 1, "currency": "usd", "key": "k"}),
    );
    assert_eq!(
        (bad.status, bad.error()),
        (400, "key must be 4 to 255 characters".into())
    );

    // Partnero: major units in the program's currency (--currency), one or a batch; DELETE reverses.
    let one = post(
        "/v1/transactions",
        json!({"customer": {"key": "cus_site_3"}, "key": "pn_1",
                                              "amount": 99.99, "product_type": "monthly"}),
    );
    assert_eq!(one.status, 201, "{}", one.body);
    assert_eq!(
        (
            one.json()["status"].clone(),
            one.json()["data"]["amount"].clone()
        ),
        (json!(1), json!(9999))
    );
    let batch = post(
        "/v1/transactions",
        json!({"transactions": [
            {"customer": {"email": "kim.buyer@example.com"}, "key": "pn_2", "amount": 10},
            {"customer": {"key": "cus_site_3"}, "key": "pn_3", "amount": 0.01, "currency": "eur"},
        ]}),
    );
    assert_eq!(batch.status, 201, "{}", batch.body);
    assert_eq!(batch.json()["data"].as_array().unwrap().len(), 2);
    let invalid = post(
        "/v1/transactions",
        json!({"transactions": [
            {"customer": {"key": "cus_site_3"}, "key": "pn_4", "amount": 5},
            {"customer": {"key": "cus_site_3"}, "key": "pn_5", "amount": 1.234},
        ]}),
    );
    assert_eq!(invalid.status, 422);
    assert!(invalid.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("transactions[1]: amount 1.234 has more decimals"));
    for _ in 0..2 {
        let deleted = server.request("DELETE", "/v1/transactions/pn_1", &auth(), b"");
        assert_eq!(
            (deleted.status, deleted.json()["status"].clone()),
            (200, json!(1))
        );
    }
    assert_eq!(
        server
            .request("DELETE", "/v1/transactions/nope", &auth(), b"")
            .status,
        404
    );
    let refund_of_refund =
        server.request("DELETE", "/v1/transactions/pn_1%2Freversed", &auth(), b"");
    assert_eq!(
        refund_of_refund.status, 404,
        "only a sale is reversed: {}",
        refund_of_refund.body
    );

    assert_eq!(
        revenue(&server, "kim"),
        json!([
            {"currency": "EUR", "sales": 9999 + 1000 + 1, "refunds": 9999, "net": 1001, "paying_customers": 1},
            {"currency": "USD", "sales": 12000, "refunds": 2000, "net": 10000, "paying_customers": 1},
        ]),
        "pn_4 was not stored: the batch is all or nothing"
    );
}

#[test]
fn a_csv_import_is_idempotent_and_says_what_it_did_line_by_line() {
    let dir = temp_dir();
    let db = dir.join("reftrack.db");
    let url = database(&db);
    {
        let server = Server::start_on(
            &url,
            &dir,
            &["--secret", SECRET, "--site-url", "https://www.acme.test/"],
            Stdio::inherit(),
        );
        let xid = xid_of(&click(&server, "/r/ivy", &[]));
        let mut claim = signup(4);
        claim["customer_key"] = json!("cus_imp_1");
        claim["email"] = json!("ivy.buyer@example.com");
        claim["partner_key"] = json!("ivy");
        claim["xid"] = json!(xid);
        assert_eq!(server.post_signup(&claim).status, 201);
    }
    let csv = dir.join("payments.csv");
    std::fs::write(
        &csv,
        "key,customer_key,email,amount,currency,date\n\
         inv_1,cus_imp_1,,49.00,eur,2026-11-01\n\
         inv_2,,IVY.BUYER@example.com,49.00,EUR,2026-12-01T09:00:00Z\n\
         inv_3,cus_imp_1,,12.345,eur,\n\
         inv_4,someone_else,,5,usd,\n\
         \n\
         inv_5,cus_imp_1,,-10.00,eur,2026-12-02\n",
    )
    .unwrap();
    let import = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_reftrack-collector"))
            .args(["import", "transactions"])
            .arg(&csv)
            .args(["--db", &url])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (dry, _) = import(&["--dry-run"]);
    assert_eq!(
        dry,
        "dry run, nothing stored: 6 lines: 4 created (1 matching no customer), 0 skipped (imported before), 1 not imported"
    );
    let (summary, lines) = import(&[]);
    assert_eq!(
        summary,
        "6 lines: 4 created (1 matching no customer), 0 skipped (imported before), 1 not imported"
    );
    assert!(
        lines.contains("line 4: not imported: amount 12.345 has more decimals than EUR has (2)"),
        "{lines}"
    );
    assert!(
        lines.contains("line 5: stored, but no customer matches it"),
        "{lines}"
    );
    let (again, lines) = import(&[]);
    assert_eq!(
        again,
        "6 lines: 0 created (0 matching no customer), 4 skipped (imported before), 1 not imported"
    );
    assert!(
        lines.contains("line 2: skipped: its key was imported before"),
        "{lines}"
    );
    let server = Server::start_on(&url, &dir, &["--secret", SECRET], Stdio::inherit());
    assert_eq!(
        revenue(&server, "ivy"),
        json!([{"currency": "EUR", "sales": 9800, "refunds": 1000, "net": 8800, "paying_customers": 1}])
    );
}

#[test]
fn stripe_customers_bind_by_metadata_then_by_a_known_email() {
    let (server, _) = server(&[
        "--site-url",
        "https://www.acme.test/",
        "--stripe-webhook-secret",
        WEBHOOK_SECRET,
    ]);
    for (n, (customer, email, partner)) in [
        ("cus_meta", "meta@example.com", "ann"),
        ("cus_mail", "Mail.Person@example.com", "ben"),
    ]
    .into_iter()
    .enumerate()
    {
        let xid = xid_of(&click(&server, &format!("/r/{partner}"), &[]));
        let mut claim = signup(10 + n);
        claim["customer_key"] = json!(customer);
        claim["email"] = json!(email);
        claim["partner_key"] = json!(partner);
        claim["xid"] = json!(xid);
        assert_eq!(server.post_signup(&claim).status, 201);
    }
    let events = vec![
        event(
            "evt_c1",
            "customer.created",
            json!({"id": "cus_S_meta", "object": "customer", "email": "other@example.com",
                   "metadata": {"customer_key": "cus_meta"}}),
        ),
        event(
            "evt_c2",
            "customer.updated",
            json!({"id": "cus_S_mail", "object": "customer", "email": "mail.person@EXAMPLE.com",
                   "metadata": {}}),
        ),
        event(
            "evt_c3",
            "customer.created",
            json!({"id": "cus_S_none", "object": "customer", "email": "stranger@example.com",
                   "metadata": {}}),
        ),
        event(
            "evt_i1",
            "invoice.paid",
            invoice("in_m1", "cus_S_meta", 1200, "usd"),
        ),
        event(
            "evt_i2",
            "invoice.paid",
            invoice("in_m2", "cus_S_mail", 3400, "usd"),
        ),
        event(
            "evt_i3",
            "invoice.paid",
            invoice("in_m3", "cus_S_none", 5600, "usd"),
        ),
    ];
    let replies = post_events(&server, &events);
    assert!(replies.iter().all(|r| r.status == 200));
    assert!(replies[2].json()["outcome"]
        .as_str()
        .unwrap()
        .starts_with("not bound: cus_S_none names no known customer"));
    assert_eq!(
        revenue(&server, "ann")[0]["sales"],
        1200,
        "bound by metadata.customer_key"
    );
    assert_eq!(
        revenue(&server, "ben")[0]["sales"],
        3400,
        "bound by the signup's email"
    );
    let report = server.request("GET", "/v1/partners", &auth(), b"").json();
    assert_eq!(
        report["unmatched"],
        json!([{"currency": "USD", "transactions": 1, "amount": 5600}])
    );
}

#[test]
fn a_stripe_refund_reverses_its_share_of_the_commission_of_the_invoice_its_charge_paid() {
    let (server, _) = server(&["--stripe-webhook-secret", WEBHOOK_SECRET]);
    let mut claim = signup(1);
    claim["customer_key"] = json!("cus_site_1");
    claim["partner_key"] = json!("alex");
    assert_eq!(server.post_signup(&claim).status, 201);
    let rule = server.request(
        "PUT",
        "/v1/rewards",
        &auth(),
        json!({"public_key": "pk_test_123", "on": "sale", "kind": "percent",
               "basis_points": 2500, "holding_days": 0})
        .to_string()
        .as_bytes(),
    );
    assert_eq!(rule.status, 200, "{}", rule.body);
    let paid_by = |id: &str, charge: &str| {
        let mut object = invoice(id, "cus_Stripe1", 4900, "eur");
        object["charge"] = json!(charge);
        event(&format!("evt_{id}"), "invoice.paid", object)
    };
    let refunded = |n: u32, total: i64| {
        event(
            &format!("evt_refund{n}"),
            "charge.refunded",
            json!({"id": "ch_1", "object": "charge", "amount": 4900, "currency": "eur",
                   "customer": "cus_Stripe1", "amount_refunded": total}),
        )
    };
    let sequence = vec![
        event(
            "evt_customer",
            "customer.created",
            json!({"id": "cus_Stripe1", "object": "customer",
                   "metadata": {"customer_key": "cus_site_1"}}),
        ),
        paid_by("in_1", "ch_1"),
        paid_by("in_2", "ch_2"),
        // 30 % of ch_1, then the rest: in_1's 12.25 is reversed 3.68 (3.675, halves up), then
        // 8.57, to the cent; in_2's commission is untouched.
        refunded(1, 1470),
        refunded(2, 4900),
    ];
    for reply in post_events(&server, &sequence) {
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let lines = |server: &Server| -> Vec<(String, i64, String)> {
        let reply = server.request("GET", "/v1/partners/alex/statement", &auth(), b"");
        reply.json()["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["kind"].as_str().unwrap().to_owned(),
                    l["amount"].as_i64().unwrap(),
                    l["transaction"]["source_id"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let expected = vec![
        ("earned".to_owned(), 1225, "in_1".to_owned()),
        ("earned".to_owned(), 1225, "in_2".to_owned()),
        ("reversed".to_owned(), -368, "ch_1/refunded/1470".to_owned()),
        ("reversed".to_owned(), -857, "ch_1/refunded/4900".to_owned()),
    ];
    assert_eq!(lines(&server), expected);
    // Stripe redelivers, in another order: nothing changes.
    let mut again = sequence.clone();
    again.reverse();
    for reply in post_events(&server, &again) {
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    assert_eq!(lines(&server), expected);
}
