//! Stripe's webhooks: the `Stripe-Signature` check as Stripe documents it, and the payments its
//! events carry, read into what the store keeps. Plain functions over the raw body and the time.

use super::signing::unhex;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// How old a signed event may be, in seconds (Stripe's libraries use the same tolerance).
pub const TOLERANCE_SECONDS: i64 = 300;

/// Why a webhook is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No `Stripe-Signature` header, or one without `t=` and a `v1=`.
    Malformed,
    /// No `v1` signature matches any `--stripe-webhook-secret`.
    Mismatch,
    /// The timestamp is further than [`TOLERANCE_SECONDS`] from now.
    Stale,
}

impl Refusal {
    /// The reason, for the `400` and the log.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Malformed => "Stripe-Signature is missing or has no t= and v1=",
            Refusal::Mismatch => {
                "no v1 signature matches a --stripe-webhook-secret (is it the endpoint's signing secret, whsec_…?)"
            }
            Refusal::Stale => "the Stripe-Signature timestamp is more than 300 s from now",
        }
    }
}

/// Checks `header` (`t=…,v1=…[,v1=…][,v0=…]`) over the raw `body` against each of `secrets`, at
/// `now` (seconds since the epoch): HMAC-SHA256 of `"{t}.{body}"`, compared in constant time;
/// schemes other than `v1` are ignored.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[String],
    now: i64,
) -> Result<(), Refusal> {
    let header = header.ok_or(Refusal::Malformed)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v1)) => signatures.extend(unhex(v1)),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(Refusal::Malformed)?;
    if signatures.is_empty() {
        return Err(Refusal::Malformed);
    }
    let matches = secrets.iter().any(|secret| {
        signatures.iter().any(|signature| {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
                .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            mac.verify_slice(signature).is_ok()
        })
    });
    if !matches {
        return Err(Refusal::Mismatch);
    }
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(Refusal::Stale);
    }
    Ok(())
}

/// What one Stripe event asks of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payment {
    /// A checkout finished: the Stripe customer `provider_key` is the site's `customer_key`, and
    /// the session may name the click that brought it (`client_reference_id` or
    /// `metadata.reftrack_xid`).
    Checkout {
        /// The Stripe customer id (`cus_…`).
        provider_key: Option<String>,
        /// `metadata.customer_key`.
        customer_key: Option<String>,
        /// `metadata.public_key`: the program, where a collector takes several.
        public_key: Option<String>,
        /// The click id.
        xid: Option<String>,
        /// The buyer's email, to bind by when no customer key is given.
        email: Option<String>,
    },
    /// A Stripe customer was created or changed: bind it through `metadata.customer_key`, or
    /// through the email of a known customer.
    Customer {
        /// The Stripe customer id.
        provider_key: String,
        /// `metadata.customer_key`.
        customer_key: Option<String>,
        /// `metadata.public_key`.
        public_key: Option<String>,
        /// The customer's email.
        email: Option<String>,
    },
    /// A charge went through: which Stripe customer paid it, so that a dispute of the charge
    /// (which names no customer) finds them.
    Charge {
        /// The charge id (`ch_…`).
        charge: String,
        /// The Stripe customer id.
        provider_key: String,
    },
    /// Money in or out: a paid invoice (a sale), or a refund or lost dispute (negative).
    Transaction(Transaction),
    /// Nothing reftrack records.
    Ignored,
}

/// One sale or refund read from an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// Unique per source: the invoice id, `{charge}/refunded/{cumulative amount}`, the dispute id.
    pub source_id: String,
    /// `sale` or `refund`.
    pub kind: &'static str,
    /// Minor units; negative for a refund.
    pub amount: i64,
    /// ISO 4217, upper case.
    pub currency: String,
    /// The Stripe customer it belongs to.
    pub provider_key: Option<String>,
    /// For a sale, the charge that paid it (when the event says); for a refund, the charge it
    /// refunds, whose sale it reverses.
    pub charge: Option<String>,
    /// For a refund of a charge: the total refunded so far, from which the delta is taken.
    pub refunded_total: Option<i64>,
    /// When it happened: the event's `created`, seconds since the epoch.
    pub created: i64,
}

/// The event's `livemode`.
pub fn livemode(event: &Value) -> bool {
    event["livemode"].as_bool().unwrap_or(false)
}

