//! Partnero's customer create (`POST /v1/customers`): its body, and the signup it is stored as.

use super::credit::Standing;
use super::fields::{is_token, object, opt, Fields, MAX_TEXT};
use super::validate::Record;
use reftrack::core::signup::{is_email, MAX_EMAIL, MAX_FIELD};
use serde_json::{Map, Value};

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

/// Why a customer body is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// The partner key is not one (Partnero answers `400 Invalid partner key`).
    PartnerKey,
    /// Anything else that does not validate (Partnero answers `422`).
    Field(String),
}

/// Reads Partnero's customer-create body.
pub fn customer(body: &[u8]) -> Result<PartneroCustomer, Invalid> {
    let invalid = Invalid::Field;
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
        _ => return Err(Invalid::PartnerKey),
    };
    let f = Fields(&map);
    let key = f.required("key", MAX_FIELD).map_err(invalid)?;
    let email = f
        .text("email", MAX_EMAIL)
        .map_err(invalid)?
        .filter(|e| !e.is_empty());
    if email.as_deref().is_some_and(|e| !is_email(e)) {
        return Err(invalid("email is not a valid email address".into()));
    }
    let name = f.text("name", MAX_FIELD).map_err(invalid)?;
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
pub fn record(customer: &PartneroCustomer, program: &str, event_id: String) -> Record {
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
        standing: Standing::Confirmed,
        via: "api",
        customer_hash: None,
        amount: None,
        currency: None,
        transaction_key: None,
    }
}
