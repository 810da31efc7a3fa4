//! Values going out (the signup body, a landing report, a `SignupResult`), as maps of one value
//! type. Every entry of every map goes through one `serialize_entry::<str, Out>`, so serde and
//! serde-wasm-bindgen compile the entry path once, not once per field type.

use alloc::string::String;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

/// One value of an outbound map.
pub enum Out<'a> {
    /// A string.
    Text(&'a str),
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A finite number.
    Number(f64),
    /// An array of strings.
    Texts(&'a [String]),
    /// An object: its entries, in order.
    Map(&'a [(&'a str, Out<'a>)]),
}

impl<'a> From<Option<&'a str>> for Out<'a> {
    fn from(text: Option<&'a str>) -> Self {
        text.map_or(Out::Null, Out::Text)
    }
}

impl Serialize for Out<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Out::Text(text) => serializer.serialize_str(text),
            Out::Null => serializer.serialize_unit(),
            Out::Bool(flag) => serializer.serialize_bool(*flag),
            Out::Number(number) => serializer.serialize_f64(*number),
            Out::Texts(texts) => serializer.collect_seq(texts.iter()),
            Out::Map(entries) => map(serializer, entries),
        }
    }
}

/// `entries` as a map (an object in JavaScript, in this order).
pub fn map<S: Serializer>(serializer: S, entries: &[(&str, Out<'_>)]) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(entries.len()))?;
    for (key, value) in entries {
        map.serialize_entry(*key, value)?;
    }
    map.end()
}
