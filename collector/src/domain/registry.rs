//! The partner registry's input: the fields `POST` and `PATCH /v1/partners/{key}` take.

use super::fields::{object, Fields};
use reftrack::core::signup::{is_email, MAX_EMAIL, MAX_FIELD};
use serde_json::Value;

/// A partner's status: `active` partners are credited, `paused` ones are not.
pub const STATUSES: [&str; 2] = ["active", "paused"];

/// Changes to a partner (`PATCH`), or the fields of a new one (`POST`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartnerFields {
    /// A new name (`Some(None)` clears it).
    pub name: Option<Option<String>>,
    /// A new email (`Some(None)` clears it).
    pub email: Option<Option<String>>,
    /// A new status.
    pub status: Option<String>,
}

/// Reads `{ name?, email?, status? }`; an empty body changes nothing. Any other field is refused,
/// so that a misspelt one is not silently ignored.
pub fn partner_fields(body: &[u8]) -> Result<PartnerFields, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(PartnerFields::default());
    }
    let map = object(body)?;
    if let Some(other) = map
        .keys()
        .find(|k| !matches!(k.as_str(), "name" | "email" | "status"))
    {
        return Err(format!(
            "{other} is not a partner field: name, email and status are"
        ));
    }
    let f = Fields(&map);
    let present = |name: &str| map.contains_key(name);
    let name = f.text("name", MAX_FIELD)?;
    let email = f.text("email", MAX_EMAIL)?;
    if email.as_deref().is_some_and(|e| !is_email(e)) {
        return Err("email is not a valid email address".into());
    }
    let status = match map.get("status") {
        None => None,
        Some(Value::String(s)) if STATUSES.contains(&s.as_str()) => Some(s.clone()),
        Some(_) => return Err("status must be \"active\" or \"paused\"".into()),
    };
    Ok(PartnerFields {
        name: present("name").then_some(name),
        email: present("email").then_some(email),
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_and_mistakes_named() {
        let f = partner_fields(br#"{"name": "Alex", "email": null, "status": "paused"}"#).unwrap();
        assert_eq!(f.name, Some(Some("Alex".into())));
        assert_eq!(f.email, Some(None));
        assert_eq!(f.status.as_deref(), Some("paused"));
        assert_eq!(partner_fields(b"").unwrap(), PartnerFields::default());
        for (body, reason) in [
            (&br#"{"status": "gone"}"#[..], "status must be"),
            (br#"{"nmae": "x"}"#, "nmae is not a partner field"),
            (br#"{"email": "nope"}"#, "email is not a valid"),
            (b"[1]", "the body must be a JSON object"),
        ] {
            let error = partner_fields(body).unwrap_err();
            assert!(error.starts_with(reason), "{error}");
        }
    }
}
