//! Values across the boundary, carried by serde and serde-wasm-bindgen: options objects, a
//! signup's fields (`reftrack.signup({...})`, `growsumo.data`, Partnero's `data`) and `meta` come
//! in; a `SignupResult` and the signup body go out.
//!
//! A page passes whatever it likes, so nothing here fails: a value of the wrong type becomes
//! [`Value::Other`] (described for the warning or the `rejected` result), and the core decides what
//! to make of it, exactly as for a bad value of the right type.

use crate::core::config::{Source, SourceKind, Value};
use crate::core::signup::SignupInput;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use js_sys::{Array, Object, JSON};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_wasm_bindgen::Serializer;
use wasm_bindgen::{JsCast, JsValue};

/// Every value is taken as the JavaScript value it is (serde-wasm-bindgen's `preserve`) and then
/// classified by its JavaScript type. That keeps one small path through serde-wasm-bindgen (no
/// `deserialize_any`, which would also carry BigInt, byte-array and iterator handling the module
/// never needs) and cannot fail, whatever the page passed.
impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value: JsValue = serde_wasm_bindgen::preserve::deserialize(deserializer)?;
        Ok(classify(&value))
    }
}

/// A JavaScript value as a core [`Value`], by its JavaScript type.
pub fn classify(value: &JsValue) -> Value {
    if value.is_null() || value.is_undefined() {
        Value::Null
    } else if let Some(text) = value.as_string() {
        Value::Text(text)
    } else if let Some(flag) = value.as_bool() {
        Value::Bool(flag)
    } else if let Some(number) = value.as_f64() {
        if number.is_finite() {
            Value::Number(number)
        } else {
            Value::Other("a number that is not finite".into())
        }
    } else if Array::is_array(value) {
        let items: Option<Vec<String>> = Array::from(value)
            .to_vec()
            .iter()
            .map(JsValue::as_string)
            .collect();
        match items {
            Some(items) => Value::List(items),
            None => Value::Other("an array with non-string items".into()),
        }
    } else if value.is_function() {
        Value::Other("a function".into())
    } else if value.is_object() {
        Value::Other("an object".into())
    } else {
        Value::Other("a value that is not data".into())
    }
}

/// A JavaScript object as its own enumerable properties, in order (`Object.entries`: what a page
/// put on `Object.prototype` is not among them).
#[derive(Debug, Default, PartialEq)]
pub enum Entries {
    /// `null` or `undefined`.
    #[default]
    Absent,
    /// An object's properties.
    Object(Vec<(String, Value)>),
    /// Something else: a string, a number, an array, a function.
    NotAnObject,
}

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value: JsValue = serde_wasm_bindgen::preserve::deserialize(deserializer)?;
        Ok(entries(value))
    }
}

/// An object's properties, read as a serde map (serde-wasm-bindgen walks `Object.entries`).
struct Properties(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Properties {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(PropertiesVisitor)
    }
}

struct PropertiesVisitor;

impl<'de> Visitor<'de> for PropertiesVisitor {
    type Value = Properties;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Properties, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, Value>()? {
            entries.push(entry);
        }
        Ok(Properties(entries))
    }
}

/// `value` read as an object's own properties.
pub fn entries(value: JsValue) -> Entries {
    if value.is_null() || value.is_undefined() {
        return Entries::Absent;
    }
    if !value.is_object() || Array::is_array(&value) {
        return Entries::NotAnObject;
    }
    match serde_wasm_bindgen::from_value::<Properties>(value) {
        Ok(Properties(entries)) => Entries::Object(entries),
        Err(_) => Entries::NotAnObject,
    }
}

/// An options object (`init(options)`, `window.reftrackConfig`, the tag's `dataset`) as a source
/// of options; `None` when it is neither an object nor absent.
pub fn options(value: JsValue, kind: SourceKind) -> Option<Source> {
    let mut source = Source::new(kind);
    match entries(value) {
        Entries::Absent => {}
        Entries::Object(entries) => {
            for (name, value) in entries {
                source.set(&name, value);
            }
        }
        Entries::NotAnObject => return None,
    }
    Some(source)
}

/// A copy of `value`'s own enumerable properties on an object without a prototype, so that serde's
/// field-by-field reads of a struct (`value[field]`) cannot find what a page put on
/// `Object.prototype`.
fn own(value: &JsValue) -> JsValue {
    if !value.is_object() {
        return value.clone();
    }
    let copy = Object::entries_typed::<JsValue>(value.unchecked_ref())
        .and_then(|entries| Object::from_entries(&entries));
    match copy {
        Ok(copy) => Object::set_prototype_of(&copy, JsValue::NULL.unchecked_ref()).into(),
        Err(_) => JsValue::UNDEFINED,
    }
}

