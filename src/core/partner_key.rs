//! Reading a landing page's query string: which partner sent the visitor, and which click.
//!
//! Partner links carry the partner key base64-encoded (`?ps_partner_key=YWxleC1zbWl0aA`), and the
//! encoded text has been through many hands before it reaches us: link builders that use the
//! URL-safe alphabet, e-mail clients that drop padding, forms that turn `+` into a space. Decoding
//! is therefore tolerant of all of those, while validation is strict: a value that is not 1–128
//! characters of a small safe set is refused whole, so nothing partial or surprising ever reaches
//! a cookie.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

/// The longest partner key or click id accepted, in characters.
pub const MAX_LEN: usize = 128;

/// The rule of a partner key or click id, as messages on both ends state it.
pub const KEY_RULE: &str = "1-128 characters of A-Z a-z 0-9 . _ ~ @ : + -";

/// Longest base64 text that can decode to `MAX_LEN` bytes, with padding; longer text is refused
/// before decoding so a hostile URL cannot make us allocate.
const MAX_ENCODED_LEN: usize = MAX_LEN.div_ceil(3) * 4;

/// The base64 engine for partner links: the standard alphabet, padding optional, and stray bits
/// after the last byte allowed (some encoders leave them).
const TOLERANT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// Decodes base64 as links in the wild carry it, produced by many encoders: the standard or the
/// URL-safe alphabet (`-` and `_` for `+` and `/`), padding optional, stray trailing bits allowed,
/// and a space read as `+` (form decoding turns `+` into a space). The base64 crate decodes; the
/// URL-safe characters and the space are first mapped onto the standard alphabet, and the padding
/// dropped, so one engine reads every variant. `None` if it is not base64.
fn decode_base64(encoded: &str) -> Option<Vec<u8>> {
    let mut standard = Vec::new();
    for b in encoded.trim_end_matches('=').bytes() {
        standard.push(match b {
            b'-' | b' ' => b'+',
            b'_' => b'/',
            b => b,
        });
    }
    TOLERANT.decode(standard).ok()
}

/// Why a value from the URL (or a stored cookie) was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The parameter was present but empty.
    Empty,
    /// Longer than [`MAX_LEN`] characters.
    TooLong,
    /// Not valid base64 in either alphabet.
    BadBase64,
    /// Decoded to bytes that are not UTF-8 text.
    NotUtf8,
    /// Contains a character outside `A–Z a–z 0–9 . _ ~ @ : + -`.
    BadCharacter(char),
}

impl Refusal {
    /// The reason, for debug mode: "it is not valid base64".
    pub fn reason(&self) -> String {
        match self {
            Refusal::Empty => "it is empty".into(),
            Refusal::TooLong => "it is longer than 128 characters".into(),
            Refusal::BadBase64 => "it is not valid base64".into(),
            Refusal::NotUtf8 => "it does not decode to UTF-8 text".into(),
            Refusal::BadCharacter(c) if c.is_ascii_graphic() => {
                let mut reason = String::from("it contains '");
                reason.push(*c);
                reason.push('\'');
                reason
            }
            Refusal::BadCharacter(c) => {
                // Not `{c:?}` or `format!`: formatting machinery would be most of the module.
                let mut digits = Vec::new();
                let mut code = *c as u32;
                while code > 0 || digits.len() < 4 {
                    digits.push(b"0123456789ABCDEF"[(code & 0xf) as usize]);
                    code >>= 4;
                }
                let mut reason = String::from("it contains the character U+");
                reason.extend(digits.iter().rev().map(|&d| char::from(d)));
                reason
            }
        }
    }
}

/// True for the characters a partner key or click id may contain. Every one of them is a legal
/// cookie octet, which is why cookie values need no encoding.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '@' | ':' | '+' | '-')
}

/// Checks the shared rule for partner keys and click ids.
fn validate(text: &str) -> Result<(), Refusal> {
    if text.is_empty() {
        return Err(Refusal::Empty);
    }
    // Every allowed character is one byte, so a longer text is refused either way.
    if text.len() > MAX_LEN {
        return Err(Refusal::TooLong);
    }
    match text.chars().find(|&c| !is_token_char(c)) {
        Some(c) => Err(Refusal::BadCharacter(c)),
        None => Ok(()),
    }
}

/// The identifier of the partner who referred the visitor, already decoded and validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartnerKey(String);

