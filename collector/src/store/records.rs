//! Records (signups and conversions): saved once, resolved to their partner, listed page by page.

use super::claims;
use super::clicks::click_partner;
use super::engine::{first_text, Db, DbError, V};
use crate::domain::credit::{self, Claim, Credit, Standing};
use crate::domain::validate::Record;
use serde_json::{Map, Value};

/// Whether a record was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// Stored now.
    Created,
    /// Already there: the same `event_id` (a resent signup), the same customer created through
    /// Partnero's API before, or a conversion with the same `transaction_key` (without one: of the
    /// same click and customer).
    Duplicate,
}

/// Stores `record` unless the database already holds it, and for a new signup decides its
/// customer's credit anew. Returns what happened, with the `event_id` that is stored: the
/// record's own, or the one of the record it duplicates.
pub fn save(db: &mut Db, record: &Record, received_at: &str) -> Result<(Saved, String), DbError> {
    let body = Value::Object(record.body.clone()).to_string();
    // A signup's email, lower-cased, to bind a billing system's customer by.
    let email = match (record.kind, record.body.get("email")) {
        ("signup", Some(Value::String(email))) => Some(email.to_ascii_lowercase()),
        _ => None,
    };
    let inserted = db.first(
        "INSERT INTO records
             (event_id, kind, public_key, customer_key, xid, body, received_at, partner_key,
              claimed_partner_key, verified, amount, currency, transaction_key, standing, via,
              email)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         ON CONFLICT DO NOTHING RETURNING id",
        &[
            record.event_id.as_str().into(),
            record.kind.into(),
            record.public_key.as_deref().into(),
            record.customer_key.as_str().into(),
            record.xid.as_deref().into(),
            body.as_str().into(),
            received_at.into(),
            record.partner_key.as_deref().into(),
            record.claimed_partner_key.as_deref().into(),
            i64::from(record.standing != Standing::Unverified).into(),
            record.amount.into(),
            record.currency.as_deref().into(),
            record.transaction_key.as_deref().into(),
            record.standing.as_str().into(),
            record.via.into(),
            email.as_deref().into(),
        ],
    )?;
    if let Some(id) = inserted.and_then(|row| row[0].int()) {
        if let (Some(public_key), "signup") = (&record.public_key, record.kind) {
            let claim = Claim {
                id,
                partner_key: record.partner_key.clone(),
                standing: record.standing,
            };
            claims::claimed(db, public_key, &record.customer_key, claim, received_at)?;
        }
        return Ok((Saved::Created, record.event_id.clone()));
    }
    let stored = db.first(
        "SELECT event_id FROM records WHERE event_id = $1
         UNION ALL
         SELECT event_id FROM records
             WHERE kind = 'signup' AND $2 = 'signup' AND via = 'api' AND $7 = 'api'
               AND public_key = $3 AND customer_key = $4
         UNION ALL
         SELECT event_id FROM records
             WHERE kind = 'conversion' AND $2 = 'conversion'
               AND ((xid = $5 AND customer_key = $4 AND transaction_key IS NULL
                     AND CAST($6 AS TEXT) IS NULL) OR transaction_key = $6)",
        &[
            record.event_id.as_str().into(),
            record.kind.into(),
            record.public_key.as_deref().into(),
            record.customer_key.as_str().into(),
            record.xid.as_deref().into(),
            record.transaction_key.as_deref().into(),
            record.via.into(),
        ],
    )?;
    let event_id = first_text(stored).unwrap_or_else(|| record.event_id.clone());
    Ok((Saved::Duplicate, event_id))
}

/// The partner of `xid`, when the collector issued it (a recorded click), was given it
/// (`--import-xids`), or a claim the site's server confirmed carried it. An anonymous claim never
/// makes an xid known.
pub fn xid_partner(db: &mut Db, xid: &str) -> Result<Option<String>, DbError> {
    if let Some(partner) = click_partner(db, xid)? {
        return Ok(Some(partner));
    }
    db.first(
        "SELECT partner_key FROM records
         WHERE kind = 'signup' AND xid = $1 AND standing = 'confirmed' AND partner_key IS NOT NULL
         ORDER BY id LIMIT 1",
        &[xid.into()],
    )
    .map(first_text)
}

/// The days a listing covers (`YYYY-MM-DD`, both included), by the day a record was received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Days {
    /// The first day.
    pub since: String,
    /// The last day.
    pub until: String,
}

impl Days {
    /// Every day.
    pub fn all() -> Days {
        Days {
            since: "0000-01-01".into(),
            until: "9999-12-31".into(),
        }
    }
}

