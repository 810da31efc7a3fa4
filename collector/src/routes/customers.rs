//! `POST /v1/customers`: Partnero's server-side customer create, stored as a signup credited to
//! the partner, answered in Partnero's shape.

use super::{new_event_id, save};
use crate::domain::credit::{self, Uncredited};
use crate::domain::partnero::{self, Invalid};
use crate::domain::validate::Record;
use crate::http::{ApiError, Authorized, LimitedBody, Shared};
use crate::store::{partners, Db, DbError, Saved};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// `201 {"data": …, "status": 1}`; `400` for a partner neither registered nor clicked here; `422` for what does not
/// validate and for an existing customer.
pub async fn create(
    _: Authorized,
    State(state): State<Shared>,
    LimitedBody(body): LimitedBody,
) -> Result<Response, ApiError> {
    let customer = partnero::customer(&body).map_err(|invalid| match invalid {
        Invalid::PartnerKey => ApiError::bad_request("Invalid partner key").partnero(),
        Invalid::Field(reason) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, reason).partnero()
        }
    })?;
    let program = state
        .public_keys
        .first()
        .cloned()
        .unwrap_or_else(|| "partnero".into());
    let record = partnero::record(&customer, &program, new_event_id()?);
    let data = json!({
        "key": customer.key,
        "email": customer.email,
        "name": customer.name,
        "partner": { "key": customer.partner_key },
        "options": { "referral_url": customer.referral_url },
    });
    match save(&state, record, known_partner)
        .await
        .map_err(ApiError::partnero)?
    {
        Ok((Saved::Created, _)) => Ok((
            StatusCode::CREATED,
            Json(json!({ "data": data, "status": 1 })),
        )
            .into_response()),
        // Partnero answers 422 for a customer it already has.
        Ok((Saved::Duplicate, _)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The customer already exists",
        )
        .partnero()),
        Err(_) => Err(ApiError::bad_request("Invalid partner key").partnero()),
    }
}

/// A Partnero customer credits a partner the registry has, or one with a click recorded here
/// (an anonymous claim alone makes no partner known). It is a claim the site's server confirmed.
fn known_partner(
    state: &Shared,
    db: &mut Db,
    mut record: Record,
) -> Result<Result<Record, Uncredited>, DbError> {
    let partner = record.partner_key.as_deref().unwrap_or_default();
    Ok(match partners::known(db, partner, state.registered_only)? {
        None => Err(Uncredited::UnknownPartner),
        Some(status) => {
            record.standing = credit::standing(state.policy, Some(status), true, false);
            Ok(record)
        }
    })
}
