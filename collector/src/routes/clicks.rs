//! `POST /v1/clicks`: a landing through a partner's hand-made link (`?ps_partner_key=` without a
//! click id the collector issued), reported by the SDK once per landing. Counted as a partner
//! link's click is, with the same limits; the answer is the click id the visitor carries on.

use super::links::visit;
use super::signups::unknown_program;
use crate::domain::validate;
use crate::domain::{links, MAX_TEXT};
use crate::http::{ApiError, ClientIp, LimitedBody, Shared};
use crate::store::clicks;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use reftrack::core::partner_key::PartnerKey;
use reftrack::core::signup::clip;
use serde_json::json;

/// `200 {"xid": …}`: the landing's click id (a new click, the visitor's earlier one, or, past
/// `--clicks-per-address`, its network's latest); `{"xid": null}` for a partner that may not be
/// credited. The same answer whichever it is, so it tells nothing about other visitors.
pub async fn create(
    State(state): State<Shared>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    LimitedBody(body): LimitedBody,
) -> Result<Response, ApiError> {
    let landing = validate::landing(&body).map_err(ApiError::bad_request)?;
    unknown_program(&state, &landing.public_key)?;
    let key = PartnerKey::parse(&landing.partner_key)
        .map_err(|_| ApiError::bad_request("partner_key is not a partner key"))?;
    let new_id = links::click_id()
        .map_err(|_| ApiError::unavailable("no randomness for a click id; retry later"))?;
    let page = landing.page_url.as_deref().unwrap_or_default();
    let mut click = visit(
        &state,
        &key,
        ip,
        &headers,
        clip(page, MAX_TEXT).into(),
        "visit",
    );
    click.referrer = landing.referrer;
    click.public_key = Some(landing.public_key);
    let (registered_only, per_network) = (state.registered_only, state.clicks_per_address);
    let clicked = state
        .store
        .write(move |db| clicks::counted(db, &click, &new_id, per_network, registered_only))
        .await?;
    let xid = clicked.as_ref().map(clicks::Clicked::xid);
    Ok(Json(json!({ "xid": xid })).into_response())
}

/// `OPTIONS /v1/clicks`: the browser routes' layer answers the preflight.
pub async fn preflight() {}
