//! Money out, as a program owner meets it: reward rules, the commission ledger that each payment
//! and claim writes, payouts, clawbacks and statements, through the real collector on SQLite and
//! (under `scripts/test.sh`) PostgreSQL, with the clock set by the test.

mod common;

#[allow(unused_imports)]
use common::prelude::*;
use common::*;

/// 2026-11-18T11:06:40Z, the clock `clocked` starts at.
const T0: i64 = 1_795_000_000_000;
const DAY: i64 = 86_400_000;

fn call(server: &Server, method: &str, path: &str, body: Value) -> Reply {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    server.request(method, path, &auth(), body.as_bytes())
}

fn sale(server: &Server, key: &str, customer: &str, amount: i64) -> Reply {
    let reply = call(
        server,
        "POST",
        "/api/v2/transactions",
        json!({"customer_key": customer, "amount": amount, "currency": "USD", "key": key}),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply
}

/// The partner's line of `GET /v1/payouts/due`, checked against the ledger's identity:
/// paid + due + pending = earned − reversed + adjustments.
fn owed(server: &Server, partner: &str) -> Value {
    let reply = call(
        server,
        "GET",
        &format!("/v1/payouts/due?partner_key={partner}"),
        Value::Null,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let line = reply.json()["partners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["currency"] == "USD")
        .cloned()
        .unwrap_or(Value::Null);
    let n = |k: &str| line[k].as_i64().unwrap_or(0);
    assert_eq!(
        n("paid") + n("due") + n("pending"),
        n("earned") - n("reversed") + n("adjustments"),
        "{line}"
    );
    line
}

fn statement(server: &Server, partner: &str) -> Value {
    let reply = call(
        server,
        "GET",
        &format!("/v1/partners/{partner}/statement"),
        Value::Null,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

#[test]
fn a_sale_is_refunded_in_part_paid_out_refunded_after_payout_and_netted_by_the_next_payout() {
    let (server, _, set_clock) = clocked(&[]);
    assert_eq!(server.post_signup(&signup(1)).status, 201);
    let rule = call(
        &server,
        "PUT",
        "/v1/rewards",
        json!({"public_key": "pk_test_123", "on": "sale", "kind": "percent",
               "basis_points": 2000, "holding_days": 30}),
    );
    assert_eq!(rule.status, 200, "{}", rule.body);
    assert_eq!(rule.json()["months"], "lifetime");

    // A sale of 100.00 earns 20.00, pending for 30 days; a 30 % refund reverses 6.00 of it,
    // pending with it.
    sale(&server, "sale_0001", "cus_1", 10_000);
    sale(&server, "refund_0001", "cus_1", -3000);
    let o = owed(&server, "alex-smith");
    assert_eq!(
        (o["earned"].clone(), o["reversed"].clone()),
        (json!(2000), json!(600))
    );
    assert_eq!(
        (o["due"].clone(), o["pending"].clone()),
        (json!(0), json!(1400))
    );
    assert_eq!(
        o["turns_due"],
        json!([{"on": "2026-12-18", "amount": 1400}])
    );
    let early = call(
        &server,
        "POST",
        "/v1/payouts",
        json!({"partner_key": "alex-smith", "amount": 1400, "currency": "USD", "reference": "tr_1"}),
    );
    assert_eq!((early.status, early.json()["due"].clone()), (422, json!(0)));
    assert_eq!(early.json()["field"], "amount");

    // Once due: more than is due is refused with the due amount; then paid once.
    set_clock(T0 + 31 * DAY);
    assert_eq!(owed(&server, "alex-smith")["due"], 1400);
    let too_much = call(
        &server,
        "POST",
        "/v1/payouts",
        json!({"partner_key": "alex-smith", "amount": 1500, "currency": "USD", "reference": "tr_1"}),
    );
    assert_eq!(too_much.status, 422, "{}", too_much.body);
    assert_eq!(too_much.json()["due"], 1400);
    assert!(
        too_much.error().contains("more than is due"),
        "{}",
        too_much.body
    );
    let payout = json!({"partner_key": "alex-smith", "amount": 1400, "currency": "USD",
                        "reference": "tr_1", "note": "December"});
    let paid = call(&server, "POST", "/v1/payouts", payout.clone());
    assert_eq!(paid.status, 201, "{}", paid.body);
    assert_eq!(paid.json()["entries"], 2);
    let again = call(&server, "POST", "/v1/payouts", payout);
    assert_eq!(
        (again.status, again.json()["id"].clone()),
        (200, paid.json()["id"].clone())
    );
    let other = call(
        &server,
        "POST",
        "/v1/payouts",
        json!({"partner_key": "alex-smith", "amount": 1000, "currency": "USD", "reference": "tr_1"}),
    );
    assert_eq!(other.status, 409, "{}", other.body);
    let o = owed(&server, "alex-smith");
    assert_eq!(
        (o["paid"].clone(), o["due"].clone()),
        (json!(1400), json!(0))
    );

    // The rest is refunded after the payout: a clawback of 14.00, due at once, never a rewrite.
    set_clock(T0 + 31 * DAY + 60_000);
    sale(&server, "refund_0002", "cus_1", -7000);
    let o = owed(&server, "alex-smith");
    assert_eq!(
        (o["reversed"].clone(), o["due"].clone()),
        (json!(2000), json!(-1400))
    );
    // A new sale earns 20.00, pending; the next payout nets the clawback out once it is due.
    sale(&server, "sale_0002", "cus_1", 10_000);
    set_clock(T0 + 62 * DAY);
    let o = owed(&server, "alex-smith");
    assert_eq!(
        (o["due"].clone(), o["pending"].clone()),
        (json!(600), json!(0))
    );
    let netted = call(
        &server,
        "POST",
        "/v1/payouts",
        json!({"partner_key": "alex-smith", "amount": 600, "currency": "USD", "reference": "tr_2"}),
    );
    assert_eq!(netted.status, 201, "{}", netted.body);
    let o = owed(&server, "alex-smith");
    assert_eq!(
        (o["paid"].clone(), o["due"].clone()),
        (json!(2000), json!(0))
    );

    // The statement: every entry with its transaction, the payouts, the running balance.
    let s = statement(&server, "alex-smith");
    let lines = s["lines"].as_array().unwrap();
    let summary: Vec<(String, i64, i64)> = lines
        .iter()
        .map(|l| {
            let what = match l["type"].as_str() {
                Some("payout") => format!("payout {}", l["reference"].as_str().unwrap()),
                _ => format!(
                    "{} {} {}",
                    l["kind"].as_str().unwrap(),
                    l["transaction"]["source_id"].as_str().unwrap_or("-"),
                    l["state"].as_str().unwrap()
                ),
            };
            (
                what,
                l["amount"].as_i64().unwrap(),
                l["balance"].as_i64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, i64, i64)> = [
        ("earned sale_0001 paid", 2000, 2000),
        ("reversed refund_0001 paid", -600, 1400),
        ("payout tr_1", 1400, 0),
        ("reversed refund_0002 paid", -1400, -1400),
        ("earned sale_0002 paid", 2000, 600),
        ("payout tr_2", 600, 0),
    ]
    .iter()
    .map(|(w, a, b)| ((*w).to_owned(), *a, *b))
    .collect();
    assert_eq!(summary, expected);
    assert_eq!(
        s["totals"],
        json!([{"currency": "USD", "opening": 0, "earned": 4000, "reversed": 2000,
                "adjustments": 0, "paid": 2000, "closing": 0}])
    );

    // Redelivered payments change nothing.
    sale(&server, "sale_0001", "cus_1", 10_000);
    sale(&server, "refund_0002", "cus_1", -7000);
    assert_eq!(statement(&server, "alex-smith"), s);
}

#[test]
fn a_rule_change_applies_to_what_is_recorded_after_it_and_terms_and_overrides_hold() {
    let (server, _, set_clock) = clocked(&[]);
    assert_eq!(server.post_signup(&signup(1)).status, 201);
    let mut kim = signup(2);
    kim["partner_key"] = json!("kim");
    assert_eq!(server.post_signup(&kim).status, 201);
    let put = |body: Value| {
        let reply = call(&server, "PUT", "/v1/rewards", body);
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    };
    put(
        json!({"on": "sale", "kind": "percent", "basis_points": 2000, "months": 1,
               "holding_days": 0}),
    );
    sale(&server, "sale_a", "cus_1", 10_000);
    // A new default applies to later sales only; kim's override beats it, in every program.
    put(
        json!({"on": "sale", "kind": "percent", "basis_points": 1000, "months": 1,
               "holding_days": 0}),
    );
    put(
        json!({"partner_key": "kim", "on": "sale", "kind": "flat", "amount": 700,
               "currency": "EUR", "holding_days": 0}),
    );
    sale(&server, "sale_b", "cus_1", 10_000);
    sale(&server, "sale_c", "cus_2", 10_000);
    // A month after the customer's first payment, the term has ended (kim's is lifetime).
    set_clock(T0 + 31 * DAY);
    sale(&server, "sale_d", "cus_1", 10_000);
    sale(&server, "sale_e", "cus_2", 10_000);
    let earned = |partner: &str| -> Vec<(String, i64, String)> {
        statement(&server, partner)["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["transaction"]["source_id"].as_str().unwrap().to_owned(),
                    l["amount"].as_i64().unwrap(),
                    l["currency"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        earned("alex-smith"),
        vec![
            ("sale_a".into(), 2000, "USD".into()),
            ("sale_b".into(), 1000, "USD".into())
        ]
    );
    assert_eq!(
        earned("kim"),
        vec![
            ("sale_c".into(), 700, "EUR".into()),
            ("sale_e".into(), 700, "EUR".into())
        ]
    );
    let rules = call(&server, "GET", "/v1/rewards", Value::Null).json();
    let rules = rules["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2, "one rule per slot: {rules:?}");
    assert_eq!(rules[0]["basis_points"], 1000);
    assert_eq!(rules[1]["partner_key"], "kim");

    // The preview: what 50 % would have earned on alex-smith's sales (the default's partners,
    // not kim, whose override is more specific), beside what the ledger holds.
    let preview = call(
        &server,
        "POST",
        "/v1/rewards/preview",
        json!({"on": "sale", "kind": "percent", "basis_points": 5000,
               "since": "2026-11-01", "until": "2026-12-31"}),
    );
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert_eq!(
        preview.json()["partners"],
        json!([{"partner_key": "alex-smith", "currency": "USD", "events": 3,
                "earned": 15_000, "reversed": 0, "net": 15_000, "current_net": 3000}])
    );
    assert_eq!(
        call(&server, "GET", "/v1/rewards", Value::Null).json()["rules"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn signup_rewards_follow_a_confirmed_credit_and_adjustments_carry_their_note() {
    let (server, _, _) = clocked(&["--signup-secret", "s3cret"]);
    let put = call(
        &server,
        "PUT",
        "/v1/rewards",
        json!({"public_key": "pk_test_123", "on": "signup", "kind": "flat", "amount": 500,
               "currency": "USD", "holding_days": 14}),
    );
    assert_eq!(put.status, 200, "{}", put.body);
    // Anonymous claims earn nothing, however many: a partner cannot farm signup rewards by
    // posting signups of customers nobody vouched for.
    for n in 1..=3 {
        assert_eq!(server.post_signup(&signup(n)).status, 201);
    }
    assert_eq!(
        owed(&server, "alex-smith"),
        Value::Null,
        "no balance at all"
    );
    // A claim the site's server signed credits kim, confirmed: she earns the reward, once.
    let confirmed = |n: usize, event: &str, partner: &str| {
        let mut claim = signup(n);
        claim["event_id"] = json!(event);
        claim["partner_key"] = json!(partner);
        claim["customer_hash"] = json!(customer_hash("s3cret", &format!("cus_{n}")));
        let reply = server.post_signup(&claim);
        assert_eq!(reply.status, 201, "{}", reply.body);
    };
    confirmed(1, "00000000-0000-4000-8000-200000000001", "kim");
    assert_eq!(owed(&server, "kim")["pending"], 500);
    confirmed(1, "00000000-0000-4000-8000-200000000002", "kim");
    // A later signed claim by another partner does not move a confirmed credit: nothing moves.
    confirmed(1, "00000000-0000-4000-8000-200000000003", "alex-smith");
    let kim = owed(&server, "kim");
    assert_eq!(
        (kim["earned"].clone(), kim["reversed"].clone()),
        (json!(500), json!(0))
    );
    assert_eq!(owed(&server, "alex-smith"), Value::Null);
    // alex-smith's own customer, signed: alex-smith earns.
    confirmed(2, "00000000-0000-4000-8000-200000000004", "alex-smith");
    assert_eq!(owed(&server, "alex-smith")["pending"], 500);

    // An adjustment: due at once, with its note; a formula-like note stays text in the CSV.
    let note = "=HYPERLINK(\"http://evil.test\",\"bonus\")";
    let adjusted = call(
        &server,
        "POST",
        "/v1/partners/kim/adjustments",
        json!({"amount": -150, "currency": "USD", "note": note}),
    );
    assert_eq!(adjusted.status, 201, "{}", adjusted.body);
    assert_eq!(
        (
            adjusted.json()["state"].clone(),
            adjusted.json()["note"].clone()
        ),
        (json!("due"), json!(note))
    );
    let kim = owed(&server, "kim");
    assert_eq!(
        (kim["adjustments"].clone(), kim["due"].clone()),
        (json!(-150), json!(-150))
    );
    let csv = call(
        &server,
        "GET",
        "/v1/partners/kim/statement.csv",
        Value::Null,
    );
    assert_eq!(csv.status, 200);
    assert!(csv
        .header("content-disposition")
        .unwrap()
        .contains("reftrack-statement-kim-"));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert!(lines[0].starts_with("recorded_at,type,id,kind,on,amount,currency,balance,state"));
    assert_eq!(lines.len(), 3, "{}", csv.body);
    assert!(
        lines[2].contains("\"'=HYPERLINK(\"\"http://evil.test\"\""),
        "{}",
        lines[2]
    );
    assert!(
        lines[2].contains(",-150,\"USD\",350,\"due\","),
        "{}",
        lines[2]
    );
}

#[test]
fn bad_rules_payouts_and_adjustments_are_422_naming_the_field_and_store_nothing() {
    let (server, _) = server(&[]);
    for (body, field) in [
        (json!({"on": "sale", "kind": "bonus"}), "kind"),
        (
            json!({"on": "sale", "kind": "percent", "basis_points": -5}),
            "basis_points",
        ),
        (
            json!({"on": "sale", "kind": "percent", "basis_points": 10_001}),
            "basis_points",
        ),
        (
            json!({"on": "sale", "kind": "flat", "amount": 500, "currency": "XYZ"}),
            "currency",
        ),
        (
            json!({"on": "sale", "kind": "flat", "amount": 500, "currency": "dollars"}),
            "currency",
        ),
        (
            json!({"on": "sale", "kind": "none", "holding_days": 3651}),
            "holding_days",
        ),
        (
            json!({"on": "sale", "kind": "percent", "basis_points": 10, "months": -1}),
            "months",
        ),
        (
            json!({"on": "sale", "kind": "percent", "basis_points": 10, "public_key": "a b"}),
            "public_key",
        ),
        (json!({"on": "visit", "kind": "none"}), "on"),
    ] {
        let reply = call(&server, "PUT", "/v1/rewards", body.clone());
        assert_eq!(reply.status, 422, "{body}: {}", reply.body);
        assert_eq!(reply.json()["field"], field, "{body}: {}", reply.body);
        assert!(reply.error().contains(field), "{}", reply.body);
    }
    assert_eq!(
        call(&server, "GET", "/v1/rewards", Value::Null).json()["rules"],
        json!([])
    );
    for (body, field) in [
        (
            json!({"partner_key": "kim", "amount": 0, "currency": "USD", "reference": "r"}),
            "amount",
        ),
        (
            json!({"partner_key": "kim", "amount": 5, "currency": "usd", "reference": "r"}),
            "currency",
        ),
        (
            json!({"partner_key": "kim", "amount": 5, "currency": "USD"}),
            "reference",
        ),
        (
            json!({"partner_key": "k m", "amount": 5, "currency": "USD", "reference": "r"}),
            "partner_key",
        ),
        (
            json!({"partner_key": "kim", "amount": 5, "currency": "USD", "reference": "r", "paid_at": "soon"}),
            "paid_at",
        ),
        (
            json!({"partner_key": "kim", "amount": 5, "currency": "USD", "reference": "r"}),
            "amount",
        ),
    ] {
        let reply = call(&server, "POST", "/v1/payouts", body.clone());
        assert_eq!(
            (reply.status, reply.json()["field"].clone()),
            (422, json!(field)),
            "{body}: {}",
            reply.body
        );
    }
    let reply = call(
        &server,
        "POST",
        "/v1/partners/kim/adjustments",
        json!({"amount": 5, "currency": "USD"}),
    );
    assert_eq!(
        (reply.status, reply.json()["field"].clone()),
        (422, json!("note")),
        "{}",
        reply.body
    );
    let due = call(&server, "GET", "/v1/payouts/due", Value::Null).json();
    assert_eq!(due["partners"], json!([]), "nothing half-stored");
    assert_eq!(
        call(&server, "GET", "/v1/payouts/due", Value::Null).status,
        200
    );
    let unauthorized = server.request("GET", "/v1/payouts/due", &[], b"");
    assert_eq!(unauthorized.status, 401);
}

#[test]
fn sales_and_payouts_at_once_leave_every_balance_exact() {
    let (server, _) = server(&[]);
    assert_eq!(server.post_signup(&signup(1)).status, 201);
    let rule = call(
        &server,
        "PUT",
        "/v1/rewards",
        json!({"on": "sale", "kind": "percent", "basis_points": 1000, "holding_days": 0}),
    );
    assert_eq!(rule.status, 200, "{}", rule.body);
    // Eight clients post 30 sales each while payouts of whatever is due go out: on PostgreSQL
    // the collector's four writers commit them side by side.
    let paid = std::thread::scope(|scope| {
        for t in 0..8 {
            let server = &server;
            scope.spawn(move || {
                for n in 0..30 {
                    sale(server, &format!("sale_{t}_{n}"), "cus_1", 1000 + n);
                }
            });
        }
        let mut paid = 0;
        for n in 0..20 {
            let due = owed(&server, "alex-smith")["due"].as_i64().unwrap_or(0);
            if due > 0 {
                let pay = |amount: i64, reference: String| {
                    call(
                        &server,
                        "POST",
                        "/v1/payouts",
                        json!({"partner_key": "alex-smith", "amount": amount, "currency": "USD",
                               "reference": reference}),
                    )
                };
                let mut reply = pay(due, format!("tr_{n}"));
                // An entry committed meanwhile by another writer may fall inside the amount
                // read: the answer names the whole-entry amounts around it, and the client pays
                // the one below.
                if reply.status == 422 {
                    let below = reply.json()["below"].as_i64().unwrap();
                    assert!(below < due, "{}", reply.body);
                    if below == 0 {
                        continue;
                    }
                    reply = pay(below, format!("tr_{n}_below"));
                }
                assert_eq!(reply.status, 201, "{}", reply.body);
                paid += reply.json()["amount"].as_i64().unwrap();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        paid
    });
    let o = owed(&server, "alex-smith");
    let earned: i64 = (0..30).map(|n| (1000 + n + 5) / 10).sum::<i64>() * 8;
    assert_eq!(
        (o["earned"].as_i64(), o["paid"].as_i64()),
        (Some(earned), Some(paid))
    );
    assert_eq!(o["due"].as_i64(), Some(earned - paid));
    let s = statement(&server, "alex-smith");
    assert_eq!(s["totals"][0]["closing"].as_i64(), Some(earned - paid));
    let settled = s["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["state"] == "paid")
        .map(|l| l["amount"].as_i64().unwrap())
        .sum::<i64>();
    assert_eq!(settled, paid, "the entries settled are what was paid");
}
