//! First- and last-click rules: given what is stored and what the landing URL brings, decide what
//! to write and what to keep.

use super::cookie::{
    self, CLICK_ID_COOKIE, PARTNERO_COOKIE, PARTNERO_REFERRAL_COOKIE, PARTNER_KEY_COOKIES,
};
use super::partner_key::{ClickId, PartnerKey};

/// Which partner gets the credit when a visitor arrives through several partners' links.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// A new valid key replaces the stored one and restarts its lifetime.
    #[default]
    Last,
    /// A stored key is kept, untouched, until it expires.
    First,
}

/// The visitor's current attribution: a partner key and the click that brought it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attribution {
    /// The attributed partner.
    pub partner_key: Option<PartnerKey>,
    /// The click id that came with that partner's link.
    pub click_id: Option<ClickId>,
}

impl Attribution {
    /// Reads what earlier visits stored, from a `document.cookie` string. A stored value that is
    /// not valid (written by something else, or tampered with) counts as absent.
    pub fn from_cookies(cookies: &str) -> Self {
        // Partnero's cookie after reftrack's: a key an earlier Partnero-mode visit stored still
        // counts; and Partnero's refer-a-friend cookie last, when no partner cookie is there.
        let [first, second] = PARTNER_KEY_COOKIES;
        let mut partner_key = None;
        for name in [first, second, PARTNERO_COOKIE, PARTNERO_REFERRAL_COOKIE] {
            partner_key =
                cookie::get(cookies, name).and_then(|value| PartnerKey::parse(value).ok());
            if partner_key.is_some() {
                break;
            }
        }
        let click_id = partner_key
            .as_ref()
            .and(cookie::get(cookies, CLICK_ID_COOKIE))
            .and_then(|value| ClickId::parse(value).ok());
        Attribution {
            partner_key,
            click_id,
        }
    }
}

/// What the SDK reports to the collector's `POST /v1/clicks` for a landing through a partner's
/// hand-made link (a partner key in the URL, no click id the collector issued): the collector
/// counts it as a click and answers the click id the visitor carries on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LandingReport {
    /// The program.
    pub public_key: String,
    /// The partner the link named.
    pub partner_key: String,
    /// The page landed on.
    pub page_url: String,
    /// The page's referrer, `None` when empty.
    pub referrer: Option<String>,
}

/// A map of its fields, as the signup body is.
impl serde::Serialize for LandingReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use super::out::{map, Out};
        map(
            serializer,
            &[
                ("public_key", Out::Text(&self.public_key)),
                ("partner_key", Out::Text(&self.partner_key)),
                ("page_url", Out::Text(&self.page_url)),
                ("referrer", self.referrer.as_deref().into()),
            ],
        )
    }
}

/// The collector's route for landings, next to its signup route: `…/v1/signups` → `…/v1/clicks`.
/// `None` for an endpoint of another shape (a proxy of the site's own), where no landing is sent.
pub fn clicks_url(signups_url: &str) -> Option<alloc::string::String> {
    let base = signups_url.strip_suffix("/v1/signups")?;
    Some(super::text::cat(&[base, "/v1/clicks"]))
}

/// What to do with the stored attribution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The URL brings no valid partner key: keep what is stored.
    NothingNew,
    /// First-click mode and a key is already stored: keep it, lifetime untouched.
    KeepFirst,
    /// The URL's click is the one already stored, with the same partner: that click was written
    /// already, perhaps by the partner link's redirect, whose server-set cookies outlive
    /// script-set ones in Safari. Leave the cookies as they are.
    SameClick,
    /// Store this attribution (restarting its lifetime); a `None` click id removes the stored one.
    Write(Attribution),
}