impl PartnerKey {
    /// Accepts a plain (not encoded) key, such as a stored cookie's value or Partnero's `?aff=`.
    pub fn parse(text: &str) -> Result<Self, Refusal> {
        validate(text).map(|()| PartnerKey(text.to_owned()))
    }

    /// Accepts a base64-encoded key as it appears in a partner link, after percent-decoding.
    pub fn from_base64(encoded: &str) -> Result<Self, Refusal> {
        if encoded.is_empty() {
            return Err(Refusal::Empty);
        }
        if encoded.len() > MAX_ENCODED_LEN {
            return Err(Refusal::TooLong);
        }
        let bytes = decode_base64(encoded).ok_or(Refusal::BadBase64)?;
        let text = String::from_utf8(bytes).map_err(|_| Refusal::NotUtf8)?;
        Self::parse(&text)
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The partner program's identifier of the click that brought the visitor (`ps_xid`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClickId(String);

impl ClickId {
    /// Accepts a click id; the same character rule as partner keys applies.
    pub fn parse(text: &str) -> Result<Self, Refusal> {
        validate(text).map(|()| ClickId(text.to_owned()))
    }

    /// The click id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A value found in the URL that was refused, and the parameter it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused<'a> {
    /// The query parameter's name.
    pub param: &'a str,
    /// Why its value was refused.
    pub reason: Refusal,
}

/// Which query parameters to read; see the `partnerParams`, `rawPartnerParams` and `clickParams`
/// options.
#[derive(Clone, Copy, Debug)]
pub struct ParamNames<'a> {
    /// Parameters holding a base64 partner key, in order of preference.
    pub partner: &'a [String],
    /// Parameters holding a plain partner key, tried after `partner`.
    pub raw_partner: &'a [String],
    /// Parameters holding the click id.
    pub click: &'a [String],
}

/// What a landing URL says about attribution (borrowing the parameter names it was read with).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Landing<'a> {
    /// `None` when no partner parameter is present at all.
    pub partner: Option<Result<PartnerKey, Refused<'a>>>,
    /// The parameter the partner key was read from.
    pub partner_param: Option<&'a str>,
    /// `None` when no click parameter is present.
    pub click: Option<Result<ClickId, Refused<'a>>>,
}

impl Landing<'_> {
    /// The valid partner key this URL carries, if any.
    pub fn partner_key(&self) -> Option<&PartnerKey> {
        self.partner.as_ref().and_then(|p| p.as_ref().ok())
    }

    /// The valid click id, taken only together with a valid partner key from the same URL.
    pub fn click_id(&self) -> Option<&ClickId> {
        self.partner_key()?;
        self.click.as_ref().and_then(|c| c.as_ref().ok())
    }

    /// Every refused value, for debug reporting.
    pub fn refusals(&self) -> impl Iterator<Item = &Refused<'_>> {
        let partner = self.partner.as_ref().and_then(|p| p.as_ref().err());
        let click = self.click.as_ref().and_then(|c| c.as_ref().err());
        partner.into_iter().chain(click)
    }
}

