//! Checking a signup from the SDK (contract §7): turned into the normalized JSON that is stored,
//! or refused with a reason a developer can act on.

use super::fields::{is_token, object, opt, Fields, MAX_META_KEY, MAX_TEXT};
use super::standing::Standing;
use reftrack::core::config::{is_public_key, PUBLIC_KEY_RULE};
use reftrack::core::partner_key::{KEY_RULE, MAX_LEN};
use reftrack::core::signup::{is_email, MAX_EMAIL, MAX_FIELD, MAX_ITEMS};
use reftrack::core::text::is_hidden;
use serde_json::{Map, Value};

/// A record ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// `"signup"` or `"conversion"`.
    pub kind: &'static str,
    /// Unique per record.
    pub event_id: String,
    /// The program's public key (signups).
    pub public_key: Option<String>,
    /// The site's customer identifier.
    pub customer_key: String,
    /// The click id.
    pub xid: Option<String>,
    /// The normalized body, as stored and listed.
    pub body: Map<String, Value>,
    /// The partner credited: the one the body names, or the one its click recorded.
    pub partner_key: Option<String>,
    /// The partner the body named, when its click named another (the click decides).
    pub claimed_partner_key: Option<String>,
    /// What backs a signup's claim (decided when it is stored; see [`super::credit`]).
    pub standing: Standing,
    /// How it came: `"browser"` (the SDK), `"api"` (Partnero's customer API) or `"s2s"` (a
    /// server-to-server conversion).
    pub via: &'static str,
    /// A browser signup's `customer_hash`, the site server's proof (never stored).
    pub customer_hash: Option<String>,
    /// A conversion's amount, in minor units of `currency`.
    pub amount: Option<i64>,
    /// A conversion's currency (ISO 4217, upper case).
    pub currency: Option<String>,
    /// A conversion's own idempotency key.
    pub transaction_key: Option<String>,
}

/// A signup from the SDK (contract §7).
pub fn signup(body: &[u8]) -> Result<Record, String> {
    let map = object(body)?;
    let f = Fields(&map);
    let event_id = f.required("event_id", 64)?;
    if !event_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err("event_id must be a UUID".into());
    }
    match f.text("type", 32)?.as_deref() {
        Some("signup") => {}
        Some(other) => return Err(format!("type must be \"signup\", not {other:?}")),
        None => return Err("type is required".into()),
    }
    let public_key = f.required("public_key", 256)?;
    if !is_public_key(&public_key) {
        return Err(format!("public_key must be {PUBLIC_KEY_RULE}"));
    }
    let email = f.text("email", MAX_EMAIL)?.filter(|e| !e.is_empty());
    if email.as_deref().is_some_and(|e| !is_email(e)) {
        return Err("email is not a valid email address".into());
    }
    let customer_key = match f
        .key("customer_key", MAX_FIELD)?
        .filter(|c| !c.trim().is_empty())
    {
        Some(key) => key,
        // As the SDK does: the email stands for the customer, lower-cased.
        None => email
            .as_deref()
            .map(str::to_ascii_lowercase)
            .ok_or("customer_key is required")?,
    };
    let partner_key = f.text("partner_key", MAX_LEN)?;
    if partner_key.as_deref().is_some_and(|k| !is_token(k)) {
        return Err(format!("partner_key must be {KEY_RULE}"));
    }
    let xid = f.text("xid", MAX_LEN)?;
    if xid.as_deref().is_some_and(|x| !is_token(x)) {
        return Err(format!("xid must be {KEY_RULE}"));
    }
    let customer_hash = f.text("customer_hash", 128)?;
    let meta = meta(map.get("meta"))?;
    let mut out = Map::new();
    out.insert("event_id".into(), Value::String(event_id.clone()));
    out.insert("type".into(), "signup".into());
    out.insert("public_key".into(), Value::String(public_key.clone()));
    out.insert("customer_key".into(), Value::String(customer_key.clone()));
    out.insert("email".into(), opt(email));
    out.insert("name".into(), opt(f.text("name", MAX_FIELD)?));
    out.insert("partner_key".into(), opt(partner_key));
    out.insert("xid".into(), opt(xid.clone()));
    for name in ["origin", "page_url", "referrer", "user_agent", "created_at"] {
        out.insert(name.into(), opt(f.text(name, MAX_TEXT)?));
    }
    out.insert("sub_ids".into(), f.strings("sub_ids")?.into());
    out.insert("meta".into(), Value::Object(meta));
    Ok(Record {
        kind: "signup",
        event_id,
        public_key: Some(public_key),
        customer_key,
        partner_key: out
            .get("partner_key")
            .and_then(Value::as_str)
            .map(String::from),
        xid,
        body: out,
        claimed_partner_key: None,
        standing: Standing::Claimed,
        via: "browser",
        customer_hash,
        amount: None,
        currency: None,
        transaction_key: None,
    })
}

