//! The HTTP/1.1 server loop, with the limits `axum::serve` does not set: a cap on connections,
//! a deadline for each request's headers (which also closes idle keep-alive connections), and a
//! bounded drain on shutdown. hyper's own answers to requests it cannot parse get a reason too.

mod explained;
mod per_address;

use crate::http::client_ip::Proxies;
use crate::http::log::RefusalLog;
use axum::extract::ConnectInfo;
use axum::Router;
use explained::Explained;
use hyper_util::rt::{TokioIo, TokioTimer};
use per_address::PerAddress;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tower::Service;

/// hyper's own read buffer: requests whose head does not fit are refused by hyper itself (a `431`
/// given its reason by [`Explained`]); smaller ones over the collector's limits get a `414` or
/// `431` from the routes.
const READ_BUFFER: usize = 64 * 1024;

/// What the server holds to.
pub struct Limits {
    /// How long a client has to send a request's headers, counted from when the collector starts
    /// waiting for them: a connection idle that long between requests is closed too.
    pub header_timeout: Duration,
    /// Connections served at once; the rest wait in the listen backlog.
    pub max_connections: usize,
    /// How long requests in flight may take to finish once shutdown starts.
    pub drain: Duration,
    /// Connections one client address may hold open.
    pub per_address: usize,
    /// The site's proxies, whose connections are not counted per address.
    pub proxies: Proxies,
}

/// `wanted`, lowered so that the connections and the collector's own files fit the open-file
/// limit (raised to its hard maximum first).
pub fn connection_cap(wanted: usize) -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    let soft = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return wanted;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
        limit.rlim_cur
    };
    let room = usize::try_from(soft)
        .unwrap_or(usize::MAX)
        .saturating_sub(64);
    wanted.min(room.max(16))
}

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting, lets requests in
/// flight finish for at most `limits.drain`, and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let per_address = PerAddress::new(limits.per_address);
    let refusals = RefusalLog::default();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(READ_BUFFER);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: wait for connections to close.
                    tracing::error!(%error, "accept");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let held = if limits.proxies.trusts(peer.ip()) {
            None
        } else {
            match per_address.admit(peer.ip()) {
                Some(held) => Some(held),
                None => {
                    drop(slot);
                    refuse(stream, peer.ip(), limits.per_address, &refusals);
                    continue;
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().call(request)
        });
        let connection = http.serve_connection(TokioIo::new(Explained::new(stream)), service);
        let mut stopping = stopping.clone();
        connections.spawn(async move {
            let _held = (slot, held);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stopping.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(limits.drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            drain_seconds = limits.drain.as_secs(),
            "connections still open after the drain; closing them"
        );
        connections.abort_all();
    }
}

/// Answers a connection over the per-address cap `429` and closes it, without waiting on a
/// client that does not read.
fn refuse(mut stream: TcpStream, ip: std::net::IpAddr, cap: usize, refusals: &RefusalLog) {
    let reason = format!("this address already holds {cap} open connections");
    let second = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if let Some(held_back) = refusals.admit(429, "(connection)", ip, second) {
        tracing::warn!(
            status = 429,
            route = "(connection)",
            reason,
            held_back,
            "refused"
        );
    }
    let body = serde_json::json!({ "error": reason }).to_string();
    let answer = format!(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    tokio::spawn(async move {
        let _ =
            tokio::time::timeout(Duration::from_secs(1), stream.write_all(answer.as_bytes())).await;
    });
}