/// Applies `mode` to what is `stored` and what the landing URL carries.
pub fn decide(
    mode: Mode,
    stored: &Attribution,
    landing_key: Option<&PartnerKey>,
    landing_click: Option<&ClickId>,
) -> Decision {
    let Some(key) = landing_key else {
        return Decision::NothingNew;
    };
    if mode == Mode::First && stored.partner_key.is_some() {
        return Decision::KeepFirst;
    }
    if landing_click.is_some()
        && stored.partner_key.as_ref() == Some(key)
        && stored.click_id.as_ref() == landing_click
    {
        return Decision::SameClick;
    }
    Decision::Write(Attribution {
        partner_key: Some(key.clone()),
        click_id: landing_click.cloned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> PartnerKey {
        PartnerKey::parse(s).unwrap()
    }
    fn click(s: &str) -> ClickId {
        ClickId::parse(s).unwrap()
    }
    fn stored(k: &str, c: Option<&str>) -> Attribution {
        Attribution {
            partner_key: Some(key(k)),
            click_id: c.map(click),
        }
    }

    #[test]
    fn the_same_click_again_leaves_the_cookies_alone() {
        let key = PartnerKey::parse("alex").unwrap();
        let click = ClickId::parse("clk_1").unwrap();
        let stored = Attribution {
            partner_key: Some(key.clone()),
            click_id: Some(click.clone()),
        };
        assert_eq!(
            decide(Mode::Last, &stored, Some(&key), Some(&click)),
            Decision::SameClick
        );
        // A new click of the same partner is written (and restarts the lifetime).
        let new_click = ClickId::parse("clk_2").unwrap();
        assert!(matches!(
            decide(Mode::Last, &stored, Some(&key), Some(&new_click)),
            Decision::Write(_)
        ));
        // The same partner without a click id in the URL is written too (the click id removed).
        assert!(matches!(
            decide(Mode::Last, &stored, Some(&key), None),
            Decision::Write(_)
        ));
    }

    #[test]
    fn partneros_referral_cookie_counts_only_without_a_partner_cookie() {
        let referral = Attribution::from_cookies("partnero_referral=friend_7; ps_xid=clk_1");
        assert_eq!(referral.partner_key.unwrap().as_str(), "friend_7");
        let both = Attribution::from_cookies("partnero_referral=friend_7; ps_partner_key=alex");
        assert_eq!(both.partner_key.unwrap().as_str(), "alex");
        assert_eq!(
            Attribution::from_cookies("partnero_referral=a%3Bb").partner_key,
            None
        );
    }

    #[test]
    fn last_click_replaces_and_drops_a_stale_click_id() {
        let old = stored("alice", Some("clk_old"));
        assert_eq!(
            decide(Mode::Last, &old, Some(&key("bob")), Some(&click("clk_new"))),
            Decision::Write(stored("bob", Some("clk_new")))
        );
        assert_eq!(
            decide(Mode::Last, &old, Some(&key("bob")), None),
            Decision::Write(stored("bob", None))
        );
        // The same partner again restarts the lifetime.
        assert_eq!(
            decide(Mode::Last, &old, Some(&key("alice")), None),
            Decision::Write(stored("alice", None))
        );
    }

    #[test]
    fn first_click_keeps_what_is_stored() {
        let old = stored("alice", Some("clk_old"));
        assert_eq!(
            decide(Mode::First, &old, Some(&key("bob")), Some(&click("x"))),
            Decision::KeepFirst
        );
        assert_eq!(
            decide(
                Mode::First,
                &Attribution::default(),
                Some(&key("bob")),
                None
            ),
            Decision::Write(stored("bob", None))
        );
    }

    #[test]
    fn no_key_in_the_url_changes_nothing() {
        for mode in [Mode::First, Mode::Last] {
            assert_eq!(
                decide(mode, &stored("alice", None), None, Some(&click("x"))),
                Decision::NothingNew
            );
        }
    }

    #[test]
    fn stored_values_are_validated_on_read() {
        assert_eq!(
            Attribution::from_cookies("growSumoPartnerKey=alice; ps_xid=clk_1"),
            stored("alice", Some("clk_1"))
        );
        assert_eq!(
            Attribution::from_cookies("growSumoPartnerKey=a<b; ps_partner_key=bob"),
            stored("bob", None)
        );
        assert_eq!(
            Attribution::from_cookies("ps_xid=clk_1"),
            Attribution::default()
        );
        assert_eq!(
            Attribution::from_cookies("ps_partner_key=bob; ps_xid=a\"b"),
            stored("bob", None)
        );
    }

    #[test]
    fn landings_go_beside_the_signup_route() {
        assert_eq!(
            clicks_url("https://c.acme.test/v1/signups").as_deref(),
            Some("https://c.acme.test/v1/clicks")
        );
        assert_eq!(clicks_url("https://www.acme.test/api/reftrack"), None);
    }
}
