//! Messages put together from pieces. Slice concatenation would do, but it carries its own
//! overflow checks and panic text into the module; this is all a message needs.

use alloc::string::String;

/// The pieces, one after the other.
pub fn cat(pieces: &[&str]) -> String {
    let mut text = String::new();
    for piece in pieces {
        text.push_str(piece);
    }
    text
}

/// `n` in decimal digits. `u64::to_string` goes through `core::fmt`, whose machinery (padding,
/// the `Formatter`, the `Display` of every integer width) costs the module about 4 KB gzip for
/// what a status code or a cookie's `Max-Age` needs.
pub fn decimal(mut n: u64) -> String {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut text = String::new();
    for &digit in &digits[start..] {
        text.push(char::from(digit));
    }
    text
}

/// `text` read as a whole number in decimal digits (an optional `+` first), as `str::parse`
/// reads it; `None` for anything else or a number past `u64`. One loop for every width: `parse`
/// is monomorphized per integer type, with its error type.
pub fn whole_number(text: &str) -> Option<u64> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for b in digits.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        // Compared, not `checked_mul`: a 64-bit multiply's overflow check needs a 128-bit multiply.
        if n > u64::MAX / 10 {
            return None;
        }
        n = (n * 10).checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Whether `c` may not stand in a key (a customer key, a sub id, a `meta` key, an event id): a
/// control character, or an invisible format character (Unicode category Cf) — the bidi
/// overrides and isolates (U+202A–U+202E, U+2066–U+2069) that reorder how a key reads
/// on screen, zero-width characters, the byte-order mark and the tag characters.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{ad}' | '\u{600}'..='\u{605}' | '\u{61c}' | '\u{6dd}' | '\u{70f}' | '\u{890}'..='\u{891}'
            | '\u{8e2}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}'
            | '\u{110bd}' | '\u{110cd}' | '\u{13430}'..='\u{1343f}' | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}' | '\u{e0001}' | '\u{e0020}'..='\u{e007f}')
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimal_writes_what_to_string_writes() {
        for n in [0, 7, 10, 404, 86_400, 1_700_000_000_123, u64::MAX] {
            assert_eq!(super::decimal(n), n.to_string());
        }
    }

    #[test]
    fn bidi_and_zero_width_characters_are_hidden() {
        for c in [
            '\u{202e}',
            '\u{2066}',
            '\u{200b}',
            '\u{feff}',
            '\u{e0041}',
            '\n',
            '\u{7f}',
        ] {
            assert!(super::is_hidden(c), "{c:?}");
        }
        for c in ['a', 'é', '中', ' ', '-', '\u{1f600}'] {
            assert!(!super::is_hidden(c), "{c:?}");
        }
    }

    #[test]
    fn whole_number_reads_what_parse_reads() {
        for text in [
            "0",
            "7",
            "+42",
            "0086400",
            "18446744073709551615",
            "18446744073709551616",
            "",
            "+",
            "-1",
            "1.5",
            " 1",
            "1e3",
            "٣",
        ] {
            assert_eq!(
                super::whole_number(text),
                text.parse::<u64>().ok(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn pieces_are_joined_in_order() {
        assert_eq!(
            super::cat(&["signup ", "e1", " delivered"]),
            "signup e1 delivered"
        );
        assert_eq!(super::cat(&[]), "");
    }
}
