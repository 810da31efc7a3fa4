//! Who is credited for a customer: decided from all of the customer's claims by one rule, so that
//! no single anonymous request can take a partner's credit by arriving first.
//!
//! A browser signup is a *claim* that a partner brought a customer. Every claim is kept. Each has
//! a [`Standing`], fixed when it is stored from what backs it, and the rule is:
//!
//! 1. a claim confirmed by the site's own server (a valid `customer_hash`, or Partnero's
//!    authenticated customer API) beats one that is not;
//! 2. a claim backed by a click the collector recorded for that partner beats an unbacked one;
//! 3. among equals, the earliest claim wins.
//!
//! Claims that may not credit at all (no partner, an unsigned claim under
//! `--require-signed-signups`, an unbacked one under `--verified-clicks`, a paused or, with
//! `--registered-partners-only`, unregistered partner) are kept and listed with why. A customer
//! whose claims name different partners is *contested*.

pub use super::standing::Standing;
use super::validate::Record;

/// The collector's settings that decide a claim's standing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// `--verified-clicks`.
    pub verified_clicks: bool,
    /// `--require-signed-signups`.
    pub require_signed: bool,
}

/// What the store knows of a claim's partner when the claim arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartnerStatus {
    /// Active (registered, or created on first use without `--registered-partners-only`).
    Creditable,
    /// Paused, or unregistered under `--registered-partners-only`.
    NotCreditable,
}

/// A claim's standing: from whether the site's server confirmed it, whether a recorded click of
/// its partner backs it, and whether its partner may be credited.
pub fn standing(
    policy: Policy,
    partner: Option<PartnerStatus>,
    confirmed: bool,
    clicked: bool,
) -> Standing {
    match partner {
        None | Some(PartnerStatus::NotCreditable) => Standing::Unattributed,
        Some(PartnerStatus::Creditable) if confirmed => Standing::Confirmed,
        Some(PartnerStatus::Creditable) if policy.require_signed => Standing::Unsigned,
        Some(PartnerStatus::Creditable) if clicked => Standing::Clicked,
        Some(PartnerStatus::Creditable) if policy.verified_clicks => Standing::Unverified,
        Some(PartnerStatus::Creditable) => Standing::Claimed,
    }
}

/// One stored claim, as the rule sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The record's id: a later claim has a larger one.
    pub id: i64,
    /// The partner it would credit.
    pub partner_key: Option<String>,
    /// What backs it.
    pub standing: Standing,
}

/// The rule's answer for one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credit {
    /// The credited claim's id, `None` when no claim may credit.
    pub claim: Option<i64>,
    /// The partner credited.
    pub partner_key: Option<String>,
    /// The credited claim's standing (the reason it won).
    pub standing: Standing,
    /// Whether the claims name more than one partner.
    pub contested: bool,
}

/// Decides who is credited for a customer from all of its claims (see the module's rule).
pub fn decide(claims: &[Claim]) -> Credit {
    let winner = claims
        .iter()
        .filter(|c| c.standing.credits() && c.partner_key.is_some())
        .max_by(|a, b| a.standing.cmp(&b.standing).then(b.id.cmp(&a.id)));
    let mut named = claims.iter().filter_map(|c| c.partner_key.as_deref());
    let first = named.next();
    let contested = named.any(|p| Some(p) != first);
    Credit {
        claim: winner.map(|c| c.id),
        partner_key: winner.and_then(|c| c.partner_key.clone()),
        standing: winner.map_or(Standing::Unattributed, |c| c.standing),
        contested,
    }
}

/// Why the listing shows a claim as credited or not, given the customer's [`Credit`].
pub fn explain(claim_id: i64, standing: Standing, credit: &Credit) -> String {
    if credit.claim == Some(claim_id) {
        return format!("credited: {}", credit.standing.reason());
    }
    if !standing.credits() {
        return format!("not credited: {}", standing.reason());
    }
    match credit.claim {
        Some(_) if credit.standing > standing => format!(
            "not credited: another claim ranks higher ({})",
            credit.standing.reason()
        ),
        Some(_) => "not credited: an earlier claim of the same standing was first".into(),
        None => "not credited".into(),
    }
}

