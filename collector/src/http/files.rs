//! The SDK build (`/sdk/`) and the demo site (`/`), served read-only: no dotfiles, nothing
//! outside the two folders (symbolic links that lead out are refused), a `4xx` for any name the
//! file system cannot hold, correct types, and the dashboard under a Content Security Policy.
//!
//! Text and WebAssembly go out compressed (brotli at its best quality, or gzip) from a cache:
//! each file is compressed once per version (size and modification time), not on every request,
//! so the SDK costs the collector one compression per release. `nosniff` is added for every
//! response by the router. Every path is decoded and resolved once, and what is served, and with
//! which headers, is decided on the file it resolves to.

use super::error::ApiError;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
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
        compressed: Arc::new(Mutex::new(Cache::default())),
    };
    prepare(&roots.compressed, &roots.dist);
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
    compressed: Arc<Mutex<Cache>>,
}

/// Compressed files, by path and encoding, each with the version it was made from.
#[derive(Default)]
struct Cache {
    entries: HashMap<(PathBuf, &'static str), Compressed>,
    bytes: usize,
}

/// The most bytes the cache holds; past it, it starts again empty.
const MAX_CACHE: usize = 64 * 1024 * 1024;

/// Files larger than this are served as they are.
const MAX_COMPRESSED_FILE: u64 = 8 * 1024 * 1024;

#[derive(Clone)]
struct Compressed {
    len: u64,
    modified: SystemTime,
    body: Bytes,
}

fn canonical(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

fn not_found() -> Response {
    ApiError::not_found("not found").into_response()
}

async fn guard(roots: Roots, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let (root, rest) = match path.strip_prefix("/sdk/") {
        Some(rest) => (&roots.dist, rest),
        None => (&roots.www, path.trim_start_matches('/')),
    };
    let mut file = root.clone();
    for segment in rest.split('/').filter(|s| !s.is_empty()) {
        let Ok(segment) = percent_encoding::percent_decode_str(segment).decode_utf8() else {
            return not_found();
        };
        if segment.starts_with('.') || segment.len() > MAX_SEGMENT || segment.contains(['\\', '\0'])
        {
            return not_found();
        }
        file.push(segment.as_ref());
    }
    // A symbolic link may point anywhere: whatever is served must resolve inside its folder.
    let real = match std::fs::canonicalize(&file) {
        Ok(real) if !real.starts_with(root) => return not_found(),
        // A folder without its slash: ServeDir redirects to it.
        Ok(real) if real.is_dir() && !path.ends_with('/') => None,
        Ok(real) if real.is_dir() => Some(real.join("index.html")),
        Ok(real) => Some(real),
        Err(_) => None,
    };
    let sdk = path.starts_with("/sdk/");
    // Decided on the file that is served, not on how its path was spelled (`//dashboard.html`,
    // `/%64ashboard.html` and `/dashboard%2ehtml` are the same file).
    let dashboard = real
        .as_ref()
        .is_some_and(|real| *real == roots.www.join("dashboard.html"));
    let since = request
        .headers()
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| httpdate::parse_http_date(v.to_str().ok()?).ok());
    let cached = match (real, encoding(request.method(), request.headers())) {
        (Some(real), Some(encoding)) => compressed(&roots.compressed, real, encoding, since).await,
        _ => None,
    };
    let mut response = match cached {
        Some(response) => response,
        None => next.run(request).await,
    };
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

/// The encoding to answer a `GET` in: brotli, else gzip, as `Accept-Encoding` allows; none for
/// range requests (served whole or in ranges as they are).
fn encoding(method: &Method, headers: &HeaderMap) -> Option<&'static str> {
    if method != Method::GET || headers.contains_key(header::RANGE) {
        return None;
    }
    let accepted = headers.get(header::ACCEPT_ENCODING)?.to_str().ok()?;
    let takes = |name: &str| {
        accepted.split(',').any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            coding.eq_ignore_ascii_case(name) && !refused
        })
    };
    if takes("br") {
        Some("br")
    } else if takes("gzip") {
        Some("gzip")
    } else {
        None
    }
}

