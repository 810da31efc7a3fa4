//! The signup: what the page hands over, its validation, the payload of contract §7, and what an
//! endpoint's answer means.

use super::text::{cat, decimal};
use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::config::{Entries, Value};
use super::out::{self, Out};
use super::partner_key::PartnerKey;
use serde::ser::Serializer;
use serde::Serialize;

/// Longest accepted customer key, name, sub id or `meta` string, in bytes.
pub const MAX_FIELD: usize = 256;
/// Longest accepted email address (RFC 5321).
pub const MAX_EMAIL: usize = 254;
/// Most sub ids and meta entries accepted.
pub const MAX_ITEMS: usize = 20;
/// Longest `origin`, `page_url`, `referrer` and `user_agent` sent, in bytes: longer ones are
/// clipped (the collector refuses longer ones).
pub const MAX_URL: usize = 2048;
/// Longest `meta` key, in bytes (a `meta` string is at most 256).
pub const MAX_META_KEY: usize = 64;
/// Longest `customer_hash` sent (a hex HMAC-SHA256 is 64 characters).
pub const MAX_HASH: usize = 128;
/// How the collector's `403` for a wrong `customer_hash` begins. That refusal is the site
/// server's mistake about this signup, not the deployment's, so the SDK does not retry it.
pub const BAD_CUSTOMER_HASH: &str = "customer_hash does not match customer_key";

/// A `meta` value: flat metadata only, so what the page sends is what the collector stores.
#[derive(Clone, Debug, PartialEq)]
pub enum MetaValue {
    /// A string.
    Text(String),
    /// A finite number (in the browser, JavaScript writes it into the JSON body).
    Number(f64),
    /// A boolean.
    Bool(bool),
    /// `null`.
    Null,
}

/// What the page passes to `reftrack.signup({...})` or puts in `growsumo.data`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SignupInput {
    /// The site's identifier of the new customer; falls back to `email`.
    pub customer_key: Option<String>,
    /// The customer's email address.
    pub email: Option<String>,
    /// The customer's name.
    pub name: Option<String>,
    /// Partner sub ids.
    pub sub_ids: Vec<String>,
    /// Flat metadata.
    pub meta: Vec<(String, MetaValue)>,
    /// A partner key that overrides the attributed one (Partnero's `partner.key`).
    pub partner_key: Option<String>,
    /// The site server's signature of the customer key (`customer_hash`), passed on as given.
    pub customer_hash: Option<String>,
}

/// A signup's fields as the page gave them, each read by its JavaScript type; `Null` where absent.
/// The web layer has JavaScript write a number given in a text field as text.
#[derive(Debug, Default)]
pub struct Fields {
    /// `customer_key` (Partnero's `key`).
    pub customer_key: Value,
    /// `email`.
    pub email: Value,
    /// `name`.
    pub name: Value,
    /// `customer_hash`.
    pub customer_hash: Value,
    /// `sub_ids`.
    pub sub_ids: Value,
    /// `meta`.
    pub meta: Entries,
    /// Partnero's `partner.key` (or a page's own `growsumo.data.partner_key`).
    pub partner_key: Value,
}

/// Why a signup that is not an object is rejected.
pub const NOT_AN_OBJECT: &str = "signup expects an object such as { customer_key, email }";

/// A text field: its text, `None` when absent, or the reason it is refused.
fn text_field(name: &str, value: Value) -> Result<Option<String>, String> {
    match value {
        Value::Text(text) => Ok(Some(text)),
        Value::Null => Ok(None),
        _ => Err(cat(&[name, " must be a string"])),
    }
}

impl SignupInput {
    /// Reads the page's loosely typed fields into a signup. `Err` is the reason, for the
    /// `rejected` result.
    pub fn from_fields(fields: Fields) -> Result<Self, String> {
        let customer_key = text_field("customer_key", fields.customer_key)?;
        let email = text_field("email", fields.email)?;
        let name = text_field("name", fields.name)?;
        let customer_hash = text_field("customer_hash", fields.customer_hash)?;
        let sub_ids = match fields.sub_ids {
            Value::List(items) => items,
            Value::Null => Vec::new(),
            _ => return Err("sub_ids must be an array of strings".into()),
        };
        let given_meta = match fields.meta {
            Entries::Absent => Vec::new(),
            Entries::Object(entries) => entries,
            Entries::NotAnObject => return Err("meta must be an object".into()),
        };
        let partner_key = text_field("partner_key", fields.partner_key)
            .map_err(|_| String::from("partner.key must be a string"))?;
        let mut meta = Vec::new();
        for (key, value) in given_meta {
            let value = match value {
                Value::Text(text) => MetaValue::Text(text),
                Value::Number(number) if number.is_finite() => MetaValue::Number(number),
                Value::Bool(flag) => MetaValue::Bool(flag),
                Value::Null => MetaValue::Null,
                _ => return Err("meta values must be strings, numbers, booleans or null".into()),
            };
            meta.push((key, value));
        }
        Ok(SignupInput {
            customer_key,
            email,
            name,
            sub_ids,
            meta,
            partner_key,
            customer_hash,
        })
    }
}

