//! Payments posted through the APIs programs already call: PartnerStack's
//! `POST /api/v2/transactions` (amounts in cents) and Partnero's `POST /v1/transactions` (amounts
//! in major units, one or a batch). Read into one shape; amounts always become integers in minor
//! units, exactly.

use super::fields::{object, Fields};
use reftrack::core::signup::{is_email, MAX_EMAIL, MAX_FIELD};
use serde_json::{Map, Value};

/// Most `metadata` entries PartnerStack takes.
pub const MAX_METADATA: usize = 25;

/// Who paid, as the API names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payer {
    /// The site's customer key.
    Key(String),
    /// The customer's email.
    Email(String),
}

/// One payment read from an API body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPayment {
    /// The source's own id (`key`): unique per source.
    pub key: String,
    /// Who paid.
    pub payer: Payer,
    /// Minor units; negative for a refund.
    pub amount: i64,
    /// ISO 4217, upper case.
    pub currency: String,
    /// The rest, kept as the source sent it (product, category, metadata).
    pub details: Map<String, Value>,
    /// Partnero's `options.create_customer`.
    pub create_customer: bool,
}

/// How many decimals a currency's minor unit has (ISO 4217): 0 for the yen and its like, 3 for the
/// dinars, 2 for the rest.
pub fn decimals(currency: &str) -> u32 {
    const ZERO: [&str; 16] = [
        "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
        "XAF", "XOF", "XPF",
    ];
    const THREE: [&str; 7] = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
    if ZERO.contains(&currency) {
        0
    } else if THREE.contains(&currency) {
        3
    } else {
        2
    }
}

/// The active ISO 4217 currency codes (and the funds, metals and special drawing rights it
/// lists), for reward rules and payouts: a code nobody pays in is a mistake to name.
const ISO_4217: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND \
BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF \
DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR \
IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA \
MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR \
PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB \
TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU \
XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG ZWL";

/// Whether `code` is an ISO 4217 code, as written there (upper case).
pub fn is_iso_4217(code: &str) -> bool {
    code.len() == 3 && ISO_4217.split(' ').any(|c| c == code)
}

/// A three-letter currency code, upper-cased.
pub fn currency(text: &str) -> Result<String, String> {
    let code = text.trim().to_ascii_uppercase();
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(code)
    } else {
        Err(format!(
            "currency {text:?} is not a three-letter ISO 4217 code"
        ))
    }
}

/// A major-unit amount (`99.99`) in minor units of `currency` (`9999`), refused when it has more
/// decimals than the currency does.
pub fn minor_units(amount: &Value, currency: &str) -> Result<i64, String> {
    let number = amount
        .as_f64()
        .filter(|n| n.is_finite() && n.abs() < 1e13)
        .ok_or("amount must be a number")?;
    let scale = 10f64.powi(decimals(currency) as i32);
    let minor = (number * scale).round();
    if (number * scale - minor).abs() > 1e-6 {
        return Err(format!(
            "amount {number} has more decimals than {currency} has ({})",
            decimals(currency)
        ));
    }
    Ok(minor as i64)
}

/// PartnerStack's `POST /api/v2/transactions`: exactly one of `customer_key`,
/// `customer_external_key`, `customer_email`; `amount` in cents (negative for a refund),
/// `currency`, `key` (4-255 characters),
/// `category_key?`, `product_key?`, `metadata?` (at most 25 entries).
pub fn partnerstack(body: &[u8]) -> Result<ApiPayment, String> {
    let map = object(body)?;
    let f = Fields(&map);
    // PartnerStack's customer_external_key is the site's own key (the one PartnerStackJS was
    // given); its customer_key, PartnerStack's internal one, is the site's key here too.
    let payer = match (
        f.key("customer_key", MAX_FIELD)?,
        f.key("customer_external_key", MAX_FIELD)?,
        f.text("customer_email", MAX_EMAIL)?,
    ) {
        (Some(key), None, None) | (None, Some(key), None) => Payer::Key(key),
        (None, None, Some(email)) if is_email(&email) => Payer::Email(email),
        (None, None, Some(_)) => return Err("customer_email is not a valid email address".into()),
        (None, None, None) => {
            return Err(
                "one of customer_key, customer_external_key or customer_email is required".into(),
            )
        }
        _ => {
            return Err(
                "give exactly one of customer_key, customer_external_key and customer_email".into(),
            )
        }
    };
    let amount = match map.get("amount") {
        Some(Value::Number(n)) if n.as_i64().is_some_and(|a| a.abs() <= 50_000_000_000) => {
            n.as_i64().unwrap_or(0)
        }
        _ => return Err("amount must be a whole number of cents (negative for a refund)".into()),
    };
    let currency = currency(&f.required("currency", 16)?)?;
    let key = f.key("key", MAX_FIELD)?.ok_or("key is required")?;
    if key.len() < 4 {
        return Err("key must be 4 to 255 characters".into());
    }
    let mut details = Map::new();
    for name in ["category_key", "product_key"] {
        if let Some(value) = f.key(name, MAX_FIELD)? {
            details.insert(name.into(), value.into());
        }
    }
    match map.get("metadata") {
        None | Some(Value::Null) => {}
        Some(Value::Object(metadata)) if metadata.len() <= MAX_METADATA => {
            details.insert("metadata".into(), Value::Object(metadata.clone()));
        }
        Some(_) => {
            return Err(format!(
                "metadata must be an object of at most {MAX_METADATA} entries"
            ))
        }
    }
    Ok(ApiPayment {
        key,
        payer,
        amount,
        currency,
        details,
        create_customer: false,
    })
}