/// A signup's fields as the page gives them; missing ones are `null`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SignupFields {
    customer_key: Value,
    email: Value,
    name: Value,
    sub_ids: Value,
    meta: Entries,
    /// Partnero's `partner: { key }`.
    partner: Entries,
    /// Partnero's `key`: its customer key.
    key: Value,
    /// `growsumo.data.partner_key`.
    partner_key: Value,
    /// The site server's signature of the customer key.
    customer_hash: Value,
}

/// A text field: a number given there is written by JavaScript (`String(n)`), so Rust never
/// formats a float.
fn text(value: Value) -> Value {
    match value {
        Value::Number(n) => match js_sys::Number::from(n).to_string_with_radix(10) {
            Ok(text) => Value::Text(text.into()),
            Err(_) => Value::Number(n),
        },
        other => other,
    }
}

impl SignupFields {
    fn read(value: &JsValue) -> Option<Self> {
        value
            .is_object()
            .then(|| serde_wasm_bindgen::from_value(own(value)).unwrap_or_default())
    }

    /// The core's signup input; `Err` is the reason for the `rejected` result.
    fn input(self, customer_key: Value, with_lists: bool) -> Result<SignupInput, String> {
        let mut fields = alloc::vec![
            ("customer_key".into(), text(customer_key)),
            ("email".into(), text(self.email)),
            ("name".into(), text(self.name)),
            ("customer_hash".into(), text(self.customer_hash)),
        ];
        let mut meta = Vec::new();
        if with_lists {
            fields.push(("sub_ids".into(), self.sub_ids));
            match self.meta {
                Entries::Absent => {}
                Entries::Object(entries) => meta = entries,
                Entries::NotAnObject => fields.push(("meta".into(), Value::Other("".into()))),
            }
        }
        if let Entries::Object(partner) = self.partner {
            let key = partner.into_iter().find(|(name, _)| name == "key");
            fields.push((
                "partner_key".into(),
                key.map_or(Value::Null, |(_, v)| text(v)),
            ));
        }
        SignupInput::from_values(true, fields, meta)
    }
}

/// `reftrack.signup({ customer_key, email, name, customer_hash, sub_ids, meta })`.
pub fn signup_input(value: &JsValue) -> Result<SignupInput, String> {
    match SignupFields::read(value) {
        Some(mut fields) => {
            let customer_key = core::mem::take(&mut fields.customer_key);
            fields.partner = Entries::Absent;
            fields.input(customer_key, true)
        }
        None => SignupInput::from_values(false, Vec::new(), Vec::new()),
    }
}

/// `growsumo.data`: `customer_key`, `email`, `name` and `customer_hash`, and `partner_key` when the page set one
/// other than the attributed key (`attributed`, which reftrack itself writes there): like
/// Partnero's `partner.key`, it overrides the attribution (and the click id, which belongs to the
/// attributed partner, is not sent).
pub fn growsumo_input(data: &JsValue, attributed: Option<&str>) -> Result<SignupInput, String> {
    let mut fields = SignupFields::read(data).unwrap_or_default();
    let customer_key = core::mem::take(&mut fields.customer_key);
    let page_key = match core::mem::take(&mut fields.partner_key) {
        Value::Text(key) if !key.trim().is_empty() && Some(key.as_str()) != attributed => {
            Value::Text(key)
        }
        _ => Value::Null,
    };
    fields.partner = Entries::Object(alloc::vec![("key".into(), page_key)]);
    fields.input(customer_key, false)
}

/// Partnero's `po('customers', 'signup', { data: { key, name, email, customer_hash, partner: { key } } })`.
pub fn partnero_input(argument: &JsValue) -> Result<SignupInput, String> {
    let data = match argument.is_object() {
        true => {
            js_sys::Reflect::get(&own(argument), &JsValue::from_str("data")).unwrap_or_default()
        }
        false => JsValue::UNDEFINED,
    };
    let mut fields = SignupFields::read(&data).unwrap_or_default();
    let customer_key = core::mem::take(&mut fields.key);
    fields.input(customer_key, false)
}

/// How values go out: a missing value is `null` (`event_id: null`, `referrer: null`), a map is a
/// plain object.
const OUT: Serializer = Serializer::new()
    .serialize_missing_as_null(true)
    .serialize_maps_as_objects(true);

/// `value` as a JavaScript value (`undefined` if it cannot be).
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> JsValue {
    value.serialize(&OUT).unwrap_or(JsValue::UNDEFINED)
}

/// `value` as JSON text, written by the browser's `JSON.stringify`.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Option<String> {
    JSON::stringify(&to_js(value)).ok().map(String::from)
}
