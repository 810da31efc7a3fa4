//! Just enough JSON for reftrack: writing the signup body (objects, arrays, escaped strings, and
//! numbers passed through as the text JavaScript wrote them, so no float formatting is compiled
//! in) and reading back the retry queue it stored (an array of flat objects of strings and whole
//! numbers).

use alloc::string::String;
use alloc::vec::Vec;

/// Appends `text` as a JSON string literal.
pub fn string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 0xf] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `n` in decimal.
pub fn number(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(d as char);
    }
}

/// A value of a flat record: a string or a whole number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scalar {
    /// A string.
    Text(String),
    /// A whole number from 0 to 2^64 - 1.
    Number(u64),
}

/// Reads `[{"key": "text" | 123, ...}, ...]`. `None` for anything else (other JSON included):
/// what reads it treats that as nothing stored.
pub fn records(text: &str) -> Option<Vec<Vec<(String, Scalar)>>> {
    let mut reader = Reader {
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut records = Vec::new();
    reader.expect(b'[')?;
    if !reader.eat(b']') {
        loop {
            reader.expect(b'{')?;
            let mut record = Vec::new();
            if !reader.eat(b'}') {
                loop {
                    let key = reader.string()?;
                    reader.expect(b':')?;
                    let value = match reader.peek()? {
                        b'"' => Scalar::Text(reader.string()?),
                        _ => Scalar::Number(reader.number()?),
                    };
                    record.push((key, value));
                    if reader.eat(b'}') {
                        break;
                    }
                    reader.expect(b',')?;
                }
            }
            records.push(record);
            if reader.eat(b']') {
                break;
            }
            reader.expect(b',')?;
        }
    }
    (reader.peek().is_none()).then_some(records)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    /// The next byte after white space, not consumed.
    fn peek(&mut self) -> Option<u8> {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.at += usize::from(found);
        found
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    fn next(&mut self) -> Option<u8> {
        let byte = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(byte)
    }

    fn number(&mut self) -> Option<u64> {
        self.peek()?;
        let mut n: u64 = 0;
        let start = self.at;
        while let Some(d @ b'0'..=b'9') = self.bytes.get(self.at).copied() {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            self.at += 1;
        }
        (self.at > start).then_some(n)
    }

    fn hex4(&mut self) -> Option<u32> {
        let mut n = 0;
        for _ in 0..4 {
            n = n * 16 + char::from(self.next()?).to_digit(16)?;
        }
        Some(n)
    }

    fn string(&mut self) -> Option<String> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            let byte = match self.next()? {
                b'"' => break,
                b'\\' => match self.next()? {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 8,
                    b'f' => 12,
                    b'u' => {
                        let mut code = self.hex4()?;
                        if (0xd800..0xdc00).contains(&code) {
                            // A surrogate pair: \uD83D\uDE00.
                            if self.next()? != b'\\' || self.next()? != b'u' {
                                return None;
                            }
                            let low = self.hex4()?;
                            code = 0x10000 + ((code - 0xd800) << 10) + low.checked_sub(0xdc00)?;
                        }
                        let mut buffer = [0; 4];
                        out.extend_from_slice(
                            char::from_u32(code)?.encode_utf8(&mut buffer).as_bytes(),
                        );
                        continue;
                    }
                    escaped => escaped, // " \\ /
                },
                byte => byte,
            };
            out.push(byte);
        }
        String::from_utf8(out).ok()
    }
}

/// A JSON object being written: `{"a":1,"b":"x"}`.
pub struct Object<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> Object<'a> {
    /// Opens an object.
    pub fn new(out: &'a mut String) -> Self {
        out.push('{');
        Object { out, empty: true }
    }

    fn key(&mut self, key: &str) -> &mut String {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        string(self.out, key);
        self.out.push(':');
        self.out
    }

    /// `"key":"value"`.
    pub fn text(&mut self, key: &str, value: &str) -> &mut Self {
        let out = self.key(key);
        string(out, value);
        self
    }

    /// `"key":"value"` or `"key":null`.
    pub fn optional(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.text(key, value),
            None => self.raw(key, "null"),
        }
    }

    /// `"key":<raw JSON>`: the caller vouches for `json`.
    pub fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        self.key(key).push_str(json);
        self
    }

    /// `"key":123`.
    pub fn number(&mut self, key: &str, value: u64) -> &mut Self {
        number(self.key(key), value);
        self
    }

    /// `"key":["a","b"]`.
    pub fn texts(&mut self, key: &str, values: &[String]) -> &mut Self {
        let out = self.key(key);
        out.push('[');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            string(out, value);
        }
        out.push(']');
        self
    }

    /// Closes the object.
    pub fn close(&mut self) {
        self.out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_json_requires() {
        let mut out = String::new();
        string(&mut out, "a\"b\\c\nd\u{1}é\u{2028}");
        assert_eq!(out, "\"a\\\"b\\\\c\\nd\\u0001é\u{2028}\"");
        let parsed: String = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed, "a\"b\\c\nd\u{1}é\u{2028}");
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0, 7, 10, 1_700_000_000_000, u64::MAX] {
            let mut out = String::new();
            number(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }

    #[test]
    fn records_read_back_what_was_written_and_nothing_else() {
        let mut out = String::from("[");
        Object::new(&mut out)
            .text("body", "{\"a\":\"\\u00e9\\n\"}\u{1}é😀")
            .number("at", 1_700_000_000_123)
            .close();
        out.push(']');
        assert_eq!(
            records(&out).unwrap(),
            [vec![
                (
                    "body".into(),
                    Scalar::Text("{\"a\":\"\\u00e9\\n\"}\u{1}é😀".into())
                ),
                ("at".into(), Scalar::Number(1_700_000_000_123)),
            ]]
        );
        // What JSON.stringify writes reads the same: escapes, surrogate pairs, white space.
        let js = r#" [ {"s":"\u00e9\ud83d\ude00\/\"","n":0} , {} ] "#;
        assert_eq!(
            records(js).unwrap(),
            [
                vec![
                    ("s".into(), Scalar::Text("é😀/\"".into())),
                    ("n".into(), Scalar::Number(0))
                ],
                vec![]
            ]
        );
        assert_eq!(records("[]").unwrap(), Vec::<Vec<_>>::new());
        for bad in [
            "",
            "{}",
            "[1]",
            "[{\"a\":1.5}]",
            "[{\"a\":-1}]",
            "[{\"a\":\"x}]",
            "[{}] x",
            "[{\"a\":\"\\ud83d\"}]",
        ] {
            assert_eq!(records(bad), None, "{bad}");
        }
    }

    #[test]
    fn objects_nest_values() {
        let mut out = String::new();
        Object::new(&mut out)
            .text("a", "x")
            .optional("b", None)
            .raw("c", "1.5")
            .texts("d", &["p".into(), "q".into()])
            .close();
        assert_eq!(out, r#"{"a":"x","b":null,"c":1.5,"d":["p","q"]}"#);
    }
}