/// How many records were received within `days`.
pub fn count(db: &mut Db, days: &Days) -> Result<i64, DbError> {
    let row = db.first(
        "SELECT COUNT(*) FROM records WHERE substr(received_at, 1, 10) BETWEEN $1 AND $2",
        &[days.since.as_str().into(), days.until.as_str().into()],
    )?;
    Ok(row.and_then(|r| r[0].int()).unwrap_or(0))
}

/// The page of the listing below `before` (a row id; the newest first) within `days`: the ids it
/// spans, and whether older rows remain. `None` when the page is empty.
pub fn page(
    db: &mut Db,
    before: i64,
    limit: i64,
    days: &Days,
) -> Result<Option<(i64, i64, bool)>, DbError> {
    let span = db.first(
        "SELECT MIN(id), MAX(id) FROM
             (SELECT id FROM records WHERE id < $1 AND substr(received_at, 1, 10) BETWEEN $3 AND $4
              ORDER BY id DESC LIMIT $2) AS page",
        &[
            before.into(),
            limit.into(),
            days.since.as_str().into(),
            days.until.as_str().into(),
        ],
    )?;
    let Some([V::Int(low), V::Int(high)]) = span.as_deref() else {
        return Ok(None);
    };
    let older = db
        .first(
            "SELECT id FROM records
             WHERE id < $1 AND substr(received_at, 1, 10) BETWEEN $2 AND $3 LIMIT 1",
            &[
                (*low).into(),
                days.since.as_str().into(),
                days.until.as_str().into(),
            ],
        )?
        .is_some();
    Ok(Some((*low, *high, older)))
}

/// Each record from id `high` down to `low`, as the listing shows it: its body plus
/// `received_at`, the partner it names as `partner_key` (its click's, when it carried one), and
/// `claimed_partner_key` when its click named another partner than it did; for a signup, `credit`:
/// whether this claim is the one credited for its customer, what backs it, why, and whether the
/// customer is contested; only those received within `days`. `each` stops the reading by
/// answering `false`.
pub fn each_listed(
    db: &mut Db,
    low: i64,
    high: i64,
    days: &Days,
    mut each: impl FnMut(Value) -> bool,
) -> Result<(), DbError> {
    db.for_each(
        "SELECT r.body, r.received_at, r.partner_key, r.claimed_partner_key, r.verified, r.amount,
                r.currency, r.transaction_key, r.id, r.kind, r.standing,
                c.record_id, c.partner_key, c.standing, c.contested
         FROM records r
         LEFT JOIN customers c
             ON r.kind = 'signup' AND c.public_key = r.public_key
            AND c.customer_key = r.customer_key
         WHERE r.id >= $1 AND r.id <= $2 AND substr(r.received_at, 1, 10) BETWEEN $3 AND $4
         ORDER BY r.id DESC",
        &[
            low.into(),
            high.into(),
            days.since.as_str().into(),
            days.until.as_str().into(),
        ],
        |row| each(listed(row)),
    )
}

fn listed(row: Vec<V>) -> Value {
    let mut row = row.into_iter();
    let mut next = || row.next().unwrap_or(V::Null);
    let mut object: Map<String, Value> = next()
        .text()
        .and_then(|body| serde_json::from_str(&body).ok())
        .unwrap_or_default();
    object.insert("received_at".into(), json_text(next().text()));
    object.insert("partner_key".into(), json_text(next().text()));
    if let Some(claimed) = next().text() {
        object.insert("claimed_partner_key".into(), Value::String(claimed));
    }
    if next().int() == Some(0) {
        object.insert("verified".into(), Value::Bool(false));
    }
    let (amount, currency) = (next(), next());
    if let Some(amount) = amount.int() {
        object.insert("amount".into(), amount.into());
        object.insert("currency".into(), json_text(currency.text()));
    }
    if let Some(key) = next().text() {
        object.insert("transaction_key".into(), Value::String(key));
    }
    let (id, kind, standing) = (next().int().unwrap_or(0), next().text(), next().text());
    let (credited_id, credited_partner, credited_standing, contested) =
        (next().int(), next().text(), next().text(), next().int());
    if kind.as_deref() == Some("signup") {
        let standing = Standing::parse(&standing.unwrap_or_default());
        let credit = Credit {
            claim: credited_id,
            partner_key: credited_partner,
            standing: Standing::parse(&credited_standing.unwrap_or_default()),
            contested: contested == Some(1),
        };
        object.insert(
            "credit".into(),
            serde_json::json!({
                "credited": credit.claim == Some(id),
                "standing": standing.as_str(),
                "reason": credit::explain(id, standing, &credit),
                "customer_partner_key": credit.partner_key,
                "contested": credit.contested,
            }),
        );
    }
    Value::Object(object)
}

fn json_text(text: Option<String>) -> Value {
    text.map_or(Value::Null, Value::String)
}