/// A landing the SDK reports (`POST /v1/clicks`): a visitor arrived through a partner's
/// hand-made link, one without a click id the collector issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landing {
    /// The program.
    pub public_key: String,
    /// The partner the link named.
    pub partner_key: String,
    /// The page landed on.
    pub page_url: Option<String>,
    /// The page's referrer.
    pub referrer: Option<String>,
}

/// Reads a landing: `{ public_key, partner_key, page_url?, referrer? }`.
pub fn landing(body: &[u8]) -> Result<Landing, String> {
    let map = object(body)?;
    let f = Fields(&map);
    let public_key = f.required("public_key", 256)?;
    if !is_public_key(&public_key) {
        return Err(format!("public_key must be {PUBLIC_KEY_RULE}"));
    }
    let partner_key = f.required("partner_key", MAX_LEN)?;
    if !is_token(&partner_key) {
        return Err(format!("partner_key must be {KEY_RULE}"));
    }
    Ok(Landing {
        public_key,
        partner_key,
        page_url: f.text("page_url", MAX_TEXT)?,
        referrer: f.text("referrer", MAX_TEXT)?,
    })
}

/// A customer named by an API call: `{ customer_key, public_key? }`.
pub fn customer_ref(body: &[u8]) -> Result<(String, Option<String>), String> {
    let map = object(body)?;
    let f = Fields(&map);
    let customer_key = f.required("customer_key", MAX_FIELD)?;
    let public_key = f.text("public_key", 256)?;
    if public_key.as_deref().is_some_and(|k| !is_public_key(k)) {
        return Err(format!("public_key must be {PUBLIC_KEY_RULE}"));
    }
    Ok((customer_key, public_key))
}