/// Everything about the visit that the page does not pass: the web layer reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct Visit<'a> {
    /// A UUID v4, from [`uuid_v4`].
    pub event_id: &'a str,
    /// The program's public key.
    pub public_key: Option<&'a str>,
    /// The partner credited, from [`partner_for`].
    pub partner_key: Option<&'a str>,
    /// The click id.
    pub xid: Option<&'a str>,
    /// The page's host name.
    pub origin: &'a str,
    /// The page's URL.
    pub page_url: &'a str,
    /// `document.referrer`, `None` when empty.
    pub referrer: Option<&'a str>,
    /// `navigator.userAgent`.
    pub user_agent: &'a str,
    /// ISO 8601 time of the signup.
    pub created_at: &'a str,
}

/// Why a signup cannot be sent as given; its text is the `error` of the result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// Neither `customer_key` nor `email` was given.
    NoCustomerKey,
    /// `email` does not look like an email address.
    BadEmail,
    /// A field is longer than allowed.
    TooLong(&'static str),
    /// Too many sub ids or meta entries.
    TooMany(&'static str),
    /// The partner key given with the signup is not a valid partner key.
    BadPartnerKey,
    /// A key (`customer_key`, a sub id, a `meta` key) holds a control character, or a text NUL.
    Control(&'static str),
}

impl Invalid {
    /// The reason, for `SignupResult.error`.
    pub fn reason(&self) -> String {
        match self {
            Invalid::NoCustomerKey => "customer_key (or email) is required".into(),
            Invalid::BadEmail => "email is not a valid email address".into(),
            Invalid::TooLong(field) => cat(&[field, " is too long"]),
            Invalid::TooMany(field) => cat(&[field, " has too many entries (at most 20)"]),
            Invalid::BadPartnerKey => cat(&["partner.key must be ", super::partner_key::KEY_RULE]),
            Invalid::Control(field) => cat(&[field, " must not contain control characters"]),
        }
    }
}

/// True when `email` looks like an address: one `@`, a non-empty local part, a dotted domain,
/// no spaces. Deliverability is the site's concern; this catches mistakes and garbage.
pub fn is_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= MAX_EMAIL
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The value trimmed, `None` when absent or blank.
fn trimmed(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The partner the signup is credited to: the one given with it, else the attributed one.
pub fn partner_for(
    input: &SignupInput,
    attributed: Option<&str>,
) -> Result<Option<String>, Invalid> {
    match trimmed(&input.partner_key) {
        Some(key) => PartnerKey::parse(key)
            .map(|k| Some(k.as_str().to_string()))
            .map_err(|_| Invalid::BadPartnerKey),
        None => Ok(attributed.map(str::to_string)),
    }
}

/// The body posted to the endpoint (contract §7), fields in its order, borrowed from the signup and
/// the visit. The web layer serializes it (serde-wasm-bindgen, then `JSON.stringify`), with a
/// missing value written as `null`.
#[derive(Clone, Debug, PartialEq)]
pub struct Body<'a> {
    /// A UUID v4, the same on every retry.
    pub event_id: &'a str,
    /// Always `"signup"`.
    pub kind: &'static str,
    /// The program's public key.
    pub public_key: Option<&'a str>,
    /// The customer key as given, or else the email, lower-cased (ASCII letters), so that
    /// `Jane@Example.com` and `jane@example.com` are one customer.
    pub customer_key: Cow<'a, str>,
    /// The site server's signature of `customer_key`, only when the page gave one.
    pub customer_hash: Option<&'a str>,
    /// The customer's email address.
    pub email: Option<&'a str>,
    /// The customer's name.
    pub name: Option<&'a str>,
    /// The partner credited.
    pub partner_key: Option<&'a str>,
    /// The click id.
    pub xid: Option<&'a str>,
    /// The page's host name.
    pub origin: &'a str,
    /// The page's URL.
    pub page_url: &'a str,
    /// `document.referrer`, `None` when empty.
    pub referrer: Option<&'a str>,
    /// `navigator.userAgent`.
    pub user_agent: &'a str,
    /// Partner sub ids.
    pub sub_ids: &'a [String],
    /// Flat metadata, as an object.
    pub meta: Meta<'a>,
    /// ISO 8601 time of the signup.
    pub created_at: &'a str,
}

/// The body as a map of its fields, in the contract's order. A map, not a serde struct: a struct's
/// field names would go through serde-wasm-bindgen's cache of static strings (a hash map the
/// module needs for nothing else), where a map's keys are plain strings.
impl Serialize for Body<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let meta: Vec<(&str, Out<'_>)> = self
            .meta
            .0
            .iter()
            .map(|(key, value)| {
                let value = match value {
                    // Free text is clipped, not refused (as `name` is).
                    MetaValue::Text(text) => Out::Text(clip(text, MAX_FIELD)),
                    MetaValue::Number(number) => Out::Number(*number),
                    MetaValue::Bool(flag) => Out::Bool(*flag),
                    MetaValue::Null => Out::Null,
                };
                (key.as_str(), value)
            })
            .collect();
        let mut fields = Vec::with_capacity(16);
        fields.extend([
            ("event_id", Out::Text(self.event_id)),
            ("type", Out::Text(self.kind)),
            ("public_key", self.public_key.into()),
            ("customer_key", Out::Text(&self.customer_key)),
        ]);
        if let Some(hash) = self.customer_hash {
            fields.push(("customer_hash", Out::Text(hash)));
        }
        fields.extend([
            ("email", self.email.into()),
            ("name", self.name.into()),
            ("partner_key", self.partner_key.into()),
            ("xid", self.xid.into()),
            ("origin", Out::Text(self.origin)),
            ("page_url", Out::Text(self.page_url)),
            ("referrer", self.referrer.into()),
            ("user_agent", Out::Text(self.user_agent)),
            ("sub_ids", Out::Texts(self.sub_ids)),
            ("meta", Out::Map(&meta)),
            ("created_at", Out::Text(self.created_at)),
        ]);
        out::map(serializer, &fields)
    }
}

/// `meta` entries, serialized as one JSON object in the page's order.
#[derive(Clone, Debug, PartialEq)]
pub struct Meta<'a>(pub &'a [(String, MetaValue)]);