/// Whether a file of this name is worth compressing.
fn compressible(path: &Path) -> bool {
    let name = path.to_string_lossy();
    [
        ".js", ".mjs", ".css", ".html", ".json", ".wasm", ".svg", ".txt", ".ts", ".map", ".md",
    ]
    .iter()
    .any(|ext| name.ends_with(ext))
}

/// The answer for `file` compressed in `encoding`, from the cache or compressed now (once per
/// version of the file); `None` when the file is not one to compress or cannot be read.
async fn compressed(
    cache: &Arc<Mutex<Cache>>,
    file: PathBuf,
    encoding: &'static str,
    since: Option<SystemTime>,
) -> Option<Response> {
    if !compressible(&file) {
        return None;
    }
    let meta = std::fs::metadata(&file).ok()?;
    if !meta.is_file() || meta.len() > MAX_COMPRESSED_FILE {
        return None;
    }
    let modified = meta.modified().ok()?;
    let last_modified = httpdate::fmt_http_date(modified);
    // HTTP dates have whole seconds: compare what the client was sent.
    if since
        .is_some_and(|since| httpdate::parse_http_date(&last_modified).is_ok_and(|m| m <= since))
    {
        return Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .header(header::LAST_MODIFIED, last_modified)
            .header(header::VARY, "accept-encoding")
            .body(Body::empty())
            .ok();
    }
    let key = (file.clone(), encoding);
    let hit = cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entries
        .get(&key)
        .filter(|c| c.len == meta.len() && c.modified == modified)
        .cloned();
    let entry = match hit {
        Some(entry) => entry,
        None => {
            let path = file.clone();
            let entry = tokio::task::spawn_blocking(move || fresh(&path, encoding))
                .await
                .ok()??;
            keep(cache, key, entry.clone());
            entry
        }
    };
    // The type as ServeDir gives it, without a charset: a page declares its own encoding.
    let kind = mime_guess::from_path(&file)
        .first_raw()
        .unwrap_or("application/octet-stream");
    Response::builder()
        .header(header::CONTENT_TYPE, kind)
        .header(header::CONTENT_ENCODING, encoding)
        .header(header::VARY, "accept-encoding")
        .header(header::LAST_MODIFIED, last_modified)
        .body(Body::from(entry.body))
        .ok()
}

fn keep(cache: &Mutex<Cache>, key: (PathBuf, &'static str), entry: Compressed) {
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    if cache.bytes + entry.body.len() > MAX_CACHE {
        cache.entries.clear();
        cache.bytes = 0;
    }
    cache.bytes += entry.body.len();
    if let Some(old) = cache.entries.insert(key, entry) {
        cache.bytes -= old.body.len();
    }
}

/// Compresses the SDK's files in the background at start, so that the first visitors do not wait
/// for brotli's best quality (a few hundred milliseconds for the SDK).
fn prepare(cache: &Arc<Mutex<Cache>>, dist: &Path) {
    let Ok(entries) = std::fs::read_dir(dist) else {
        return;
    };
    let files: Vec<PathBuf> = entries
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| compressible(path) && path.is_file())
        .collect();
    let cache = cache.clone();
    let _ = std::thread::Builder::new()
        .name("reftrack-compress".into())
        .spawn(move || {
            for file in files {
                for encoding in ["br", "gzip"] {
                    if let Some(entry) = fresh(&file, encoding) {
                        keep(&cache, (file.clone(), encoding), entry);
                    }
                }
            }
        });
}

/// `path` compressed whole (brotli at quality 11, or gzip at level 9), with the version it was
/// read at. The version is taken before the read: a file changed meanwhile is compressed again
/// on its next request.
fn fresh(path: &Path, encoding: &str) -> Option<Compressed> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta.modified().ok()?;
    let data = std::fs::read(path).ok()?;
    Some(Compressed {
        len: meta.len(),
        modified,
        body: Bytes::from(compress(&data, encoding)?),
    })
}

fn compress(data: &[u8], encoding: &str) -> Option<Vec<u8>> {
    if encoding == "br" {
        let mut writer = brotli::CompressorWriter::new(Vec::new(), 4096, 11, 22);
        writer.write_all(data).ok()?;
        Some(writer.into_inner())
    } else {
        let mut writer = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        writer.write_all(data).ok()?;
        writer.finish().ok()
    }
}