/// `meta`: at most 20 entries, flat (strings, numbers, booleans, null), each key and string at
/// most [`MAX_META_KEY`] and 256 bytes, keys without control characters, strings without NUL.
fn meta(meta: Option<&Value>) -> Result<Map<String, Value>, String> {
    let meta = match meta {
        None | Some(Value::Null) => return Ok(Map::new()),
        Some(Value::Object(meta)) if meta.len() <= MAX_ITEMS => meta,
        Some(_) => {
            return Err(format!(
                "meta must be an object with at most {MAX_ITEMS} entries"
            ))
        }
    };
    for (key, value) in meta {
        if key.len() > MAX_META_KEY || key.is_empty() || key.chars().any(is_hidden) {
            return Err(format!(
                "meta keys must be 1-{MAX_META_KEY} bytes without control or invisible formatting characters"
            ));
        }
        match value {
            Value::String(s) if s.len() > MAX_FIELD || s.contains('\0') => {
                return Err(format!(
                    "meta.{key} must be at most {MAX_FIELD} bytes, without NUL characters"
                ))
            }
            Value::Array(_) | Value::Object(_) => {
                return Err(format!(
                    "meta.{key} must be a string, a number, a boolean or null"
                ))
            }
            _ => {}
        }
    }
    Ok(meta.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::conversion::conversion;
    use serde_json::json;

    fn body(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    fn good() -> Value {
        json!({
            "event_id": "2f1c1f0e-8b0c-4a55-9d7e-2b4c9b0a3f11", "type": "signup",
            "public_key": "pk_test_123", "customer_key": "cus_42", "email": "jane@example.com",
            "name": "Jane Doe", "partner_key": "alex-smith", "xid": "clk_9f8e7d",
            "origin": "www.acme.test", "page_url": "https://www.acme.test/signup", "referrer": null,
            "user_agent": "Mozilla/5.0", "sub_ids": [], "meta": {}, "created_at": "2026-11-22T10:00:00.000Z"
        })
    }

    #[test]
    fn a_full_signup_is_stored_as_sent() {
        let record = signup(&body(good())).unwrap();
        assert_eq!(Value::Object(record.body), good());
        assert_eq!(record.customer_key, "cus_42");
    }

    #[test]
    fn every_bad_input_has_a_reason() {
        let cases: Vec<(Value, &str)> = vec![
            (json!([1]), "the body must be a JSON object"),
            (json!({"type": "signup"}), "event_id is required"),
            (
                json!({"event_id": "x;y", "type": "signup"}),
                "event_id must be a UUID",
            ),
            (
                json!({"event_id": "e1", "type": "click", "public_key": "pk"}),
                "type must be \"signup\", not \"click\"",
            ),
            (
                json!({"event_id": "e1", "type": "signup"}),
                "public_key is required",
            ),
            (
                json!({"event_id": "e1", "type": "signup", "public_key": "pk"}),
                "customer_key is required",
            ),
            (
                json!({"event_id": "e1", "type": "signup", "public_key": "pk", "customer_key": 42}),
                "customer_key must be a string",
            ),
            (
                json!({"event_id": "e1", "type": "signup", "public_key": "pk <b>", "customer_key": "c"}),
                "public_key must be a public key",
            ),
            (
                json!({"event_id": "e1", "type": "signup", "public_key": "pk", "customer_key": "evil\u{202e}moc"}),
                "customer_key must not contain control or invisible formatting characters",
            ),
            (
                json!({"event_id": "e1", "type": "signup", "public_key": "pk", "customer_key": "c", "meta": {"a\u{200b}": 1}}),
                "meta keys must be",
            ),
            (
                json!({"event_id": "e1", "type": "signup", "public_key": "pk", "customer_key": "c", "email": "nope"}),
                "email is not a valid email address",
            ),
            (
                json!({"event_id": "e1", "type": "signup", "public_key": "pk", "customer_key": "c", "partner_key": "a;b"}),
                "partner_key must be",
            ),
            (
                json!({"event_id": "e1", "type": "signup", "public_key": "pk", "customer_key": "c", "sub_ids": "x"}),
                "sub_ids must be",
            ),
            (
                json!({"event_id": "e1", "type": "signup", "public_key": "pk", "customer_key": "c", "meta": [1]}),
                "meta must be an object",
            ),
        ];
        for (input, reason) in cases {
            let error = signup(&body(input.clone())).unwrap_err();
            assert!(error.starts_with(reason), "{input}: {error}");
        }
        assert!(signup(b"{not json")
            .unwrap_err()
            .starts_with("the body is not valid JSON"));
    }

    #[test]
    fn email_stands_in_for_a_missing_customer_key() {
        let mut v = good();
        v["customer_key"] = Value::Null;
        assert_eq!(signup(&body(v)).unwrap().customer_key, "jane@example.com");
    }

    #[test]
    fn conversions_follow_the_s2s_shape() {
        let record = conversion(
            &body(json!({"xid": "clk_1", "customer_key": "cus_1", "external_type": "stripe"})),
            "e-1".into(),
        )
        .unwrap();
        assert_eq!(record.kind, "conversion");
        assert_eq!(record.body["external_type"], "stripe");
        assert_eq!(
            conversion(&body(json!({"customer_key": "c"})), "e".into()).unwrap_err(),
            "xid is required"
        );
    }
}
