//! `POST /webhooks/stripe`: Stripe's events, signed (the webhook router checks the signature
//! before this runs). A checkout binds the Stripe customer to the site's customer and, with a
//! click id, is a claim the site's billing confirmed; an invoice paid is a sale; a refund or a
//! lost dispute, a negative transaction. Each is stored once, whatever Stripe redelivers; a
//! payment no customer matches is kept with why, to be credited by hand.

use crate::domain::credit;
use crate::domain::stripe::{self, Payment, Transaction};
use crate::domain::validate::Record;
use crate::http::{ApiError, Shared, StripeSigned};
use crate::store::money::{self, NewTransaction};
use crate::store::{clicks, records, Db, DbError};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// `200 {"received": true, "outcome": …}` once the event's effect is committed (a redelivery
/// changes nothing and answers the same); `400` for a body that is not an event; `503` only when
/// the store cannot take it, so that Stripe retries.
pub async fn stripe(
    State(state): State<Shared>,
    StripeSigned(body): StripeSigned,
) -> Result<Response, ApiError> {
    let event: Value = serde_json::from_slice(&body)
        .map_err(|_| ApiError::bad_request("the body is not a Stripe event (JSON)"))?;
    let id = event["id"].as_str().unwrap_or_default().to_owned();
    if stripe::livemode(&event) != state.stripe_livemode {
        let outcome = if state.stripe_livemode {
            "ignored: a test-mode event (this collector records live mode)"
        } else {
            "ignored: a live-mode event (start with --stripe-livemode to record them)"
        };
        return Ok(answer(&id, outcome));
    }
    let payment = stripe::payment(&event);
    let (shared, received_at) = (state.clone(), state.now_iso());
    let outcome = state
        .store
        .write(move |db| apply(&shared, db, &payment, &id, &received_at))
        .await?;
    Ok(answer(event["id"].as_str().unwrap_or_default(), &outcome))
}

fn answer(id: &str, outcome: &str) -> Response {
    Json(json!({ "received": true, "event": id, "outcome": outcome })).into_response()
}

/// Applies one event in the writer's transaction; answers what it did.
fn apply(
    state: &Shared,
    db: &mut Db,
    payment: &Payment,
    event_id: &str,
    received_at: &str,
) -> Result<String, DbError> {
    match payment {
        Payment::Ignored => Ok("ignored: not an event reftrack records".into()),
        Payment::Charge {
            charge,
            provider_key,
        } => {
            db.execute(
                "INSERT INTO stripe_charges (charge, provider_key) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
                &[charge.as_str().into(), provider_key.as_str().into()],
            )?;
            Ok("charge noted".into())
        }
        Payment::Customer {
            provider_key,
            customer_key,
            public_key,
            email,
        } => match find(state, db, customer_key, public_key, email)? {
            Some(customer) => {
                money::bind(db, "stripe", provider_key, &customer)?;
                Ok(format!("bound {provider_key} to customer {}", customer.1))
            }
            None => Ok(format!(
                "not bound: {provider_key} names no known customer (metadata.customer_key or a signup's email)"
            )),
        },
        Payment::Checkout {
            provider_key,
            customer_key,
            public_key,
            xid,
            email,
        } => {
            let customer = match (customer_key, program(state, db, public_key, customer_key)?) {
                (Some(key), Some(program)) => Some((program, key.clone())),
                _ => find(state, db, customer_key, public_key, email)?,
            };
            let Some(customer) = customer else {
                return Ok("not bound: the session names no known customer (set metadata.customer_key)".into());
            };
            if let Some(provider_key) = provider_key {
                money::bind(db, "stripe", provider_key, &customer)?;
            }
            match xid {
                Some(xid) => confirm_click(state, db, &customer, xid, event_id, received_at),
                None => Ok(format!("bound to customer {}", customer.1)),
            }
        }
        Payment::Transaction(t) => transaction(db, t, received_at),
    }
}

/// A checkout that names a click the collector recorded is a claim the site's billing confirmed
/// (its event id the claim's, so a redelivery is the same claim).
fn confirm_click(
    state: &Shared,
    db: &mut Db,
    customer: &(String, String),
    xid: &str,
    event_id: &str,
    received_at: &str,
) -> Result<String, DbError> {
    let Some(partner) = clicks::click_partner(db, xid)? else {
        return Ok(format!(
            "bound to customer {}; click {xid} is not one this collector recorded",
            customer.1
        ));
    };
    let status = crate::store::partners::on_use(db, &partner, state.registered_only, received_at)?;
    let mut body = serde_json::Map::new();
    body.insert("type".into(), "signup".into());
    body.insert("public_key".into(), customer.0.clone().into());
    body.insert("customer_key".into(), customer.1.clone().into());
    body.insert("partner_key".into(), partner.clone().into());
    body.insert("xid".into(), xid.into());
    body.insert("source".into(), "stripe-checkout".into());
    body.insert("event_id".into(), event_id.into());
    let record = Record {
        kind: "signup",
        event_id: format!("stripe:{event_id}"),
        public_key: Some(customer.0.clone()),
        customer_key: customer.1.clone(),
        xid: Some(xid.to_owned()),
        body,
        partner_key: Some(partner.clone()),
        claimed_partner_key: None,
        standing: credit::standing(state.policy, Some(status), true, true),
        via: "stripe",
        customer_hash: None,
        amount: None,
        currency: None,
        transaction_key: None,
    };
    // A new claim decides its customer's credit as it is stored; a redelivered one changes
    // nothing.
    records::save(db, &record, received_at)?;
    Ok(format!(
        "bound to customer {}; claim confirmed for partner {partner}",
        customer.1
    ))
}