/// Validates `input` and returns the body posted to the endpoint for `visit`: no intermediate
/// copy of the signup, every field borrowed.
pub fn build<'a>(input: &'a SignupInput, visit: &Visit<'a>) -> Result<Body<'a>, Invalid> {
    let email = trimmed(&input.email);
    if email.is_some_and(|e| !is_email(e)) {
        return Err(Invalid::BadEmail);
    }
    let customer_key = match (trimmed(&input.customer_key), email) {
        (Some(key), _) => Cow::Borrowed(key),
        (None, Some(email)) => Cow::Owned(email.to_ascii_lowercase()),
        (None, None) => return Err(Invalid::NoCustomerKey),
    };
    let name = trimmed(&input.name);
    let customer_hash = trimmed(&input.customer_hash);
    if customer_hash.is_some_and(|h| h.len() > MAX_HASH) {
        return Err(Invalid::TooLong("customer_hash"));
    }
    if customer_key.len() > MAX_FIELD {
        return Err(Invalid::TooLong("customer_key"));
    }
    if input.sub_ids.len() > MAX_ITEMS {
        return Err(Invalid::TooMany("sub_ids"));
    }
    if input.sub_ids.iter().any(|s| s.len() > MAX_FIELD) {
        return Err(Invalid::TooLong("a sub id"));
    }
    if input.meta.len() > MAX_ITEMS {
        return Err(Invalid::TooMany("meta"));
    }
    let control = |s: &str| s.chars().any(super::text::is_hidden);
    if control(&customer_key) || input.sub_ids.iter().any(|s| control(s)) {
        return Err(Invalid::Control(if control(&customer_key) {
            "customer_key"
        } else {
            "a sub id"
        }));
    }
    if name.is_some_and(|n| n.contains('\0')) {
        return Err(Invalid::Control("name"));
    }
    for (key, value) in &input.meta {
        if key.is_empty() || key.len() > MAX_META_KEY || control(key) {
            return Err(Invalid::Control("a meta key (1-64 bytes)"));
        }
        if let MetaValue::Text(text) = value {
            if text.contains('\0') {
                return Err(Invalid::Control("a meta value"));
            }
        }
    }
    Ok(Body {
        event_id: visit.event_id,
        kind: "signup",
        public_key: visit.public_key,
        customer_key,
        customer_hash,
        email,
        // Free text over the limit is clipped on a character boundary, not refused: a long name
        // must not cost the partner the signup.
        name: name.map(|n| clip(n, MAX_FIELD)),
        partner_key: visit.partner_key,
        xid: visit.xid,
        origin: clip(visit.origin, MAX_URL),
        page_url: clip(visit.page_url, MAX_URL),
        referrer: visit.referrer.map(|r| clip(r, MAX_URL)),
        user_agent: clip(visit.user_agent, MAX_URL),
        sub_ids: &input.sub_ids,
        meta: Meta(&input.meta),
        created_at: visit.created_at,
    })
}

