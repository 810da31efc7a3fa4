//! Checking what arrives: a signup (contract §7) or a server-to-server conversion, each turned into the
//! normalized JSON that is stored, or refused with a reason a developer can act on.

use reftrack::core::partner_key::PartnerKey;
use reftrack::core::signup::is_email;
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
    /// False when `--verified-clicks` is on and no recorded click backs the partner.
    pub verified: bool,
    /// A conversion's amount, in minor units of `currency`.
    pub amount: Option<i64>,
    /// A conversion's currency (ISO 4217, upper case).
    pub currency: Option<String>,
    /// A conversion's own idempotency key.
    pub transaction_key: Option<String>,
}

/// Longest URL (`page_url`, `referrer`, `referral_url`) and user agent kept, in bytes: the SDK
/// clips what it sends to the same length.
pub const MAX_TEXT: usize = reftrack::core::signup::MAX_URL;

/// Longest `meta` key, and longest `meta` string value, in bytes.
pub const MAX_META_KEY: usize = reftrack::core::signup::MAX_META_KEY;

/// Field access with typed, explained errors.
struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    /// Free text: anything but NUL.
    fn text(&self, name: &str, max: usize) -> Result<Option<String>, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.len() > max => {
                Err(format!("{name} is longer than {max} bytes"))
            }
            Some(Value::String(s)) if s.contains('\0') => {
                Err(format!("{name} must not contain NUL characters"))
            }
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{name} must be a string")),
        }
    }

    /// A key (an identifier): no control characters at all.
    fn key(&self, name: &str, max: usize) -> Result<Option<String>, String> {
        let text = self.text(name, max)?;
        if text
            .as_deref()
            .is_some_and(|t| t.chars().any(char::is_control))
        {
            return Err(format!("{name} must not contain control characters"));
        }
        Ok(text)
    }

    fn required(&self, name: &str, max: usize) -> Result<String, String> {
        self.key(name, max)?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| format!("{name} is required"))
    }

    fn strings(&self, name: &str) -> Result<Vec<String>, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) if items.len() <= 20 => items
                .iter()
                .map(|item| match item {
                    Value::String(s) if s.len() <= 256 && !s.chars().any(char::is_control) => {
                        Ok(s.clone())
                    }
                    _ => Err(format!(
                        "{name} must be an array of strings of at most 256 bytes, without control characters"
                    )),
                })
                .collect(),
            Some(_) => Err(format!("{name} must be an array of at most 20 strings")),
        }
    }
}

/// The partner key and click id rule of contract §3: the SDK's own check, so both ends agree.
fn is_token(s: &str) -> bool {
    PartnerKey::parse(s).is_ok()
}

fn object(body: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("the body must be a JSON object".into()),
        Err(error) => Err(format!("the body is not valid JSON: {error}")),
    }
}

fn opt(value: Option<String>) -> Value {
    value.map_or(Value::Null, Value::String)
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
    let email = f.text("email", 254)?.filter(|e| !e.is_empty());
    if email.as_deref().is_some_and(|e| !is_email(e)) {
        return Err("email is not a valid email address".into());
    }
    let customer_key = match f.key("customer_key", 256)?.filter(|c| !c.trim().is_empty()) {
        Some(key) => key,
        // As the SDK does: the email stands for the customer, lower-cased.
        None => email
            .as_deref()
            .map(str::to_ascii_lowercase)
            .ok_or("customer_key is required")?,
    };
    let partner_key = f.text("partner_key", 128)?;
    if partner_key.as_deref().is_some_and(|k| !is_token(k)) {
        return Err("partner_key must be 1-128 characters of A-Z a-z 0-9 . _ ~ @ : + -".into());
    }
    let xid = f.text("xid", 128)?;
    if xid.as_deref().is_some_and(|x| !is_token(x)) {
        return Err("xid must be 1-128 characters of A-Z a-z 0-9 . _ ~ @ : + -".into());
    }
    let meta = meta(map.get("meta"))?;
    let mut out = Map::new();
    out.insert("event_id".into(), Value::String(event_id.clone()));
    out.insert("type".into(), "signup".into());
    out.insert("public_key".into(), Value::String(public_key.clone()));
    out.insert("customer_key".into(), Value::String(customer_key.clone()));
    out.insert("email".into(), opt(email));
    out.insert("name".into(), opt(f.text("name", 256)?));
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
        verified: true,
        amount: None,
        currency: None,
        transaction_key: None,
    })
}