/// Reads what `event` (a Stripe `Event`) asks of the store.
pub fn payment(event: &Value) -> Payment {
    let object = &event["data"]["object"];
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    let created = event["created"].as_i64().unwrap_or(0);
    let currency = || {
        object["currency"]
            .as_str()
            .unwrap_or("")
            .to_ascii_uppercase()
    };
    match event["type"].as_str().unwrap_or("") {
        "checkout.session.completed" => Payment::Checkout {
            provider_key: text(&object["customer"]),
            customer_key: text(&object["metadata"]["customer_key"]),
            public_key: text(&object["metadata"]["public_key"]),
            xid: text(&object["client_reference_id"])
                .or_else(|| text(&object["metadata"]["reftrack_xid"])),
            email: text(&object["customer_details"]["email"])
                .or_else(|| text(&object["customer_email"])),
        },
        "customer.created" | "customer.updated" => match text(&object["id"]) {
            Some(provider_key) => Payment::Customer {
                provider_key,
                customer_key: text(&object["metadata"]["customer_key"]),
                public_key: text(&object["metadata"]["public_key"]),
                email: text(&object["email"]),
            },
            None => Payment::Ignored,
        },
        "charge.succeeded" => match (text(&object["id"]), text(&object["customer"])) {
            (Some(charge), Some(provider_key)) => Payment::Charge {
                charge,
                provider_key,
            },
            _ => Payment::Ignored,
        },
        "invoice.paid" => match (text(&object["id"]), object["amount_paid"].as_i64()) {
            (Some(id), Some(amount)) if amount > 0 => Payment::Transaction(Transaction {
                source_id: id,
                kind: "sale",
                amount,
                currency: currency(),
                provider_key: text(&object["customer"]),
                // The charge that paid it (API versions before 2025-03-31), so that its refunds
                // reverse this sale's commission; without it they reverse the customer's latest.
                charge: text(&object["charge"]),
                refunded_total: None,
                created,
            }),
            _ => Payment::Ignored,
        },
        "charge.refunded" => match (text(&object["id"]), object["amount_refunded"].as_i64()) {
            (Some(charge), Some(total)) if total > 0 => Payment::Transaction(Transaction {
                // The cumulative amount makes each refund step its own, and a redelivery the same.
                source_id: format!("{charge}/refunded/{total}"),
                kind: "refund",
                amount: 0,
                currency: currency(),
                provider_key: text(&object["customer"]),
                charge: Some(charge),
                refunded_total: Some(total),
                created,
            }),
            _ => Payment::Ignored,
        },
        "charge.dispute.closed" if object["status"] == "lost" => {
            match (text(&object["id"]), object["amount"].as_i64()) {
                (Some(id), Some(amount)) if amount > 0 => Payment::Transaction(Transaction {
                    source_id: id,
                    kind: "refund",
                    amount: -amount,
                    currency: currency(),
                    provider_key: None,
                    charge: text(&object["charge"]),
                    refunded_total: None,
                    created,
                }),
                _ => Payment::Ignored,
            }
        }
        _ => Payment::Ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sign(secret: &str, t: i64, body: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("t={t},v1={hex}")
    }

    #[test]
    fn signatures_are_checked_as_stripe_documents() {
        let body = br#"{"id":"evt_1"}"#;
        let secrets = ["whsec_old".to_owned(), "whsec_new".to_owned()];
        let now = 1_795_000_000;
        assert_eq!(
            verify(Some(&sign("whsec_new", now, body)), body, &secrets, now),
            Ok(())
        );
        // Rotation: another v1 beside, or a v0, changes nothing.
        let two = format!("{},v1=00ff,v0=abcd", sign("whsec_old", now, body));
        assert_eq!(verify(Some(&two), body, &secrets, now + 299), Ok(()));
        assert_eq!(
            verify(Some(&sign("whsec_other", now, body)), body, &secrets, now),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            verify(
                Some(&sign("whsec_new", now, body)),
                b"{\"id\":\"evt_2\"}",
                &secrets,
                now
            ),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            verify(
                Some(&sign("whsec_new", now - 301, body)),
                body,
                &secrets,
                now
            ),
            Err(Refusal::Stale)
        );
        for bad in [None, Some("v1=00"), Some("t=1"), Some("garbage")] {
            assert_eq!(
                verify(bad, body, &secrets, now),
                Err(Refusal::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn events_become_payments() {
        let invoice = json!({"type": "invoice.paid", "created": 5, "data": {"object":
            {"id": "in_1", "amount_paid": 4900, "currency": "eur", "customer": "cus_A"}}});
        let Payment::Transaction(sale) = payment(&invoice) else {
            panic!()
        };
        assert_eq!(
            (sale.kind, sale.amount, sale.currency.as_str()),
            ("sale", 4900, "EUR")
        );
        let refund = json!({"type": "charge.refunded", "data": {"object":
            {"id": "ch_1", "amount_refunded": 1470, "currency": "eur", "customer": "cus_A"}}});
        let Payment::Transaction(r) = payment(&refund) else {
            panic!()
        };
        assert_eq!(
            (r.source_id.as_str(), r.refunded_total),
            ("ch_1/refunded/1470", Some(1470))
        );
        let lost = json!({"type": "charge.dispute.closed", "data": {"object":
            {"id": "dp_1", "status": "lost", "amount": 4900, "currency": "usd", "charge": "ch_1"}}});
        let Payment::Transaction(d) = payment(&lost) else {
            panic!()
        };
        assert_eq!((d.kind, d.amount), ("refund", -4900));
        let won = json!({"type": "charge.dispute.closed", "data": {"object": {"id": "dp_2", "status": "won"}}});
        assert_eq!(payment(&won), Payment::Ignored);
        let checkout = json!({"type": "checkout.session.completed", "data": {"object":
            {"customer": "cus_A", "client_reference_id": "XidOfAlex",
             "metadata": {"customer_key": "c1"}, "customer_details": {"email": "a@b.co"}}}});
        assert_eq!(
            payment(&checkout),
            Payment::Checkout {
                provider_key: Some("cus_A".into()),
                customer_key: Some("c1".into()),
                public_key: None,
                xid: Some("XidOfAlex".into()),
                email: Some("a@b.co".into()),
            }
        );
        assert_eq!(payment(&json!({"type": "plan.created"})), Payment::Ignored);
    }
}
