//! Values across the boundary. What comes in — options objects, a signup's fields
//! (`reftrack.signup({...})`, `growsumo.data`, Partnero's `data`), `meta`, the collector's JSON
//! answer — is read with js-sys (`Object.entries`, `Array.isArray`, typeof checks) into the core's
//! types; what goes out — a `SignupResult`, the signup body — is written by serde through
//! serde-wasm-bindgen.
//!
//! Why inbound values are not deserialized by serde-wasm-bindgen: its `Deserializer` reaches
//! serde's error formatting from every `deserialize_*` (`Unexpected`'s `Display`, which formats
//! floats, and the Unicode tables of `escape_debug`), about 16 KB gzip of a module that never shows
//! such an error. A page passes whatever it likes, so nothing here fails: a value of the wrong type
//! becomes [`Value::Other`] (described for the warning or the `rejected` result), and the core
//! decides what to make of it, exactly as for a bad value of the right type.

pub use crate::core::config::Entries;
use crate::core::config::{Source, SourceKind, Value};
use crate::core::signup::{Fields, SignupInput, NOT_AN_OBJECT};
use alloc::string::String;
use alloc::vec::Vec;
use js_sys::{Array, JsString, Object, JSON};
use serde::Serialize;
use serde_wasm_bindgen::Serializer;
use wasm_bindgen::{JsCast, JsValue};

/// `target[name]`, or `undefined` (a missing property, a throwing getter, a target that is not an
/// object).
pub fn get(target: &JsValue, name: &str) -> JsValue {
    if !is_object(target) {
        return JsValue::UNDEFINED;
    }
    js_sys::Reflect::get(target, &JsValue::from_str(name)).unwrap_or_default()
}

/// `target[name] = value`; a page's own setter that refuses is its business.
pub fn set(target: &JsValue, name: &str, value: &JsValue) {
    if is_object(target) {
        let _ = js_sys::Reflect::set(target, &JsValue::from_str(name), value);
    }
}

/// Whether `Reflect` takes `value` as a target. On anything else `Reflect.get` throws a TypeError,
/// and a landing asks absent stubs (`window.po`, `window.reftrack`) for their queues: measured, the
/// page's first exception cost some 3 ms before `growsumoInit`.
fn is_object(value: &JsValue) -> bool {
    value.is_object() || value.is_function()
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
        let mut items = Vec::new();
        for item in value.unchecked_ref::<Array>().iter() {
            match item.as_string() {
                Some(item) => items.push(item),
                None => return Value::Other("an array with non-string items".into()),
            }
        }
        Value::List(items)
    } else if value.is_function() {
        Value::Other("a function".into())
    } else if value.is_object() {
        Value::Other("an object".into())
    } else {
        Value::Other("a value that is not data".into())
    }
}

/// `value`'s own enumerable properties as they are, or `None` when it is not a plain object (an
/// array, a function, a primitive) or reading it threw (a getter, a revoked proxy).
fn properties(value: &JsValue) -> Option<Vec<(String, JsValue)>> {
    if !value.is_object() || Array::is_array(value) {
        return None;
    }
    let entries = Object::entries_typed::<JsValue>(value.unchecked_ref()).ok()?;
    let entries: &Array = entries.unchecked_ref();
    // Loops, not iterator chains, here and below: each chain compiles on its own, and these run
    // on every landing that has options.
    let mut properties = Vec::new();
    for entry in entries.iter() {
        let pair: Array = entry.unchecked_into();
        let name = pair.get(0).unchecked_into::<JsString>();
        properties.push((String::from(name), pair.get(1)));
    }
    Some(properties)
}

/// `value` read as an object's own properties.
pub fn entries(value: JsValue) -> Entries {
    if value.is_null() || value.is_undefined() {
        return Entries::Absent;
    }
    match properties(&value) {
        Some(properties) => {
            let mut entries = Vec::new();
            for (name, value) in properties {
                entries.push((name, classify(&value)));
            }
            Entries::Object(entries)
        }
        None => Entries::NotAnObject,
    }
}

