//! Which partner a record credits: plain rules over what the store found, so they are tested
//! without a database.

use super::validate::Record;

/// A signup linked to the click it names: the click decides the partner (a different claimed
/// partner is kept beside it, visibly), and with `verified_clicks` a partner without a recorded
/// click is stored unverified, uncounted in the report.
pub fn signup(mut record: Record, click_partner: Option<String>, verified_clicks: bool) -> Record {
    match click_partner {
        Some(partner) => {
            if record.partner_key.as_deref() != Some(partner.as_str()) {
                record.claimed_partner_key = record.partner_key.take();
            }
            record.partner_key = Some(partner);
        }
        None if verified_clicks && record.partner_key.is_some() => record.verified = false,
        None => {}
    }
    record
}

/// A conversion credited to the partner its xid resolved to.
pub fn conversion(mut record: Record, partner: String) -> Record {
    record.body.insert(
        "partner_key".into(),
        serde_json::Value::String(partner.clone()),
    );
    record.partner_key = Some(partner);
    record
}

/// Why a record is not stored: the rule found nothing to credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uncredited {
    /// A conversion's xid names no click and no signup seen here.
    UnknownXid,
    /// A Partnero customer names a partner never seen here.
    UnknownPartner,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::validate;
    use serde_json::json;

    fn claim(partner: &str) -> Record {
        let body = json!({"event_id": "e1", "type": "signup", "public_key": "pk",
            "customer_key": "c1", "partner_key": partner, "xid": "clk_1"});
        validate::signup(body.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn the_click_decides_and_the_claim_is_kept() {
        let credited = signup(claim("mallory"), Some("alex".into()), false);
        assert_eq!(credited.partner_key.as_deref(), Some("alex"));
        assert_eq!(credited.claimed_partner_key.as_deref(), Some("mallory"));
        let same = signup(claim("alex"), Some("alex".into()), true);
        assert_eq!((same.claimed_partner_key, same.verified), (None, true));
    }

    #[test]
    fn without_a_click_verified_clicks_leave_the_claim_unverified() {
        assert!(!signup(claim("mallory"), None, true).verified);
        assert!(signup(claim("mallory"), None, false).verified);
    }
}
