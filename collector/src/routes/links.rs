//! `GET /r/{partner_key}?to=`: a partner link. Records a click and sends the visitor to the site
//! with the partner key and the click id in the URL (and, with `--cookie-domain`, in first-party
//! cookies).

use crate::domain::links;
use crate::domain::MAX_TEXT;
use crate::http::{ApiError, ClientIp, Shared};
use crate::store::clicks::{self, Click};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use reftrack::core::cookie::{self, Attributes, CLICK_ID_COOKIE, PARTNER_KEY_COOKIES};
use reftrack::core::partner_key::PartnerKey;
use reftrack::core::signup::clip;
use std::collections::HashMap;
use url::Url;

/// Longest user agent a click row keeps.
const MAX_USER_AGENT: usize = 512;

/// `302` to the landing. A link whose key is malformed, paused, or (with
/// `--registered-partners-only`) unregistered still leads the visitor to the site, without
/// attribution, and is logged. A `to` off the site is `400`: the link's maker sees it at once.
pub async fn follow(
    State(state): State<Shared>,
    Path(partner_key): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let destination = links::destination(
        query.get("to").map(String::as_str),
        state.site_url.as_ref(),
        &state.allow_origins,
    )
    .map_err(ApiError::bad_request)?;
    let Ok(key) = PartnerKey::parse(&partner_key) else {
        let reason = "the partner key is not valid";
        return Ok(unattributed(&state, ip, &destination, reason));
    };
    let new_id = links::click_id()
        .map_err(|_| ApiError::unavailable("no randomness for a click id; retry later"))?;
    let click = visit(&state, &key, ip, &headers, destination.to_string(), "link");
    let (registered_only, per_network) = (state.registered_only, state.clicks_per_address);
    let clicked = state
        .store
        .write(move |db| clicks::counted(db, &click, &new_id, per_network, registered_only))
        .await?;
    let Some(clicked) = clicked else {
        let reason = "the partner is paused or not registered";
        return Ok(unattributed(&state, ip, &destination, reason));
    };
    let xid = clicked.xid().to_owned();
    let landing = links::landing(&destination, key.as_str(), &xid);
    let mut response = Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, landing.as_str())
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::empty())
        .unwrap_or_default();
    if let Some(domain) = &state.cookie_domain {
        // The SDK's own attributes, set by the response of a top-level navigation from the site's
        // own domain: the cookies Safari does not cap at 7 days.
        let attributes = Attributes {
            max_age: state.cookie_days * 86_400,
            domain: Some(domain.clone()),
            secure: destination.scheme() == "https",
        };
        let cookies = PARTNER_KEY_COOKIES
            .iter()
            .map(|name| (*name, key.as_str()))
            .chain([(CLICK_ID_COOKIE, xid.as_str())]);
        for (name, value) in cookies {
            if let Ok(value) = HeaderValue::from_str(&cookie::set_cookie(name, value, &attributes))
            {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
    }
    Ok(response)
}

/// A click or landing of `key`'s partner by the visitor at `ip`, to `destination`, now.
pub(super) fn visit(
    state: &Shared,
    key: &PartnerKey,
    ip: std::net::IpAddr,
    headers: &HeaderMap,
    destination: String,
    source: &'static str,
) -> Click {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    Click {
        partner_key: key.as_str().to_owned(),
        destination,
        referrer: header(header::REFERER).map(|r| clip(r, MAX_TEXT).to_owned()),
        user_agent: clip(
            header(header::USER_AGENT).unwrap_or_default(),
            MAX_USER_AGENT,
        )
        .to_owned(),
        ip_prefix: links::ip_prefix(ip),
        at_ms: state.now_ms(),
        at: state.now_iso(),
        source,
        public_key: None,
    }
}

/// The visitor goes on to `to` without attribution, and the log says why (at most a line per
/// address and second, as for refusals).
fn unattributed(state: &Shared, ip: std::net::IpAddr, to: &Url, reason: &str) -> Response {
    let second = u64::try_from(state.now_ms() / 1000).unwrap_or(0);
    if let Some(held_back) = state.refusals.admit(302, "/r/{partner_key}", ip, second) {
        tracing::warn!(
            route = "/r/{partner_key}",
            reason,
            held_back,
            "partner link followed without attribution"
        );
    }
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, to.as_str())
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::empty())
        .unwrap_or_default()
}
