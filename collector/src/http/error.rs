//! `ApiError`: every refusal the collector gives, with its status and reason, in the shape the
//! route's clients read — reftrack's `{"error": …}` or Partnero's `{"message": …, "status": 0}`.

use crate::store::DbError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// How a refusal's body is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `{"error": reason}`.
    Reftrack,
    /// `{"message": reason, "status": 0}`, as Partnero's API answers.
    Partnero,
}

/// A refusal: its status, reason and shape, and what it asks of the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The status.
    pub status: StatusCode,
    /// What is wrong, for a developer to act on.
    pub reason: String,
    shape: Shape,
    retry_after: Option<u64>,
    challenge: bool,
    field: Option<&'static str>,
    detail: Option<serde_json::Value>,
}

/// The reason of a refusal, kept on the response for the log line.
#[derive(Clone)]
pub struct Reason(pub String);

impl ApiError {
    /// A refusal in reftrack's shape.
    pub fn new(status: StatusCode, reason: impl Into<String>) -> ApiError {
        ApiError {
            status,
            reason: reason.into(),
            shape: Shape::Reftrack,
            retry_after: None,
            challenge: false,
            field: None,
            detail: None,
        }
    }

    /// `400`.
    pub fn bad_request(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, reason)
    }

    /// `422` naming the field that does not validate: `{"error", "field"}`.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> ApiError {
        let mut error = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, reason);
        error.field = Some(field);
        error
    }

    /// Adds what the client needs to act on the refusal to its body (`{"error", …detail}`).
    pub fn with(mut self, detail: serde_json::Value) -> ApiError {
        self.detail = Some(detail);
        self
    }

    /// `403`.
    pub fn forbidden(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, reason)
    }

    /// `404`.
    pub fn not_found(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, reason)
    }

    /// `503` with `Retry-After`: the store cannot take or give the data now.
    pub fn unavailable(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, reason).retry_after(5)
    }

    /// `429` with `Retry-After`.
    pub fn too_many(reason: impl Into<String>, seconds: u64) -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, reason).retry_after(seconds)
    }

    /// `401` with the bearer challenge.
    pub fn unauthorized(reason: impl Into<String>) -> ApiError {
        let mut error = ApiError::new(StatusCode::UNAUTHORIZED, reason);
        error.challenge = true;
        error
    }

    /// The same refusal in Partnero's shape.
    pub fn partnero(mut self) -> ApiError {
        self.shape = Shape::Partnero;
        self
    }

    /// Asks the client to wait `seconds` before trying again.
    pub fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }
}

impl From<DbError> for ApiError {
    /// A database failure: `503`, logged with what the database said (the client is told only
    /// to retry).
    fn from(error: DbError) -> ApiError {
        tracing::error!(%error, "database error");
        if error.is_timeout() {
            return ApiError::unavailable(format!("{error}; retry later"));
        }
        ApiError::unavailable("the store is unavailable; retry later")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.shape {
            Shape::Reftrack => {
                let mut body = json!({ "error": &self.reason });
                if let Some(field) = self.field {
                    body["field"] = field.into();
                }
                if let Some(serde_json::Value::Object(detail)) = self.detail {
                    for (key, value) in detail {
                        body[key] = value;
                    }
                }
                body
            }
            Shape::Partnero => json!({ "message": &self.reason, "status": 0 }),
        };
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"reftrack\""),
            );
        }
        response.extensions_mut().insert(Reason(self.reason));
        response
    }
}