/// The own property `name` of `value` (`undefined` when there is none, or `value` is no object).
pub fn property(value: &JsValue, name: &str) -> JsValue {
    properties(value)
        .and_then(|properties| properties.into_iter().find(|(n, _)| n == name))
        .map_or(JsValue::UNDEFINED, |(_, value)| value)
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

/// A signup's fields as the page gives them; missing ones are `null`.
#[derive(Debug, Default)]
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
    /// The fields of `value`, read from its own properties; `None` when it is no object.
    fn read(value: &JsValue) -> Option<Self> {
        if !value.is_object() {
            return None;
        }
        let mut fields = SignupFields::default();
        for (name, value) in properties(value).unwrap_or_default() {
            let slot = match name.as_str() {
                "customer_key" => &mut fields.customer_key,
                "email" => &mut fields.email,
                "name" => &mut fields.name,
                "sub_ids" => &mut fields.sub_ids,
                "key" => &mut fields.key,
                "partner_key" => &mut fields.partner_key,
                "customer_hash" => &mut fields.customer_hash,
                "meta" => {
                    fields.meta = entries(value);
                    continue;
                }
                "partner" => {
                    fields.partner = entries(value);
                    continue;
                }
                _ => continue,
            };
            *slot = classify(&value);
        }
        Some(fields)
    }

    /// The core's signup input; `Err` is the reason for the `rejected` result.
    fn input(self, customer_key: Value, with_lists: bool) -> Result<SignupInput, String> {
        let (sub_ids, meta) = if with_lists {
            (self.sub_ids, self.meta)
        } else {
            (Value::Null, Entries::Absent)
        };
        let partner_key = match self.partner {
            Entries::Object(partner) => partner
                .into_iter()
                .find(|(name, _)| name == "key")
                .map_or(Value::Null, |(_, v)| text(v)),
            _ => Value::Null,
        };
        SignupInput::from_fields(Fields {
            customer_key: text(customer_key),
            email: text(self.email),
            name: text(self.name),
            customer_hash: text(self.customer_hash),
            sub_ids,
            meta,
            partner_key,
        })
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
        None => Err(NOT_AN_OBJECT.into()),
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
    let data = property(argument, "data");
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

/// `value` as JSON text, written by the browser's `JSON.stringify`, from objects and arrays
/// without a prototype: a `toJSON` that the page put on `Object.prototype` or `Array.prototype`
/// (Prototype.js 1.6 defines `Array.prototype.toJSON`) is not found, so the text is exactly the
/// value's. Strings and numbers go out as primitives, which `toJSON` never applies to.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Option<String> {
    let value = to_js(value);
    bare(&value);
    JSON::stringify(&value).ok().map(String::from)
}

/// Takes the prototype away from `value` and every object and array inside it.
fn bare(value: &JsValue) {
    if !value.is_object() {
        return;
    }
    if Array::is_array(value) {
        for item in value.unchecked_ref::<Array>().iter() {
            bare(&item);
        }
    } else if let Some(properties) = properties(value) {
        for (_, item) in properties {
            bare(&item);
        }
    }
    Object::set_prototype_of(
        value.unchecked_ref::<Object>(),
        JsValue::NULL.unchecked_ref(),
    );
}

/// A copy of `value` as plain data, for `JSON.stringify`: objects and arrays without a prototype
/// (no `toJSON` of the page's is found), their own enumerable properties copied, functions left
/// out; nesting past eight levels (a cycle, say) is cut to `null`. The split build keeps a waiting
/// signup's input so ([`super::split`]).
#[cfg(feature = "split")]
pub fn detached(value: &JsValue) -> JsValue {
    copy(value, 8)
}

#[cfg(feature = "split")]
fn copy(value: &JsValue, depth: u8) -> JsValue {
    if !value.is_object() {
        return if value.is_function() {
            JsValue::UNDEFINED
        } else {
            value.clone()
        };
    }
    if depth == 0 {
        return JsValue::NULL;
    }
    let copied: Object = if Array::is_array(value) {
        let items = value.unchecked_ref::<Array>().iter();
        items
            .map(|item| copy(&item, depth - 1))
            .collect::<Array>()
            .into()
    } else {
        let object = Object::new();
        for (name, item) in properties(value).unwrap_or_default() {
            set(&object, &name, &copy(&item, depth - 1));
        }
        object
    };
    Object::set_prototype_of(&copied, JsValue::NULL.unchecked_ref());
    copied.into()
}