/// A signup linked to the click it names: the click decides the partner (a different claimed
/// partner is kept beside it, visibly). Answers whether a recorded click backs the claim.
pub fn through_click(record: &mut Record, click_partner: Option<String>) -> bool {
    let Some(partner) = click_partner else {
        return false;
    };
    if record.partner_key.as_deref() != Some(partner.as_str()) {
        record.claimed_partner_key = record.partner_key.take();
    }
    record.partner_key = Some(partner);
    true
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
    /// A conversion's xid names no click the collector issued or was given.
    UnknownXid,
    /// A Partnero customer names a partner neither registered nor clicked here.
    UnknownPartner,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::validate;
    use serde_json::json;
    use Standing::*;

    fn claim(id: i64, partner: &str, standing: Standing) -> Claim {
        Claim {
            id,
            partner_key: (!partner.is_empty()).then(|| partner.to_owned()),
            standing,
        }
    }

    #[test]
    fn the_rule_as_a_table() {
        // (claims in arrival order, the partner credited, its standing, contested)
        let table: Vec<(Vec<Claim>, Option<&str>, Standing, bool)> = vec![
            (
                vec![claim(1, "alex", Claimed)],
                Some("alex"),
                Claimed,
                false,
            ),
            // First come no longer wins: a confirmed claim beats an earlier browser claim ...
            (
                vec![claim(1, "mallory", Clicked), claim(2, "alex", Confirmed)],
                Some("alex"),
                Confirmed,
                true,
            ),
            // ... and a click-backed claim beats an earlier unbacked one.
            (
                vec![claim(1, "mallory", Claimed), claim(2, "alex", Clicked)],
                Some("alex"),
                Clicked,
                true,
            ),
            // Among equals, the earliest wins.
            (
                vec![claim(1, "alex", Clicked), claim(2, "mallory", Clicked)],
                Some("alex"),
                Clicked,
                true,
            ),
            (
                vec![claim(5, "alex", Confirmed), claim(3, "sam", Confirmed)],
                Some("sam"),
                Confirmed,
                true,
            ),
            // Claims that may not credit never do, but still make a customer contested.
            (
                vec![claim(1, "mallory", Unsigned), claim(2, "alex", Confirmed)],
                Some("alex"),
                Confirmed,
                true,
            ),
            (
                vec![claim(1, "mallory", Unverified)],
                None,
                Unattributed,
                false,
            ),
            (vec![claim(1, "", Unattributed)], None, Unattributed, false),
            // The same partner claimed twice is not contested; the earlier claim is credited.
            (
                vec![claim(1, "alex", Claimed), claim(2, "alex", Claimed)],
                Some("alex"),
                Claimed,
                false,
            ),
            (vec![], None, Unattributed, false),
        ];
        for (claims, partner, standing, contested) in table {
            let credit = decide(&claims);
            assert_eq!(
                (
                    credit.partner_key.as_deref(),
                    credit.standing,
                    credit.contested
                ),
                (partner, standing, contested),
                "{claims:?}"
            );
        }
        let credit = decide(&[claim(1, "alex", Clicked), claim(2, "alex", Claimed)]);
        assert_eq!(credit.claim, Some(1));
    }

    #[test]
    fn a_claims_standing_follows_the_policy() {
        let open = Policy::default();
        let strict = Policy {
            verified_clicks: true,
            require_signed: true,
        };
        let ok = Some(PartnerStatus::Creditable);
        assert_eq!(standing(open, ok, false, false), Claimed);
        assert_eq!(standing(open, ok, false, true), Clicked);
        assert_eq!(standing(open, ok, true, false), Confirmed);
        assert_eq!(standing(open, None, true, true), Unattributed);
        assert_eq!(
            standing(open, Some(PartnerStatus::NotCreditable), true, true),
            Unattributed
        );
        assert_eq!(standing(strict, ok, false, true), Unsigned);
        assert_eq!(standing(strict, ok, true, false), Confirmed);
        let clicks_only = Policy {
            verified_clicks: true,
            require_signed: false,
        };
        assert_eq!(standing(clicks_only, ok, false, false), Unverified);
        assert_eq!(standing(clicks_only, ok, false, true), Clicked);
        for s in [
            Unattributed,
            Unsigned,
            Unverified,
            Claimed,
            Clicked,
            Confirmed,
        ] {
            assert_eq!(Standing::parse(s.as_str()), s);
        }
    }

    #[test]
    fn each_claim_is_explained() {
        let claims = [claim(1, "mallory", Claimed), claim(2, "alex", Clicked)];
        let credit = decide(&claims);
        assert_eq!(
            explain(2, Clicked, &credit),
            "credited: backed by a click recorded for the partner"
        );
        assert_eq!(
            explain(1, Claimed, &credit),
            "not credited: another claim ranks higher (backed by a click recorded for the partner)"
        );
        assert_eq!(
            explain(3, Unsigned, &credit),
            "not credited: not signed, and --require-signed-signups is on"
        );
    }

    #[test]
    fn the_click_decides_and_the_claim_is_kept() {
        let body = json!({"event_id": "e1", "type": "signup", "public_key": "pk",
            "customer_key": "c1", "partner_key": "mallory", "xid": "clk_1"});
        let mut record = validate::signup(body.to_string().as_bytes()).unwrap();
        assert!(through_click(&mut record, Some("alex".into())));
        assert_eq!(record.partner_key.as_deref(), Some("alex"));
        assert_eq!(record.claimed_partner_key.as_deref(), Some("mallory"));
        assert!(!through_click(&mut record, None));
    }
}
