//! Signed signups: the site's server proves a customer key is its own with
//! `customer_hash = hex(HMAC-SHA256(--signup-secret, customer_key))`, the way Intercom's identity
//! verification works. The check takes the same time whatever the hash is.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a signup's `customer_hash` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signature {
    /// None was given (or the collector has no `--signup-secret` to check one with).
    Absent,
    /// It matches: the site's server signed this customer key.
    Valid,
    /// It does not match, or is not 64 hexadecimal digits.
    Wrong,
}

/// Checks `hash` (hexadecimal, either case) against `customer_key` under `secret`.
pub fn check(secret: Option<&str>, customer_key: &str, hash: Option<&str>) -> Signature {
    let (Some(secret), Some(hash)) = (secret, hash) else {
        return Signature::Absent;
    };
    let Some(bytes) = unhex(hash).filter(|b| b.len() == 32) else {
        return Signature::Wrong;
    };
    match mac(secret, customer_key).verify_slice(&bytes) {
        Ok(()) => Signature::Valid,
        Err(_) => Signature::Wrong,
    }
}

/// `hex(HMAC-SHA256(secret, customer_key))`, what the site's server computes (tests and docs).
pub fn customer_hash(secret: &str, customer_key: &str) -> String {
    mac(secret, customer_key)
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn mac(secret: &str, customer_key: &str) -> Hmac<Sha256> {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(customer_key.as_bytes());
    mac
}

/// The bytes of hexadecimal `text` (either case); `None` for anything else.
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16);
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_from_the_secret_is_valid_and_any_other_is_wrong() {
        // The reference value, as Node computes it:
        // crypto.createHmac("sha256", "s3cret").update("cus_42").digest("hex")
        let hash = customer_hash("s3cret", "cus_42");
        assert_eq!(
            hash,
            "b86817b706f20fa0967f145d55fcea0d7fc32a98596c97587a7c14052b78605f"
        );
        assert_eq!(
            check(Some("s3cret"), "cus_42", Some(&hash)),
            Signature::Valid
        );
        assert_eq!(
            check(Some("s3cret"), "cus_42", Some(&hash.to_uppercase())),
            Signature::Valid
        );
        assert_eq!(
            check(Some("s3cret"), "cus_43", Some(&hash)),
            Signature::Wrong
        );
        assert_eq!(
            check(Some("other"), "cus_42", Some(&hash)),
            Signature::Wrong
        );
        assert_eq!(
            check(Some("s3cret"), "cus_42", Some("zz")),
            Signature::Wrong
        );
        assert_eq!(check(Some("s3cret"), "cus_42", None), Signature::Absent);
        assert_eq!(check(None, "cus_42", Some(&hash)), Signature::Absent);
    }
}
