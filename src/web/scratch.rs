//! JavaScript values, handed over by the skin as flat entries: `put(slot, tag + name, text)` for
//! each property of an options object, a signup's fields, or its `meta`. The module reads them as
//! core [`Value`]s, so no JavaScript object handling is compiled into it.

use super::cell::Global;
use crate::core::config::{Source, SourceKind, Value};
use alloc::string::String;
use alloc::vec::Vec;
use wasm_bindgen::prelude::*;

/// Where entries are put; the numbers are js/host.js's `CALL`, `GLOBAL`, ... constants.
#[derive(Clone, Copy)]
pub enum Slot {
    /// The options of an `init()` / `growsumo._initialize()` call.
    Call = 0,
    /// `window.reftrackConfig`.
    Global = 1,
    /// The script tag's `data-*` attributes.
    Attributes = 2,
    /// A signup's fields.
    Fields = 3,
    /// A signup's `meta`.
    Meta = 4,
}

static SLOTS: Global<[Vec<(String, Value)>; 5]> = Global::empty();

/// Adds an entry to `slot`. `tagged` is the entry's name after a one-letter tag saying what `text`
/// is: `s` a string, `n` a number as JavaScript wrote it, `b` a boolean (`"true"`/`"false"`), `a`
/// an (empty) array whose string items follow as `l` entries, `z` `null`/`undefined`, `o` anything
/// else (`text` describes it, for warnings). One string for both keeps the glue small.
#[wasm_bindgen]
pub fn put(slot: u8, tagged: &str, text: String) {
    let (Some(&tag), Some(name)) = (tagged.as_bytes().first(), tagged.get(1..)) else {
        return;
    };
    SLOTS.with(|slots| {
        let Some(entries) = slots.get_mut(usize::from(slot)) else {
            return;
        };
        let value = match tag {
            b's' => Value::Text(text),
            b'n' => Value::Number(text),
            b'b' => Value::Bool(text == "true"),
            b'a' => Value::List(Vec::new()),
            b'l' => {
                if let Some((_, Value::List(items))) = entries.last_mut() {
                    items.push(text);
                }
                return;
            }
            b'z' => Value::Null,
            _ => Value::Other(text),
        };
        entries.push((String::from(name), value));
    })
}

/// Takes (and clears) the entries of `slot`.
pub fn take(slot: Slot) -> Vec<(String, Value)> {
    SLOTS.with(|slots| core::mem::take(&mut slots[slot as usize]))
}

/// Takes the entries of `slot` as an options source.
pub fn source(slot: Slot, kind: SourceKind) -> Source {
    let mut source = Source::new(kind);
    for (name, value) in take(slot) {
        source.set(&name, value);
    }
    source
}