/// `text` cut to at most `max` bytes, on a character boundary (the collector clips with it too).
pub fn clip(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

/// A random UUID v4 from 16 random bytes (`crypto.getRandomValues`: pages on plain http have no
/// `crypto.randomUUID`).
pub fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
    out
}

/// `SignupResult.status` (contract §4), serialized as its name ([`Status::as_str`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Stored by the endpoint.
    Created,
    /// The endpoint already had it.
    Duplicate,
    /// Kept in the retry queue.
    Queued,
    /// Not sent: no partner key and `sendUnattributed` is off.
    Skipped,
    /// Refused, by validation or by the endpoint (`4xx`); never retried.
    Rejected,
    /// reftrack itself failed.
    Error,
}

impl Status {
    /// The status as it appears in `SignupResult.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Duplicate => "duplicate",
            Status::Queued => "queued",
            Status::Skipped => "skipped",
            Status::Rejected => "rejected",
            Status::Error => "error",
        }
    }
}

/// What `createSignup` and `signup` resolve with (contract §4): `event_id` is `null` when none was
/// made, `error` left out when there is none.
#[derive(Clone, Debug, PartialEq)]
pub struct SignupResult {
    /// `true` for `created`, `duplicate` and `queued`: the signup is not lost.
    pub ok: bool,
    /// What happened.
    pub status: Status,
    /// The signup's event id, when one was made.
    pub event_id: Option<String>,
    /// Why, when `ok` is false (or why a signup is queued).
    pub error: Option<String>,
}

/// A map of its fields, as [`Body`] is.
impl Serialize for SignupResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let fields = [
            ("ok", Out::Bool(self.ok)),
            ("status", Out::Text(self.status.as_str())),
            ("event_id", self.event_id.as_deref().into()),
            ("error", self.error.as_deref().into()),
        ];
        // `error` only when there is one.
        let shown = if self.error.is_some() { 4 } else { 3 };
        out::map(serializer, &fields[..shown])
    }
}

impl SignupResult {
    /// A result with `status`, `ok` following from it.
    pub fn new(status: Status, event_id: Option<String>, error: Option<String>) -> Self {
        let ok = matches!(status, Status::Created | Status::Duplicate | Status::Queued);
        SignupResult {
            ok,
            status,
            event_id,
            error,
        }
    }
}

/// What an endpoint's answer means for a signup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// `2xx`: done, never to be sent again.
    Delivered(Status),
    /// The endpoint says this signup is wrong (`400`, `413`, `422`): never retried.
    Refused(String),
    /// The endpoint, its set-up or the network is wrong for now (`401`, `403`, `404`, `405`,
    /// `408`, `429`, `5xx`, any other status, no answer at all): the signup is kept and retried —
    /// not before `not_before` (ms since the epoch) when the endpoint said when (`Retry-After`) —
    /// so that it is delivered once the set-up is fixed.
    Retry {
        /// Why, for the result and the debug log.
        reason: String,
        /// The earliest time of the next attempt, from `Retry-After`.
        not_before: Option<u64>,
    },
}

/// An endpoint's answer to one signup, as the web layer read it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Answer<'a> {
    /// The HTTP status; 0 when no answer came (a network error, the timeout, CORS).
    pub http_status: u16,
    /// The body's `status`, when it had one.
    pub body_status: Option<&'a str>,
    /// The body's `error`, when it had one.
    pub body_error: Option<&'a str>,
    /// When to try again, from `Retry-After`, in ms since the epoch.
    pub retry_at: Option<u64>,
    /// The network error, when no answer came.
    pub network_error: Option<&'a str>,
    /// Whether the body was an HTML page (`Content-Type: text/html`): a static server or an
    /// app's fallback route answering in the collector's place.
    pub html: bool,
}

/// True for the answers that say the signup itself is wrong: `400`, `413`, `422`, and the `403`
/// for a `customer_hash` that does not match (the site server signed something else).
fn says_the_signup_is_wrong(answer: &Answer<'_>) -> bool {
    matches!(answer.http_status, 400 | 413 | 422)
        || (answer.http_status == 403
            && answer
                .body_error
                .is_some_and(|e| e.starts_with(BAD_CUSTOMER_HASH)))
}

