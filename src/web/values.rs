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
use js_sys::{Object, JSON};
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_wasm_bindgen::Serializer;
use wasm_bindgen::{JsCast, JsValue};

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // What serde cannot describe (a function, a symbol) is a value of the wrong type too.
        Ok(deserializer
            .deserialize_any(ValueVisitor)
            .unwrap_or_else(|_| {
                Value::Other("a function or another value that is not data".into())
            }))
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v as f64))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v as f64))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(if v.is_finite() {
            Value::Number(v)
        } else {
            Value::Other("a number that is not finite".into())
        })
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Text(v.into()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Text(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            match item {
                Value::Text(text) => items.push(text),
                _ => return Ok(Value::Other("an array with non-string items".into())),
            }
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Value, A::Error> {
        Ok(Value::Other("an object".into()))
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
        Ok(deserializer
            .deserialize_any(EntriesVisitor)
            .unwrap_or(Entries::NotAnObject))
    }
}

struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Entries;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_unit<E>(self) -> Result<Entries, E> {
        Ok(Entries::Absent)
    }

    fn visit_none<E>(self) -> Result<Entries, E> {
        Ok(Entries::Absent)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, Value>()? {
            entries.push(entry);
        }
        Ok(Entries::Object(entries))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Entries, E> {
        Ok(Entries::NotAnObject)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Entries, E> {
        Ok(Entries::NotAnObject)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Entries, E> {
        Ok(Entries::NotAnObject)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Entries, E> {
        Ok(Entries::NotAnObject)
    }

    fn visit_str<E>(self, _: &str) -> Result<Entries, E> {
        Ok(Entries::NotAnObject)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Entries, A::Error> {
        Ok(Entries::NotAnObject)
    }
}

/// `value` read as an object's own properties.
pub fn entries(value: JsValue) -> Entries {
    serde_wasm_bindgen::from_value(value).unwrap_or(Entries::NotAnObject)
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

/// `reftrack.signup({ customer_key, email, name, sub_ids, meta })`.
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

/// `growsumo.data`: `customer_key`, `email` and `name` (the attribution fields are reftrack's own).
pub fn growsumo_input(data: &JsValue) -> Result<SignupInput, String> {
    let mut fields = SignupFields::read(data).unwrap_or_default();
    let customer_key = core::mem::take(&mut fields.customer_key);
    fields.partner = Entries::Absent;
    fields.input(customer_key, false)
}

/// Partnero's `po('customers', 'signup', { data: { key, name, email, partner: { key } } })`.
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
