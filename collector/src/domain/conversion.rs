//! A server-to-server conversion (`POST /conversion/xid`): validated into the record stored.

use super::credit::Standing;
use super::fields::{is_token, object, opt, Fields, MAX_TEXT};
use super::validate::Record;
use reftrack::core::partner_key::{KEY_RULE, MAX_LEN};
use reftrack::core::signup::{is_email, MAX_EMAIL, MAX_FIELD};
use serde_json::{Map, Value};

/// A server-to-server conversion (`POST /conversion/xid`, the shape of PartnerStack's S2S API).
/// `event_id` is made by the collector.
pub fn conversion(body: &[u8], event_id: String) -> Result<Record, String> {
    let map = object(body)?;
    let f = Fields(&map);
    let xid = f.required("xid", MAX_LEN)?;
    if !is_token(&xid) {
        return Err(format!("xid must be {KEY_RULE}"));
    }
    let customer_key = f.required("customer_key", MAX_FIELD)?;
    let email = f.text("email", MAX_EMAIL)?.filter(|e| !e.is_empty());
    if email.as_deref().is_some_and(|e| !is_email(e)) {
        return Err("email is not a valid email address".into());
    }
    let mut out = Map::new();
    out.insert("event_id".into(), Value::String(event_id.clone()));
    out.insert("type".into(), "conversion".into());
    out.insert("xid".into(), Value::String(xid.clone()));
    out.insert("customer_key".into(), Value::String(customer_key.clone()));
    out.insert("email".into(), opt(email));
    out.insert("name".into(), opt(f.text("name", MAX_FIELD)?));
    for name in ["origin", "ip_address", "user_agent", "external_type"] {
        out.insert(name.into(), opt(f.text(name, MAX_TEXT)?));
    }
    out.insert("sub_ids".into(), f.strings("sub_ids")?.into());
    let amount = match map.get("amount") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_i64().is_some_and(|a| a >= 0) => n.as_i64(),
        Some(_) => {
            return Err("amount must be a whole number of minor units (cents), 0 or more".into())
        }
    };
    let currency = f.text("currency", 3)?.map(|c| c.to_ascii_uppercase());
    match (&amount, &currency) {
        (Some(_), None) => return Err("currency is required with amount".into()),
        (_, Some(c)) if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_alphabetic()) => {
            return Err("currency must be a three-letter ISO 4217 code".into())
        }
        _ => {}
    }
    let transaction_key = f
        .key("transaction_key", MAX_FIELD)?
        .filter(|k| !k.is_empty());
    for (name, value) in [
        ("amount", amount.map(Value::from)),
        ("currency", currency.clone().map(Value::from)),
        ("transaction_key", transaction_key.clone().map(Value::from)),
    ] {
        if let Some(value) = value {
            out.insert(name.into(), value);
        }
    }
    Ok(Record {
        kind: "conversion",
        event_id,
        public_key: None,
        customer_key,
        xid: Some(xid),
        body: out,
        partner_key: None,
        claimed_partner_key: None,
        standing: Standing::Confirmed,
        via: "s2s",
        customer_hash: None,
        amount,
        currency,
        transaction_key,
    })
}
