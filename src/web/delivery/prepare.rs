//! A signup made ready to send: validated, given its partner, click id and event id, written as
//! the contract's JSON body, and addressed to the endpoint the page configures.

use crate::core::retry::Pending;
use crate::core::signup::{self, SignupInput, SignupResult, Status, Visit};
use crate::core::text::cat;
use crate::web::browser::{clock, page};
use crate::web::tracker::notes;
use crate::web::{tracker, values};
use alloc::string::String;

/// Validates and builds the signup, with `event_id` or a new one; `Err` is the final result
/// (rejected or skipped).
pub(super) fn prepare(
    input: Result<SignupInput, String>,
    event_id: Option<String>,
) -> Result<Pending, SignupResult> {
    let rejected = |error: String| {
        notes::warn_once(cat(&["a signup was rejected: ", &error]));
        SignupResult::new(Status::Rejected, None, Some(error))
    };
    let input = input.map_err(rejected)?;
    let (public_key, option, send_unattributed, attribution, script_src) = tracker::with(|t| {
        let config = t.config();
        (
            config.public_key.clone(),
            config.endpoint.clone(),
            config.send_unattributed,
            t.attribution().clone(),
            t.script_src().map(String::from),
        )
    });
    let attributed = attribution.partner_key.as_ref().map(|k| k.as_str());
    let partner_key = signup::partner_for(&input, attributed).map_err(|e| rejected(e.reason()))?;
    if partner_key.is_none() && !send_unattributed {
        tracker::with(|t| t.debug(&["signup skipped: no partner key (sendUnattributed is off)"]));
        return Err(SignupResult::new(Status::Skipped, None, None));
    }
    // The click id belongs to the attributed partner, not to one the signup names instead.
    let xid = attribution
        .click_id
        .as_ref()
        .filter(|_| partner_key.as_deref() == attributed)
        .map(|c| c.as_str());
    let page_url = page::href();
    let endpoint = endpoint(option.as_deref(), script_src.as_deref(), &page_url)
        .ok_or_else(|| rejected("the endpoint is not a valid URL".into()))?;
    let event_id = event_id.unwrap_or_else(|| signup::uuid_v4(clock::random_bytes()));
    let (origin, referrer) = (page::hostname(), page::referrer());
    let (user_agent, created_at) = (page::user_agent(), clock::iso_now());
    let visit = Visit {
        event_id: &event_id,
        public_key: public_key.as_deref(),
        partner_key: partner_key.as_deref(),
        xid,
        origin: &origin,
        page_url: &page_url,
        referrer: Some(referrer.as_str()).filter(|r| !r.is_empty()),
        user_agent: &user_agent,
        created_at: &created_at,
    };
    let body = signup::build(&input, &visit).map_err(|invalid| rejected(invalid.reason()))?;
    let body = values::to_json(&body)
        .ok_or_else(|| rejected("the signup could not be written as JSON".into()))?;
    let now = clock::now_ms();
    Ok(Pending {
        event_id,
        endpoint,
        body,
        created_at: now,
        attempts: 0,
        next_at: now,
    })
}

/// The endpoint as an absolute URL: the option, or `/v1/signups`, resolved against the URL the
/// script was loaded from (the page's own URL for the npm package). A relative `endpoint` thus
/// lands where the default does: `/api/signups` on the collector that serves the script.
pub fn endpoint(option: Option<&str>, script_src: Option<&str>, page_url: &str) -> Option<String> {
    let script = page::resolve_url(script_src.unwrap_or(page_url), page_url)?;
    page::resolve_url(option.unwrap_or("/v1/signups"), &script)
}

/// Where the page's set-up sends signups of `program` now: the endpoint it configures if the
/// program is the page's, `None` for another program's signup (it keeps its own).
pub(super) fn current_endpoint(program: Option<&str>) -> Option<String> {
    let (public_key, option, script_src) = tracker::with(|t| {
        let config = t.config();
        (
            config.public_key.clone(),
            config.endpoint.clone(),
            t.script_src().map(String::from),
        )
    });
    if program != public_key.as_deref() {
        return None;
    }
    endpoint(option.as_deref(), script_src.as_deref(), &page::href())
}

/// The program (`public_key`) a queued signup's body names.
pub(super) fn program_of(body: &str) -> Option<String> {
    let json = js_sys::JSON::parse(body).ok()?;
    values::property(&json, "public_key").as_string()
}
