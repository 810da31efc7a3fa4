//! The SDK build (`/sdk/`) and the demo site (`/`), served read-only: no dotfiles, nothing
//! outside the two folders (symbolic links that lead out are refused), a `4xx` for any name the
//! file system cannot hold, correct types, and the dashboard under a Content Security Policy.
//! Compression (br, gzip) and `nosniff` are added for every response by the router.

use crate::routes::error;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use std::path::{Path, PathBuf};
use tower_http::services::ServeDir;

/// The dashboard's policy: its own script and styles (its inline `style` attributes included),
/// requests to its own origin only, never framed.
const DASHBOARD_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' \
    'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// Longest path segment served (file systems hold 255 bytes).
const MAX_SEGMENT: usize = 255;

/// The file routes over `dist` and `www`.
pub fn router(dist: &Path, www: &Path) -> Router {
    let roots = Roots {
        dist: canonical(dist),
        www: canonical(www),
    };
    Router::new()
        .nest_service("/sdk", ServeDir::new(dist))
        .fallback_service(ServeDir::new(www))
        .layer(middleware::from_fn(move |request, next| {
            guard(roots.clone(), request, next)
        }))
}

#[derive(Clone)]
struct Roots {
    dist: PathBuf,
    www: PathBuf,
}

fn canonical(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found")
}

async fn guard(roots: Roots, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let (root, rest) = match path.strip_prefix("/sdk/") {
        Some(rest) => (&roots.dist, rest),
        None => (&roots.www, path.trim_start_matches('/')),
    };
    let mut file = root.clone();
    for segment in rest.split('/').filter(|s| !s.is_empty()) {
        let segment = percent_decode(segment);
        let Some(segment) = segment else {
            return not_found();
        };
        if segment.starts_with('.') || segment.len() > MAX_SEGMENT || segment.contains(['\\', '\0'])
        {
            return not_found();
        }
        file.push(segment);
    }
    // A symbolic link may point anywhere: whatever is served must resolve inside its folder.
    match std::fs::canonicalize(&file) {
        Ok(real) if !real.starts_with(root) => return not_found(),
        _ => {}
    }
    let sdk = path.starts_with("/sdk/");
    let dashboard = path == "/dashboard.html" || path == "/dashboard";
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if path.ends_with(".ts") {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/typescript; charset=utf-8"),
        );
    }
    // The SDK reaches visitors within five minutes of a release; the demo always revalidates
    // (`Last-Modified` makes that a `304`).
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if sdk {
            "public, max-age=300"
        } else {
            "no-cache"
        }),
    );
    if dashboard {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DASHBOARD_CSP),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    response
}

/// `%XX` decoded; `None` when the result is not UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h)? * 16 + hex(l)?) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}
