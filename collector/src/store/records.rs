//! Records (signups and conversions): saved once, resolved to their partner, listed page by page.

use super::clicks::click_partner;
use super::engine::{first_text, Db, DbError, V};
use crate::domain::validate::Record;
use serde_json::{Map, Value};

/// Whether a record was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// Stored now.
    Created,
    /// Already there: same `event_id`, or the same customer of the same program (or, for a
    /// conversion, the same click and customer or the same `transaction_key`).
    Duplicate,
}

/// Stores `record` unless the database already holds it. Returns what happened, with the
/// `event_id` that is stored: the record's own, or the one of the record it duplicates.
pub fn save(db: &mut Db, record: &Record, received_at: &str) -> Result<(Saved, String), DbError> {
    let body = Value::Object(record.body.clone()).to_string();
    let changed = db.execute(
        "INSERT INTO records
             (event_id, kind, public_key, customer_key, xid, body, received_at, partner_key,
              claimed_partner_key, verified, amount, currency, transaction_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT DO NOTHING",
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
            i64::from(record.verified).into(),
            record.amount.into(),
            record.currency.as_deref().into(),
            record.transaction_key.as_deref().into(),
        ],
    )?;
    if changed == 1 {
        return Ok((Saved::Created, record.event_id.clone()));
    }
    let stored = db.first(
        "SELECT event_id FROM records WHERE event_id = $1
         UNION ALL
         SELECT event_id FROM records
             WHERE kind = 'signup' AND $2 = 'signup' AND public_key = $3 AND customer_key = $4
         UNION ALL
         SELECT event_id FROM records
             WHERE kind = 'conversion' AND $2 = 'conversion'
               AND ((xid = $5 AND customer_key = $4) OR transaction_key = $6)",
        &[
            record.event_id.as_str().into(),
            record.kind.into(),
            record.public_key.as_deref().into(),
            record.customer_key.as_str().into(),
            record.xid.as_deref().into(),
            record.transaction_key.as_deref().into(),
        ],
    )?;
    let event_id = first_text(stored).unwrap_or_else(|| record.event_id.clone());
    Ok((Saved::Duplicate, event_id))
}

/// The partner of `xid`: through its click, or else through a stored signup that carried it
/// (click ids made elsewhere, before a migration).
pub fn xid_partner(db: &mut Db, xid: &str) -> Result<Option<String>, DbError> {
    if let Some(partner) = click_partner(db, xid)? {
        return Ok(Some(partner));
    }
    db.first(
        "SELECT partner_key FROM records
         WHERE kind = 'signup' AND xid = $1 AND partner_key IS NOT NULL
         ORDER BY id LIMIT 1",
        &[xid.into()],
    )
    .map(first_text)
}

/// Whether `partner_key` is known here: it has a recorded click or a credited record.
pub fn known_partner(db: &mut Db, partner_key: &str) -> Result<bool, DbError> {
    let row = db.first(
        "SELECT 1 FROM clicks WHERE partner_key = $1
         UNION ALL
         SELECT 1 FROM records WHERE partner_key = $1",
        &[partner_key.into()],
    )?;
    Ok(row.is_some())
}

/// The page of the listing below `before` (a row id; the newest first): the ids it spans, and
/// whether older rows remain. `None` when the page is empty.
pub fn page(db: &mut Db, before: i64, limit: i64) -> Result<Option<(i64, i64, bool)>, DbError> {
    let span = db.first(
        "SELECT MIN(id), MAX(id) FROM
             (SELECT id FROM records WHERE id < $1 ORDER BY id DESC LIMIT $2) AS page",
        &[before.into(), limit.into()],
    )?;
    let Some([V::Int(low), V::Int(high)]) = span.as_deref() else {
        return Ok(None);
    };
    let older = db
        .first(
            "SELECT id FROM records WHERE id < $1 LIMIT 1",
            &[(*low).into()],
        )?
        .is_some();
    Ok(Some((*low, *high, older)))
}

/// Each record from id `high` down to `low`, as the listing shows it: its body plus
/// `received_at`, the partner it credits as `partner_key`, `verified: false` when
/// `--verified-clicks` found no click behind it, and `claimed_partner_key` when its click named
/// another partner than it did. `each` stops the reading by answering `false`.
pub fn each_listed(
    db: &mut Db,
    low: i64,
    high: i64,
    mut each: impl FnMut(Value) -> bool,
) -> Result<(), DbError> {
    db.for_each(
        "SELECT body, received_at, partner_key, claimed_partner_key, verified, amount, currency,
                transaction_key
         FROM records WHERE id >= $1 AND id <= $2 ORDER BY id DESC",
        &[low.into(), high.into()],
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
    Value::Object(object)
}

fn json_text(text: Option<String>) -> Value {
    text.map_or(Value::Null, Value::String)
}
