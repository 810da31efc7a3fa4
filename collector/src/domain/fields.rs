//! Reading a JSON body field by field, with typed, explained errors; the limits and rules are the
//! SDK core's own, so both ends agree on what a valid signup is.

use reftrack::core::partner_key::PartnerKey;
use reftrack::core::signup::{MAX_FIELD, MAX_ITEMS};
use reftrack::core::text::is_hidden;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Longest URL (`page_url`, `referrer`, `referral_url`) and user agent kept, in bytes: the SDK
/// clips what it sends to the same length.
pub const MAX_TEXT: usize = reftrack::core::signup::MAX_URL;

/// Longest `meta` key, and longest `meta` string value, in bytes.
pub const MAX_META_KEY: usize = reftrack::core::signup::MAX_META_KEY;

/// Field access with typed, explained errors.
pub(crate) struct Fields<'a>(pub(crate) &'a Map<String, Value>);

impl Fields<'_> {
    /// Free text: anything but NUL.
    pub(crate) fn text(&self, name: &str, max: usize) -> Result<Option<String>, String> {
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
    pub(crate) fn key(&self, name: &str, max: usize) -> Result<Option<String>, String> {
        let text = self.text(name, max)?;
        if text.as_deref().is_some_and(|t| t.chars().any(is_hidden)) {
            return Err(format!(
                "{name} must not contain control or invisible formatting characters"
            ));
        }
        Ok(text)
    }

    pub(crate) fn required(&self, name: &str, max: usize) -> Result<String, String> {
        self.key(name, max)?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| format!("{name} is required"))
    }

    pub(crate) fn strings(&self, name: &str) -> Result<Vec<String>, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) if items.len() <= MAX_ITEMS => items
                .iter()
                .map(|item| match item {
                    Value::String(s) if s.len() <= MAX_FIELD && !s.chars().any(is_hidden) => {
                        Ok(s.clone())
                    }
                    _ => Err(format!(
                        "{name} must be an array of strings of at most {MAX_FIELD} bytes, \
                         without control or invisible formatting characters"
                    )),
                })
                .collect(),
            Some(_) => Err(format!(
                "{name} must be an array of at most {MAX_ITEMS} strings"
            )),
        }
    }
}

/// The partner key and click id rule of contract §3: the SDK's own check, so both ends agree.
pub(crate) fn is_token(s: &str) -> bool {
    PartnerKey::parse(s).is_ok()
}

/// The body as a JSON object, read strictly: a key given twice, or a number beyond ±2^53 (what
/// JavaScript and most JSON readers hold exactly), is refused rather than silently resolved.
pub(crate) fn object(body: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Strict>(body).map(|strict| strict.0) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("the body must be a JSON object".into()),
        Err(error) => Err(format!("the body is not valid JSON: {error}")),
    }
}

pub(crate) fn opt(value: Option<String>) -> Value {
    value.map_or(Value::Null, Value::String)
}

/// Largest magnitude of a number accepted: 2^53, JavaScript's safe integers.
pub const MAX_SAFE: f64 = 9_007_199_254_740_992.0;

/// A JSON value read with no silent choices: see [`object`].
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Strict, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

fn too_large<E: de::Error>() -> E {
    E::custom("a number is outside ±2^53 (9007199254740992)")
}

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        if n.unsigned_abs() > MAX_SAFE as u64 {
            return Err(too_large());
        }
        Ok(Value::from(n))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        if n > MAX_SAFE as u64 {
            return Err(too_large());
        }
        Ok(Value::from(n))
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<Value, E> {
        match Number::from_f64(x) {
            Some(n) if x.abs() <= MAX_SAFE => Ok(Value::Number(n)),
            _ => Err(too_large()),
        }
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!("the key {key:?} is given twice")));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::object;

    #[test]
    fn duplicate_keys_and_unsafe_numbers_are_refused() {
        let refused = |body: &str| object(body.as_bytes()).unwrap_err();
        assert!(refused(r#"{"a":1,"a":2}"#).contains("the key \"a\" is given twice"));
        assert!(refused(r#"{"m":{"k":1,"k":1}}"#).contains("given twice"));
        assert!(refused(r#"{"n":18446744073709551616}"#).contains("±2^53"));
        assert!(refused(r#"{"n":9007199254740993}"#).contains("±2^53"));
        assert!(refused(r#"{"n":-9007199254740993}"#).contains("±2^53"));
        assert!(refused(r#"{"n":1e300}"#).contains("±2^53"));
        let fine = object(br#"{"n":9007199254740992,"x":-1.5,"s":"a","l":[1,null,true]}"#).unwrap();
        assert_eq!(fine["n"], 9_007_199_254_740_992_u64);
        assert_eq!(fine["x"], -1.5);
    }
}