/// Classifies an endpoint's answer: refusals that describe the signup are final, those that
/// describe the deployment (or no answer at all) wait.
pub fn classify(answer: &Answer<'_>) -> Delivery {
    let status = answer.http_status;
    let reason = || match (answer.body_error, answer.network_error) {
        (Some(error), _) => String::from(error),
        (None, Some(error)) if status == 0 => String::from(error),
        _ if status == 0 => "no answer".into(),
        _ => cat(&["the endpoint answered ", &decimal(status.into())]),
    };
    match status {
        // A page is no acknowledgement: whatever answered it did not store the signup.
        200..=299 if answer.html => Delivery::Retry {
            reason: cat(&[
                "the endpoint answered ",
                &decimal(status.into()),
                " with an HTML page",
            ]),
            not_before: answer.retry_at,
        },
        200..=299 => Delivery::Delivered(if answer.body_status == Some("duplicate") {
            Status::Duplicate
        } else {
            Status::Created
        }),
        _ if says_the_signup_is_wrong(answer) => Delivery::Refused(reason()),
        _ => Delivery::Retry {
            reason: reason(),
            not_before: answer.retry_at,
        },
    }
}

/// The warning for signups that the page's Content-Security-Policy kept from `endpoint` (whose
/// origin is `origin`): its `connect-src` does not list the endpoint.
pub fn blocked_warning(endpoint: &str, origin: &str) -> String {
    cat(&[
        "signups go to ",
        endpoint,
        ", which the page's Content-Security-Policy does not allow: add ",
        origin,
        " to its connect-src; they wait in the retry queue",
    ])
}