/// Reads the landing from `param`, which gives the first value of a query parameter, decoded (as
/// `URLSearchParams.get` does; the module asks the browser's own).
pub fn read_params<'a>(
    param: &dyn Fn(&str) -> Option<String>,
    names: ParamNames<'a>,
) -> Landing<'a> {
    let refused = |param, reason| Refused { param, reason };
    // The first parameter present of each list (loops, not iterator chains: smaller).
    let (mut partner_param, mut partner) = (None, None);
    for name in names.partner {
        if let Some(value) = param(name) {
            partner = Some(PartnerKey::from_base64(&value).map_err(|r| refused(name, r)));
            partner_param = Some(name.as_str());
            break;
        }
    }
    if partner.is_none() {
        for name in names.raw_partner {
            if let Some(value) = param(name) {
                partner = Some(PartnerKey::parse(&value).map_err(|r| refused(name, r)));
                partner_param = Some(name.as_str());
                break;
            }
        }
    }
    let mut click = None;
    for name in names.click {
        if let Some(value) = param(name) {
            click = Some(ClickId::parse(&value).map_err(|r| refused(name, r)));
            break;
        }
    }
    Landing {
        partner,
        partner_param,
        click,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query string read as the browser reads it: the first value of each parameter, decoded,
    /// bytes that are not UTF-8 as U+FFFD.
    fn read_landing<'a>(query: &str, names: ParamNames<'a>) -> Landing<'a> {
        let params = QueryParams::parse(query);
        read_params(
            &|name| Some(String::from_utf8_lossy(params.get(name)?).into_owned()),
            names,
        )
    }

    /// A model of `URLSearchParams` for the tests (the module asks the browser's own): a query string
    /// split into form-decoded name/value pairs, in order. Values stay bytes because a
    /// percent-encoded value need not be UTF-8.
    struct QueryParams(Vec<(Vec<u8>, Vec<u8>)>);

    impl QueryParams {
        fn parse(query: &str) -> Self {
            let query = query.strip_prefix('?').unwrap_or(query);
            let pairs = query
                .split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (form_decode(name), form_decode(value))
                })
                .collect();
            QueryParams(pairs)
        }

        /// The first value of `name`, as `URLSearchParams.get` would return it.
        fn get(&self, name: &str) -> Option<&[u8]> {
            self.0
                .iter()
                .find(|(n, _)| n == name.as_bytes())
                .map(|(_, v)| v.as_slice())
        }
    }

    /// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte, and a malformed
    /// escape is kept as it is (as browsers do).
    fn form_decode(text: &str) -> Vec<u8> {
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(hi), Some(lo)) => {
                        out.push(hi << 4 | lo);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                },
                b => out.push(b),
            }
            i += 1;
        }
        out
    }

    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }

    /// The default parameter names, for the life of the test.
    fn names() -> ParamNames<'static> {
        let list = |names: &[&str]| -> &'static [String] {
            names
                .iter()
                .map(|&n| n.to_owned())
                .collect::<Vec<_>>()
                .leak()
        };
        ParamNames {
            partner: list(&["ps_partner_key", "gspk"]),
            raw_partner: list(&[]),
            click: list(&["ps_xid", "gsxid"]),
        }
    }

    fn landing(query: &str) -> Landing<'static> {
        read_landing(query, names())
    }

    fn key(query: &str) -> Option<String> {
        landing(query).partner_key().map(|k| k.as_str().to_owned())
    }

    fn refusal(query: &str) -> Refusal {
        match landing(query).partner {
            Some(Err(r)) => r.reason,
            other => panic!("expected a refusal for {query:?}, got {other:?}"),
        }
    }

    #[test]
    fn decodes_every_base64_variant() {
        // "alex-smith" → YWxleC1zbWl0aA== ; "a>b?" style bytes exercise + and / vs - and _.
        assert_eq!(
            key("ps_partner_key=YWxleC1zbWl0aA==").as_deref(),
            Some("alex-smith")
        );
        assert_eq!(
            key("ps_partner_key=YWxleC1zbWl0aA").as_deref(),
            Some("alex-smith")
        );
        assert_eq!(
            key("?ps_partner_key=YWxleC1zbWl0aA%3D%3D").as_deref(),
            Some("alex-smith")
        );
        assert_eq!(
            key("ps_partner_key=YWxleC1zbWl0aA%3d").as_deref(),
            Some("alex-smith")
        );
        // "~~~" encodes to "fn5+" (standard) and "fn5-" (URL-safe); form decoding turns + into a space.
        assert_eq!(key("ps_partner_key=fn5+").as_deref(), Some("~~~"));
        assert_eq!(key("ps_partner_key=fn5%2B").as_deref(), Some("~~~"));
        assert_eq!(key("ps_partner_key=fn5-").as_deref(), Some("~~~"));
        // "??~" has a `/` in standard base64: Pz9+ ; "???" → Pz8/ and Pz8_.
        assert_eq!(
            PartnerKey::from_base64("Pz8/"),
            Err(Refusal::BadCharacter('?'))
        );
        assert_eq!(
            PartnerKey::from_base64("Pz8_"),
            Err(Refusal::BadCharacter('?'))
        );
        // "a:b@c.d" → YTpiQGMuZA
        assert_eq!(key("gspk=YTpiQGMuZA").as_deref(), Some("a:b@c.d"));
    }

    #[test]
    fn first_present_param_wins() {
        assert_eq!(
            key("gspk=YWxleC1zbWl0aA&ps_partner_key=Ym9i").as_deref(),
            Some("bob")
        );
        // The first present one decides, even when it is invalid.
        assert_eq!(key("ps_partner_key=%%%&gspk=Ym9i"), None);
        // A repeated parameter: its first value, as URLSearchParams.get.
        assert_eq!(
            key("ps_partner_key=Ym9i&ps_partner_key=YWxleC1zbWl0aA").as_deref(),
            Some("bob")
        );
    }

    #[test]
    fn refuses_every_invalid_class_whole() {
        assert_eq!(refusal("ps_partner_key="), Refusal::Empty);
        assert_eq!(refusal("ps_partner_key=!!!!"), Refusal::BadBase64);
        assert_eq!(refusal("ps_partner_key=YW=xl"), Refusal::BadBase64);
        // 0xff 0xfe is not UTF-8.
        assert_eq!(refusal("ps_partner_key=//4"), Refusal::NotUtf8);
        // 129 characters.
        let long =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "a".repeat(129));
        assert_eq!(refusal(&format!("ps_partner_key={long}")), Refusal::TooLong);
        let at_limit =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "a".repeat(128));
        assert_eq!(
            key(&format!("ps_partner_key={at_limit}")),
            Some("a".repeat(128))
        );
        // "a;b=c", "a\r\nSet-Cookie: x", "<script>"
        assert_eq!(
            refusal("ps_partner_key=YTtiPWM"),
            Refusal::BadCharacter(';')
        );
        assert_eq!(
            refusal("ps_partner_key=YQ0KU2V0LUNvb2tpZTogeA"),
            Refusal::BadCharacter('\r')
        );
        assert_eq!(
            refusal("ps_partner_key=PHNjcmlwdD4"),
            Refusal::BadCharacter('<')
        );
        assert_eq!(refusal("ps_partner_key=YSBi"), Refusal::BadCharacter(' '));
        // Far too long to even decode.
        assert!(matches!(
            refusal(&format!("ps_partner_key={}", "Q".repeat(10_000))),
            Refusal::TooLong
        ));
    }

    #[test]
    fn raw_params_hold_plain_keys() {
        let raw = vec!["aff".to_string()];
        let partner = vec!["ps_partner_key".to_string()];
        let read = |q: &str| {
            read_landing(
                q,
                ParamNames {
                    partner: &partner,
                    raw_partner: &raw,
                    click: &[],
                },
            )
        };
        assert_eq!(
            read("aff=jane_doe").partner_key().unwrap().as_str(),
            "jane_doe"
        );
        // base64 params take precedence.
        assert_eq!(
            read("aff=jane&ps_partner_key=Ym9i")
                .partner_key()
                .unwrap()
                .as_str(),
            "bob"
        );
        assert_eq!(
            read("aff=a%3Bb").partner.unwrap().unwrap_err().reason,
            Refusal::BadCharacter(';')
        );
        // As URLSearchParams reads it: a replacement character, which no key may contain.
        assert_eq!(
            read("aff=%FF").partner.unwrap().unwrap_err().reason,
            Refusal::BadCharacter('\u{fffd}')
        );
    }

    #[test]
    fn click_id_only_with_a_valid_partner_key() {
        let l = landing("ps_partner_key=Ym9i&ps_xid=clk_9f8e");
        assert_eq!(l.click_id().unwrap().as_str(), "clk_9f8e");
        assert_eq!(landing("ps_xid=clk_9f8e").click_id(), None);
        assert_eq!(
            landing("ps_partner_key=!!&ps_xid=clk_9f8e").click_id(),
            None
        );
        let bad = landing("ps_partner_key=Ym9i&ps_xid=a%0Ab");
        assert_eq!(bad.click_id(), None);
        assert_eq!(bad.refusals().count(), 1);
        assert_eq!(
            landing("gsxid=old&ps_partner_key=Ym9i")
                .click_id()
                .unwrap()
                .as_str(),
            "old"
        );
    }

    #[test]
    fn form_decoding_matches_browsers() {
        assert_eq!(form_decode("a+b"), b"a b");
        assert_eq!(form_decode("%41%4a%4A"), b"AJJ");
        assert_eq!(form_decode("%"), b"%");
        assert_eq!(form_decode("%4"), b"%4");
        assert_eq!(form_decode("%zz"), b"%zz");
        assert_eq!(form_decode("100%"), b"100%");
    }
}