/// A sale or refund, stored once; a refund of a charge records what is newly refunded.
fn transaction(db: &mut Db, t: &Transaction, received_at: &str) -> Result<String, DbError> {
    let provider_key = match (&t.provider_key, &t.charge) {
        (Some(key), _) => Some(key.clone()),
        (None, Some(charge)) => db
            .first(
                "SELECT provider_key FROM stripe_charges WHERE charge = $1",
                &[charge.as_str().into()],
            )?
            .and_then(|row| row.into_iter().next()?.text()),
        (None, None) => None,
    };
    let amount = match (t.refunded_total, &t.charge) {
        (Some(total), Some(charge)) => {
            // Stripe may deliver refund events out of order: what is recorded is always the
            // largest total seen, so the older event adds nothing.
            db.lock(&format!("stripe charge\n{charge}"))?;
            let recorded = money::refunded(db, "stripe", charge)?;
            if total <= recorded {
                return Ok(format!("refund of {charge} recorded already"));
            }
            recorded - total
        }
        _ => t.amount,
    };
    let customer = match &provider_key {
        Some(key) => money::bound(db, "stripe", key)?,
        None => None,
    };
    let unmatched = customer.is_none().then(|| match &provider_key {
        Some(key) => format!(
            "no customer is bound to Stripe customer {key}: bind one with metadata.customer_key at checkout, or POST /v1/transactions/{{id}}/attribute"
        ),
        None => "the event names no Stripe customer: POST /v1/transactions/{id}/attribute".into(),
    });
    let recorded = money::record(
        db,
        &NewTransaction {
            source: "stripe",
            source_id: t.source_id.clone(),
            kind: t.kind,
            amount,
            currency: t.currency.clone(),
            public_key: customer.as_ref().map(|c| c.0.clone()),
            customer_key: customer.map(|c| c.1),
            // A sale names the charge that paid it; only a charge's refunds make up its
            // refunded total, and a dispute is apart from it.
            reference: match t.kind {
                "sale" => t.charge.clone(),
                _ => t.refunded_total.and(t.charge.clone()),
            },
            unmatched,
            occurred_at: crate::domain::time::iso8601(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.created.max(0) as u64),
            ),
            body: json!({ "provider_key": provider_key, "charge": t.charge }).to_string(),
            partner_key: None,
        },
        received_at,
    )?;
    Ok(format!(
        "{} {} {} {} as transaction {}{}",
        if recorded.created {
            "recorded"
        } else {
            "already recorded:"
        },
        t.kind,
        amount,
        t.currency,
        recorded.id,
        recorded
            .partner_key
            .map(|p| format!(", credited to {p}"))
            .unwrap_or_default()
    ))
}

/// The program of a customer named by key: `metadata.public_key`, the collector's only
/// `--public-key`, or the only program that has that customer.
fn program(
    state: &Shared,
    db: &mut Db,
    public_key: &Option<String>,
    customer_key: &Option<String>,
) -> Result<Option<String>, DbError> {
    if let Some(public_key) = public_key {
        return Ok(Some(public_key.clone()));
    }
    if let [only] = state.public_keys.as_slice() {
        return Ok(Some(only.clone()));
    }
    Ok(match customer_key {
        Some(key) => money::customer_by_key(db, None, key)?.map(|(program, _)| program),
        None => None,
    })
}

/// A known customer: by key (in its program), else by the email of one of its signups.
fn find(
    state: &Shared,
    db: &mut Db,
    customer_key: &Option<String>,
    public_key: &Option<String>,
    email: &Option<String>,
) -> Result<Option<(String, String)>, DbError> {
    if let Some(key) = customer_key {
        let program = public_key
            .clone()
            .or_else(|| match state.public_keys.as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            });
        if let Some(customer) = money::customer_by_key(db, program.as_deref(), key)? {
            return Ok(Some(customer));
        }
    }
    match email {
        Some(email) => money::customer_by_email(db, email),
        None => Ok(None),
    }
}