/// The warning a page shows (once per reason, whatever `debug` says) for an answer that is not a
/// success: where signups go, what came back, and what to fix. `origin` is the page's origin.
pub fn warning(endpoint: &str, origin: &str, answer: &Answer<'_>) -> Option<String> {
    let status = answer.http_status;
    let page = (200..=299).contains(&status);
    if page && !answer.html {
        return None;
    }
    let code = if page {
        cat(&[
            &decimal(status.into()),
            " with an HTML page, not the collector's answer",
        ])
    } else {
        decimal(status.into())
    };
    let detail = answer
        .body_error
        .map(|e| cat(&[" (", e, ")"]))
        .unwrap_or_default();
    if says_the_signup_is_wrong(answer) {
        return Some(cat(&[
            "a signup was refused by ",
            endpoint,
            ", which answered ",
            &code,
            &detail,
            ": it is not sent again",
        ]));
    }
    let what = if status == 0 {
        cat(&[
            "did not answer (",
            answer.network_error.unwrap_or("no answer"),
            ")",
        ])
    } else {
        cat(&["answered ", &code, &detail])
    };
    let fix = match status {
        404 | 405 => ": set `endpoint` to your collector's signup route (…/v1/signups)",
        200..=299 => ": set `endpoint` to your collector's signup route (…/v1/signups)",
        401 => ": set `endpoint` to a route that takes signups from browsers (…/v1/signups)",
        403 => ": allow this page's origin on the collector (--allow-origin ",
        _ => "",
    };
    let origin_hint = if status == 403 {
        cat(&[origin, ") and check `publicKey`"])
    } else {
        String::new()
    };
    Some(cat(&[
        "signups go to ",
        endpoint,
        ", which ",
        &what,
        fix,
        &origin_hint,
        "; they wait in the retry queue",
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visit() -> Visit<'static> {
        Visit {
            event_id: "2f1c1f0e-8b0c-4a55-9d7e-2b4c9b0a3f11",
            public_key: Some("pk_test_123"),
            partner_key: Some("alex-smith"),
            xid: Some("clk_9f8e7d"),
            origin: "www.acme.test",
            page_url: "https://www.acme.test/signup",
            referrer: None,
            user_agent: "Mozilla/5.0 ...",
            created_at: "2026-11-22T10:00:00.000Z",
        }
    }

    fn input() -> SignupInput {
        SignupInput {
            customer_key: Some("cus_42".into()),
            email: Some("jane@example.com".into()),
            name: Some("Jane Doe".into()),
            ..SignupInput::default()
        }
    }

    /// The body as JSON (the browser writes it with `JSON.stringify`; the same order and values).
    fn json(input: &SignupInput) -> String {
        serde_json::to_string(&build(input, &visit()).unwrap()).unwrap()
    }

    #[test]
    fn payload_matches_the_wire_format() {
        let body = json(&input());
        let golden = concat!(
            r#"{"event_id":"2f1c1f0e-8b0c-4a55-9d7e-2b4c9b0a3f11","type":"signup","#,
            r#""public_key":"pk_test_123","customer_key":"cus_42","email":"jane@example.com","#,
            r#""name":"Jane Doe","partner_key":"alex-smith","xid":"clk_9f8e7d","#,
            r#""origin":"www.acme.test","page_url":"https://www.acme.test/signup","referrer":null,"#,
            r#""user_agent":"Mozilla/5.0 ...","sub_ids":[],"meta":{},"#,
            r#""created_at":"2026-11-22T10:00:00.000Z"}"#
        );
        assert_eq!(body, golden);
        let signed = SignupInput {
            customer_hash: Some(" 7d5f ".into()),
            ..input()
        };
        assert!(
            json(&signed).contains(r#""customer_key":"cus_42","customer_hash":"7d5f","email""#),
            "the site server's signature goes beside the key it signs"
        );
    }

    #[test]
    fn long_urls_are_clipped_on_a_character_boundary() {
        assert_eq!(clip("héllo", 2), "h");
        assert_eq!(clip("héllo", 3), "hé");
        assert_eq!(clip("abc", 10), "abc");
        let long = format!("https://acme.test/?q={}", "é".repeat(2000));
        let mut visit = visit();
        visit.page_url = &long;
        let input = SignupInput {
            customer_key: Some("cus_1".into()),
            ..SignupInput::default()
        };
        let body = build(&input, &visit).unwrap();
        assert!(body.page_url.len() <= MAX_URL && long.starts_with(body.page_url));
    }

    #[test]
    fn long_names_and_meta_text_are_clipped_not_refused() {
        let visit = visit();
        let name = "é".repeat(300); // 600 bytes
        let input = SignupInput {
            customer_key: Some("cus_1".into()),
            name: Some(name.clone()),
            meta: vec![("note".into(), MetaValue::Text("x".repeat(400)))],
            ..SignupInput::default()
        };
        let body = build(&input, &visit).expect("a long name costs no signup");
        assert_eq!(
            body.name,
            Some("é".repeat(128).as_str()),
            "256 bytes, whole characters"
        );
        let json = serde_json::to_string(&body).unwrap();
        assert!(
            json.contains(&format!(r#""note":"{}""#, "x".repeat(MAX_FIELD))),
            "{json}"
        );
        assert!(!json.contains(&"x".repeat(MAX_FIELD + 1)));
    }

    #[test]
    fn control_characters_and_oversized_meta_are_refused_before_sending() {
        let visit = visit();
        let with = |f: &dyn Fn(&mut SignupInput)| {
            let mut input = SignupInput {
                customer_key: Some("cus_1".into()),
                ..SignupInput::default()
            };
            f(&mut input);
            build(&input, &visit).err()
        };
        assert_eq!(
            with(&|i| i.customer_key = Some("cus\n1".into())),
            Some(Invalid::Control("customer_key"))
        );
        assert_eq!(
            with(&|i| i.meta = vec![("k".repeat(65), MetaValue::Bool(true))]),
            Some(Invalid::Control("a meta key (1-64 bytes)"))
        );
        assert_eq!(with(&|_| {}), None);
    }

    #[test]
    fn meta_and_sub_ids_serialize_flat() {
        let mut input = input();
        input.sub_ids = vec!["campaign-1".into()];
        input.meta = vec![
            ("plan".into(), MetaValue::Text("pro".into())),
            ("seats".into(), MetaValue::Number(3.0)),
            ("note".into(), MetaValue::Text("say \"hi\"\n".into())),
            ("trial".into(), MetaValue::Bool(true)),
            ("coupon".into(), MetaValue::Null),
        ];
        let body = json(&input);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["sub_ids"], serde_json::json!(["campaign-1"]));
        assert_eq!(
            json["meta"],
            serde_json::json!({"coupon": null, "note": "say \"hi\"\n", "plan": "pro", "seats": 3.0, "trial": true})
        );
        assert!(body
            .starts_with(r#"{"event_id":"2f1c1f0e-8b0c-4a55-9d7e-2b4c9b0a3f11","type":"signup","#));
    }

    #[test]
    fn page_values_are_read_with_a_reason_for_each_refusal() {
        let t = |s: &str| Value::Text(s.into());
        let fields = Fields {
            customer_key: t("42"),
            email: t("jane@example.com"),
            name: Value::Null,
            sub_ids: Value::List(vec!["a".into()]),
            meta: Entries::Object(vec![
                ("seats".into(), Value::Number(3.0)),
                ("coupon".into(), Value::Null),
            ]),
            ..Fields::default()
        };
        let input = SignupInput::from_fields(fields).unwrap();
        assert_eq!(input.customer_key.as_deref(), Some("42"));
        assert_eq!(input.email.as_deref(), Some("jane@example.com"));
        assert_eq!(input.name, None);
        assert_eq!(input.sub_ids, ["a"]);
        assert_eq!(input.meta[1], ("coupon".into(), MetaValue::Null));

        let refused = |fields: Fields| SignupInput::from_fields(fields).unwrap_err();
        let given = Fields::default;
        assert_eq!(
            refused(Fields {
                email: Value::Bool(true),
                ..given()
            }),
            "email must be a string"
        );
        assert_eq!(
            refused(Fields {
                sub_ids: t("a"),
                ..given()
            }),
            "sub_ids must be an array of strings"
        );
        assert_eq!(
            refused(Fields {
                meta: Entries::NotAnObject,
                ..given()
            }),
            "meta must be an object"
        );
        assert_eq!(
            refused(Fields {
                partner_key: Value::Bool(true),
                ..given()
            }),
            "partner.key must be a string"
        );
        assert_eq!(
            refused(Fields {
                meta: Entries::Object(vec![("x".into(), Value::Other("an object".into()))]),
                ..given()
            }),
            "meta values must be strings, numbers, booleans or null"
        );
        // The first refusal wins, in the fields' order.
        assert_eq!(
            refused(Fields {
                customer_key: Value::Bool(true),
                sub_ids: t("a"),
                ..given()
            }),
            "customer_key must be a string"
        );
    }

    #[test]
    fn customer_key_falls_back_to_email() {
        let input = SignupInput {
            customer_key: Some("  ".into()),
            email: Some(" jane@example.com ".into()),
            ..SignupInput::default()
        };
        let signup: serde_json::Value = serde_json::from_str(&json(&input)).unwrap();
        assert_eq!(signup["customer_key"], "jane@example.com");
        assert_eq!(signup["email"], "jane@example.com");
        assert_eq!(signup["name"], serde_json::Value::Null);
    }

    #[test]
    fn a_customer_key_from_the_email_is_lower_cased_and_a_given_one_kept() {
        let from_email = SignupInput {
            email: Some("Jane@Example.COM".into()),
            ..SignupInput::default()
        };
        let body = build(&from_email, &visit()).unwrap();
        assert_eq!(body.customer_key, "jane@example.com");
        assert_eq!(
            body.email,
            Some("Jane@Example.COM"),
            "the email itself as given"
        );
        let given = SignupInput {
            customer_key: Some("Cus_42".into()),
            ..from_email
        };
        assert_eq!(build(&given, &visit()).unwrap().customer_key, "Cus_42");
    }

    #[test]
    fn invalid_input_is_explained() {
        assert_eq!(
            build(&SignupInput::default(), &visit()),
            Err(Invalid::NoCustomerKey)
        );
        for bad in [
            "jane",
            "jane@",
            "@example.com",
            "jane@example",
            "ja ne@example.com",
            "a@b@c.d",
            "jane@.com",
        ] {
            let input = SignupInput {
                email: Some(bad.into()),
                ..input()
            };
            assert_eq!(build(&input, &visit()), Err(Invalid::BadEmail), "{bad}");
        }
        let long = SignupInput {
            customer_key: Some("x".repeat(257)),
            ..input()
        };
        assert_eq!(
            build(&long, &visit()),
            Err(Invalid::TooLong("customer_key"))
        );
        assert_eq!(
            Invalid::BadEmail.reason(),
            "email is not a valid email address"
        );
        assert_eq!(Invalid::TooLong("name").reason(), "name is too long");
    }

    #[test]
    fn a_given_partner_key_overrides_the_attributed_one() {
        let mut input = input();
        assert_eq!(partner_for(&input, Some("alex")), Ok(Some("alex".into())));
        input.partner_key = Some("jane".into());
        assert_eq!(partner_for(&input, Some("alex")), Ok(Some("jane".into())));
        assert_eq!(partner_for(&input, None), Ok(Some("jane".into())));
        input.partner_key = Some("a;b".into());
        assert_eq!(
            partner_for(&input, Some("alex")),
            Err(Invalid::BadPartnerKey)
        );
        input.partner_key = Some(" ".into());
        assert_eq!(partner_for(&input, None), Ok(None));
    }

    #[test]
    fn uuid_v4_has_version_and_variant() {
        let id = uuid_v4([0xff; 16]);
        assert_eq!(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let id = uuid_v4([0; 16]);
        assert_eq!(id, "00000000-0000-4000-8000-000000000000");
        assert_eq!(id.len(), 36);
    }

    fn answer(http_status: u16, body_error: Option<&str>) -> Answer<'_> {
        Answer {
            http_status,
            body_error,
            ..Answer::default()
        }
    }

    fn retry(reason: &str) -> Delivery {
        Delivery::Retry {
            reason: reason.into(),
            not_before: None,
        }
    }

    #[test]
    fn answers_are_classified() {
        let created = Answer {
            body_status: Some("created"),
            ..answer(201, None)
        };
        assert_eq!(classify(&created), Delivery::Delivered(Status::Created));
        let duplicate = Answer {
            body_status: Some("duplicate"),
            ..answer(200, None)
        };
        assert_eq!(classify(&duplicate), Delivery::Delivered(Status::Duplicate));
        assert_eq!(
            classify(&answer(204, None)),
            Delivery::Delivered(Status::Created)
        );
        // What says the signup itself is wrong is final.
        for status in [400, 413, 422] {
            assert_eq!(
                classify(&answer(status, Some("customer_key is required"))),
                Delivery::Refused("customer_key is required".into()),
                "{status}"
            );
        }
        assert_eq!(
            classify(&answer(422, None)),
            Delivery::Refused("the endpoint answered 422".into())
        );
        // What says the deployment is wrong waits, so that the signup survives the fix.
        for status in [401, 403, 404, 405, 408, 409, 429, 500, 503] {
            assert_eq!(
                classify(&answer(status, None)),
                retry(&["the endpoint answered ", &decimal(status.into())].concat()),
                "{status}"
            );
        }
        assert_eq!(
            classify(&answer(403, Some("origin not allowed"))),
            retry("origin not allowed")
        );
        // A wrong signature is the site server's mistake about this signup: retrying never helps.
        let wrong_hash = "customer_hash does not match customer_key: sign it with …";
        assert_eq!(
            classify(&answer(403, Some(wrong_hash))),
            Delivery::Refused(wrong_hash.into())
        );
        let offline = Answer {
            network_error: Some("TypeError: Failed to fetch"),
            ..answer(0, None)
        };
        assert_eq!(classify(&offline), retry("TypeError: Failed to fetch"));
        // A 200 that is an HTML page (a static server, an app's fallback) stored nothing: wait.
        let page = Answer {
            html: true,
            ..answer(200, None)
        };
        assert_eq!(
            classify(&page),
            retry("the endpoint answered 200 with an HTML page")
        );
        assert_eq!(
            warning("https://www.acme.test/v1/signups", "https://www.acme.test", &page).as_deref(),
            Some("signups go to https://www.acme.test/v1/signups, which answered 200 with an HTML page, not the collector's answer: set `endpoint` to your collector's signup route (…/v1/signups); they wait in the retry queue")
        );
        let busy = Answer {
            retry_at: Some(1_700_000_030_000),
            ..answer(429, None)
        };
        assert_eq!(
            classify(&busy),
            Delivery::Retry {
                reason: "the endpoint answered 429".into(),
                not_before: Some(1_700_000_030_000)
            }
        );
    }

    #[test]
    fn each_failure_is_explained_with_what_to_fix() {
        let endpoint = "https://cdn.example/v1/signups";
        let origin = "https://www.acme.test";
        let warn = |answer: Answer<'_>| warning(endpoint, origin, &answer).unwrap();
        assert_eq!(
            warn(answer(404, None)),
            "signups go to https://cdn.example/v1/signups, which answered 404: set `endpoint` to \
             your collector's signup route (…/v1/signups); they wait in the retry queue"
        );
        assert_eq!(
            warn(answer(403, Some("origin not allowed"))),
            "signups go to https://cdn.example/v1/signups, which answered 403 (origin not allowed): \
             allow this page's origin on the collector (--allow-origin https://www.acme.test) and \
             check `publicKey`; they wait in the retry queue"
        );
        assert_eq!(
            warn(answer(400, Some("email is not valid"))),
            "a signup was refused by https://cdn.example/v1/signups, which answered 400 (email is \
             not valid): it is not sent again"
        );
        let offline = Answer {
            network_error: Some("TypeError: Failed to fetch"),
            ..answer(0, None)
        };
        assert!(warn(offline).contains("which did not answer (TypeError: Failed to fetch)"));
        assert!(warn(answer(503, None)).ends_with("answered 503; they wait in the retry queue"));
        assert_eq!(warning(endpoint, origin, &answer(201, None)), None);
    }

    #[test]
    fn results_say_whether_the_signup_is_safe() {
        let queued = SignupResult::new(Status::Queued, Some("e".into()), None);
        assert!(queued.ok);
        assert_eq!(queued.status.as_str(), "queued");
        let rejected = SignupResult::new(Status::Rejected, None, Some("why".into()));
        assert!(!rejected.ok);
        for status in [Status::Created, Status::Duplicate] {
            assert!(SignupResult::new(status, None, None).ok);
        }
        for status in [Status::Skipped, Status::Error] {
            assert!(!SignupResult::new(status, None, None).ok);
        }
    }
}
