//! Extractors: what a handler asks of the request, each refusing with an [`ApiError`].

use super::error::ApiError;
use super::state::Shared;
use axum::body::{to_bytes, Bytes};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use std::net::{IpAddr, SocketAddr};

/// Largest body accepted, in bytes: a signup with every field at its limit is about 22 KiB; a
/// real one is well under 2 KiB.
pub const MAX_BODY: usize = 32 * 1024;

/// The client's address: the socket's, or behind a trusted proxy, the one it forwarded for.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// The client of a request, from its connection and headers.
    pub fn of(
        state: &Shared,
        parts_extensions: &axum::http::Extensions,
        headers: &axum::http::HeaderMap,
    ) -> ClientIp {
        let socket = parts_extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |info| info.0.ip());
        let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        ClientIp(state.proxies.client(socket, forwarded))
    }
}

impl FromRequestParts<Shared> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        Ok(ClientIp::of(state, &parts.extensions, &parts.headers))
    }
}

/// Proof that the request carried the bearer secret: only the authenticated router's layer
/// ([`super::guards::authenticated`]) makes one. A handler that takes it refuses every request
/// when it is mounted anywhere else, so a mistake in the route table fails closed.
#[derive(Debug, Clone, Copy)]
pub struct Authorized(());

impl Authorized {
    pub(super) fn granted() -> Authorized {
        Authorized(())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authorized {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match parts.extensions.get::<Authorized>() {
            Some(granted) => Ok(*granted),
            None => {
                tracing::error!(route = %parts.uri.path(), "a route that needs the token is mounted outside the authenticated router");
                Err(ApiError::unauthorized("missing or wrong bearer token"))
            }
        }
    }
}

/// Largest webhook body accepted: a Stripe event with an invoice's lines can be tens of KiB.
pub const MAX_WEBHOOK_BODY: usize = 512 * 1024;

/// Proof that the body was signed by Stripe with a `--stripe-webhook-secret`: only the webhook
/// router's layer ([`super::guards::stripe_signed`]) makes one, so a webhook handler mounted
/// anywhere else refuses everything.
#[derive(Debug, Clone)]
pub struct StripeSigned(pub Bytes);

impl<S: Send + Sync> FromRequestParts<S> for StripeSigned {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match parts.extensions.get::<StripeSigned>() {
            Some(signed) => Ok(signed.clone()),
            None => {
                tracing::error!(route = %parts.uri.path(), "a webhook route is mounted outside the webhook router");
                Err(ApiError::bad_request(
                    "the Stripe signature was not checked",
                ))
            }
        }
    }
}

/// The request body: at most [`MAX_BODY`] bytes, arrived within `--request-timeout`.
pub struct LimitedBody(pub Bytes);

impl FromRequest<Shared> for LimitedBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &Shared) -> Result<Self, ApiError> {
        let limit = state.body_timeout;
        match tokio::time::timeout(limit, to_bytes(request.into_body(), MAX_BODY)).await {
            Ok(Ok(bytes)) => Ok(LimitedBody(bytes)),
            Ok(Err(_)) => Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than {MAX_BODY} bytes"),
            )),
            Err(_) => Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!("the body did not arrive within {} s", limit.as_secs()),
            )),
        }
    }
}
