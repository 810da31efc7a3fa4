//! `--import-xids FILE`: click ids issued elsewhere (PartnerStack's, before a move), one per line
//! as `xid,partner_key,clicked_at`, so that conversions and signups naming them are credited.

use super::fields::is_token;
use super::time::{iso8601, parse_iso8601};
use reftrack::core::partner_key::{KEY_RULE, MAX_LEN};
use std::time::{Duration, UNIX_EPOCH};

/// One imported click id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedXid {
    /// The click id.
    pub xid: String,
    /// The partner it credits.
    pub partner_key: String,
    /// When it was clicked, in ms since the epoch.
    pub at_ms: i64,
    /// The same, as ISO 8601 text.
    pub at: String,
}

/// Reads one line of the file. A header line (`xid,partner_key,clicked_at`) and blank lines are
/// `Ok(None)`; a line that is not a click id is `Err` with why.
pub fn xid_line(line: &str) -> Result<Option<ImportedXid>, String> {
    let line = line.trim();
    if line.is_empty() || line.eq_ignore_ascii_case("xid,partner_key,clicked_at") {
        return Ok(None);
    }
    let fields: Vec<&str> = line
        .split(',')
        .map(|f| f.trim().trim_matches('"'))
        .collect();
    let [xid, partner_key, clicked_at] = fields[..] else {
        return Err("expected three fields: xid,partner_key,clicked_at".into());
    };
    for (name, value) in [("xid", xid), ("partner_key", partner_key)] {
        if value.is_empty() || value.len() > MAX_LEN || !is_token(value) {
            return Err(format!("{name} must be {KEY_RULE}"));
        }
    }
    let at_ms = parse_iso8601(clicked_at)
        .ok_or("clicked_at must be a UTC time: 2026-11-22T10:00:00Z or 2026-11-22")?;
    Ok(Some(ImportedXid {
        xid: xid.to_owned(),
        partner_key: partner_key.to_owned(),
        at_ms,
        at: iso8601(UNIX_EPOCH + Duration::from_millis(at_ms.max(0) as u64)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_or_explained() {
        assert_eq!(xid_line("xid,partner_key,clicked_at"), Ok(None));
        assert_eq!(xid_line("  "), Ok(None));
        let x = xid_line("PS_legacy_1,alex-smith,2026-11-22T10:00:00Z")
            .unwrap()
            .unwrap();
        assert_eq!(
            (x.xid.as_str(), x.partner_key.as_str(), x.at.as_str()),
            ("PS_legacy_1", "alex-smith", "2026-11-22T10:00:00.000Z")
        );
        assert!(xid_line("a,b").unwrap_err().starts_with("expected three"));
        assert!(xid_line("a b,c,2026-01-01")
            .unwrap_err()
            .starts_with("xid must be"));
        assert!(xid_line("a,c,yesterday")
            .unwrap_err()
            .starts_with("clicked_at"));
    }
}