/// `meta`: at most 20 entries, flat (strings, numbers, booleans, null), each key and string at
/// most [`MAX_META_KEY`] and 256 bytes, keys without control characters, strings without NUL.
fn meta(meta: Option<&Value>) -> Result<Map<String, Value>, String> {
    let meta = match meta {
        None | Some(Value::Null) => return Ok(Map::new()),
        Some(Value::Object(meta)) if meta.len() <= 20 => meta,
        Some(_) => return Err("meta must be an object with at most 20 entries".into()),
    };
    for (key, value) in meta {
        if key.len() > MAX_META_KEY || key.is_empty() || key.chars().any(char::is_control) {
            return Err(format!(
                "meta keys must be 1-{MAX_META_KEY} bytes without control characters"
            ));
        }
        match value {
            Value::String(s) if s.len() > 256 || s.contains('\0') => {
                return Err(format!(
                    "meta.{key} must be at most 256 bytes, without NUL characters"
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

/// A server-to-server conversion (`POST /conversion/xid`, the shape of PartnerStack's S2S API).
/// `event_id` is made by the collector.
pub fn conversion(body: &[u8], event_id: String) -> Result<Record, String> {
    let map = object(body)?;
    let f = Fields(&map);
    let xid = f.required("xid", 128)?;
    if !is_token(&xid) {
        return Err("xid must be 1-128 characters of A-Z a-z 0-9 . _ ~ @ : + -".into());
    }
    let customer_key = f.required("customer_key", 256)?;
    let email = f.text("email", 254)?.filter(|e| !e.is_empty());
    if email.as_deref().is_some_and(|e| !is_email(e)) {
        return Err("email is not a valid email address".into());
    }
    let mut out = Map::new();
    out.insert("event_id".into(), Value::String(event_id.clone()));
    out.insert("type".into(), "conversion".into());
    out.insert("xid".into(), Value::String(xid.clone()));
    out.insert("customer_key".into(), Value::String(customer_key.clone()));
    out.insert("email".into(), opt(email));
    out.insert("name".into(), opt(f.text("name", 256)?));
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
    let transaction_key = f.key("transaction_key", 256)?.filter(|k| !k.is_empty());
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
        verified: true,
        amount,
        currency,
        transaction_key,
    })
}

/// A customer posted to `POST /v1/customers` in Partnero's shape.
pub struct PartneroCustomer {
    /// The partner, by key.
    pub partner_key: String,
    /// The site's key of the customer.
    pub key: String,
    /// The customer's email.
    pub email: Option<String>,
    /// The customer's name.
    pub name: Option<String>,
    /// `options.referral_url`.
    pub referral_url: Option<String>,
}

/// Reads Partnero's customer-create body. `Err((status, reason))`: `400` for a partner key that
/// is not one, `422` for anything else that does not validate.
pub fn partnero_customer(body: &[u8]) -> Result<PartneroCustomer, (u16, String)> {
    let invalid = |reason: String| (422, reason);
    let map = object(body).map_err(invalid)?;
    let partner = match map.get("partner") {
        Some(Value::Object(partner)) => partner,
        _ => return Err(invalid("partner is required: { \"key\": ... }".into())),
    };
    for unsupported in ["id", "email"] {
        if partner.contains_key(unsupported) && !partner.contains_key("key") {
            return Err(invalid(format!(
                "partner.{unsupported} is not supported here: identify the partner by partner.key"
            )));
        }
    }
    let partner_key = match partner.get("key") {
        Some(Value::String(key)) if is_token(key) => key.clone(),
        _ => return Err((400, "Invalid partner key".into())),
    };
    let f = Fields(&map);
    let key = f.required("key", 256).map_err(invalid)?;
    let email = f
        .text("email", 254)
        .map_err(invalid)?
        .filter(|e| !e.is_empty());
    if email.as_deref().is_some_and(|e| !is_email(e)) {
        return Err(invalid("email is not a valid email address".into()));
    }
    let name = f.text("name", 256).map_err(invalid)?;
    let referral_url = match map.get("options") {
        Some(Value::Object(options)) => Fields(options)
            .text("referral_url", MAX_TEXT)
            .map_err(invalid)?,
        None | Some(Value::Null) => None,
        Some(_) => return Err(invalid("options must be an object".into())),
    };
    Ok(PartneroCustomer {
        partner_key,
        key,
        email,
        name,
        referral_url,
    })
}

/// The signup a Partnero customer is stored as, for `program`.
pub fn partnero_record(customer: &PartneroCustomer, program: &str, event_id: String) -> Record {
    let mut out = Map::new();
    out.insert("event_id".into(), Value::String(event_id.clone()));
    out.insert("type".into(), "signup".into());
    out.insert("public_key".into(), program.into());
    out.insert("customer_key".into(), customer.key.clone().into());
    out.insert("email".into(), opt(customer.email.clone()));
    out.insert("name".into(), opt(customer.name.clone()));
    out.insert("partner_key".into(), customer.partner_key.clone().into());
    out.insert("xid".into(), Value::Null);
    out.insert("page_url".into(), opt(customer.referral_url.clone()));
    out.insert("source".into(), "partnero-api".into());
    Record {
        kind: "signup",
        event_id,
        public_key: Some(program.to_owned()),
        customer_key: customer.key.clone(),
        xid: None,
        body: out,
        partner_key: Some(customer.partner_key.clone()),
        claimed_partner_key: None,
        verified: true,
        amount: None,
        currency: None,
        transaction_key: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