/// Partnero's `POST /v1/transactions`: one transaction, or `{ transactions: [...] }`. Each is
/// `{ customer: { key } | { email }, key, amount (major units), currency?, product_id?,
/// product_type?, action?: "sale" | "refund", options?: { create_customer } }`; `currency`
/// defaults to `default_currency` (`--currency`, Partnero's program currency).
pub fn partnero(body: &[u8], default_currency: &str) -> Result<Vec<ApiPayment>, String> {
    let map = object(body)?;
    match map.get("transactions") {
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= 100 => items
            .iter()
            .enumerate()
            .map(|(n, item)| match item {
                Value::Object(item) => partnero_one(item, default_currency)
                    .map_err(|e| format!("transactions[{n}]: {e}")),
                _ => Err(format!("transactions[{n}] must be an object")),
            })
            .collect(),
        Some(_) => Err("transactions must be an array of 1 to 100 transactions".into()),
        None => partnero_one(&map, default_currency).map(|one| vec![one]),
    }
}

fn partnero_one(map: &Map<String, Value>, default_currency: &str) -> Result<ApiPayment, String> {
    let f = Fields(map);
    let payer = match map.get("customer") {
        Some(Value::Object(customer)) => {
            let c = Fields(customer);
            match (c.key("key", MAX_FIELD)?, c.text("email", MAX_EMAIL)?) {
                (Some(key), _) => Payer::Key(key),
                (None, Some(email)) if is_email(&email) => Payer::Email(email),
                _ => return Err("customer needs a key or a valid email".into()),
            }
        }
        _ => return Err("customer is required: { \"key\": ... } or { \"email\": ... }".into()),
    };
    let key = f.key("key", MAX_FIELD)?.ok_or("key is required")?;
    let currency = currency(&f.text("currency", 16)?.unwrap_or(default_currency.into()))?;
    let amount = minor_units(map.get("amount").unwrap_or(&Value::Null), &currency)?;
    let amount = match f.text("action", 16)?.as_deref() {
        None | Some("sale") if amount > 0 => amount,
        Some("refund") if amount != 0 => -amount.abs(),
        Some(other) if !matches!(other, "sale" | "refund") => {
            return Err(format!(
                "action must be \"sale\" or \"refund\", not {other:?}"
            ))
        }
        _ => return Err("amount must be above 0".into()),
    };
    let mut details = Map::new();
    for name in ["product_id", "product_type"] {
        if let Some(value) = f.text(name, MAX_FIELD)? {
            details.insert(name.into(), value.into());
        }
    }
    let create_customer = matches!(
        map.get("options").and_then(|o| o.get("create_customer")),
        Some(Value::Bool(true))
    );
    Ok(ApiPayment {
        key,
        payer,
        amount,
        currency,
        details,
        create_customer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn major_units_become_minor_units_exactly() {
        assert_eq!(minor_units(&json!(99.99), "EUR"), Ok(9999));
        assert_eq!(minor_units(&json!(0.1), "USD"), Ok(10));
        assert_eq!(minor_units(&json!(1234), "JPY"), Ok(1234));
        assert_eq!(minor_units(&json!(1.234), "KWD"), Ok(1234));
        assert!(minor_units(&json!(9.999), "EUR")
            .unwrap_err()
            .contains("more decimals"));
        assert!(minor_units(&json!(1.5), "JPY").is_err());
        assert!(minor_units(&json!("9.99"), "EUR").is_err());
    }

    #[test]
    fn partnerstack_bodies_are_read_or_explained() {
        let p = partnerstack(
            br#"{"customer_external_key":"cus_S1","amount":-500,"currency":"usd","key":"tx_1",
                "product_key":"pro","metadata":{"plan":"pro"}}"#,
        )
        .unwrap();
        assert_eq!(
            (p.payer, p.amount, p.currency.as_str()),
            (Payer::Key("cus_S1".into()), -500, "USD")
        );
        for (body, reason) in [
            (&br#"{"amount":5,"currency":"usd","key":"k"}"#[..], "one of customer_key"),
            (br#"{"customer_key":"c","amount":5.5,"currency":"usd","key":"tx_k"}"#, "amount must be"),
            (br#"{"customer_key":"c","customer_email":"a@b.co","amount":5,"currency":"usd","key":"tx_k"}"#, "give exactly one"),
            (br#"{"customer_key":"c","amount":5,"currency":"usd","key":"k"}"#, "key must be 4"),
            (br#"{"customer_key":"c","amount":5,"currency":"dollars","key":"tx_k"}"#, "currency \"dollars\" is not"),
            (br#"{"customer_key":"c","amount":5,"currency":"usd"}"#, "key is required"),
        ] {
            let error = partnerstack(body).unwrap_err();
            assert!(error.starts_with(reason), "{error}");
        }
    }

    #[test]
    fn partnero_takes_one_or_a_batch_in_major_units() {
        let one = partnero(
            br#"{"customer":{"key":"c1"},"key":"t1","amount":99.99,"product_type":"monthly",
                "options":{"create_customer":true}}"#,
            "EUR",
        )
        .unwrap();
        assert_eq!((one[0].amount, one[0].currency.as_str()), (9999, "EUR"));
        assert!(one[0].create_customer);
        let batch = partnero(
            br#"{"transactions":[{"customer":{"email":"a@b.co"},"key":"t2","amount":10,"currency":"usd"},
                                  {"customer":{"key":"c1"},"key":"t3","amount":5,"action":"refund"}]}"#,
            "EUR",
        )
        .unwrap();
        assert_eq!(batch[0].payer, Payer::Email("a@b.co".into()));
        assert_eq!((batch[1].amount, batch[1].currency.as_str()), (-500, "EUR"));
        let error = partnero(br#"{"transactions":[{"key":"t"}]}"#, "EUR").unwrap_err();
        assert!(
            error.starts_with("transactions[0]: customer is required"),
            "{error}"
        );
    }
}
