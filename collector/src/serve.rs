//! The HTTP/1.1 server loop, with the limits `axum::serve` does not set: a cap on connections,
//! a deadline for each request's headers (which also closes idle keep-alive connections), and a
//! bounded drain on shutdown. hyper's own answers to requests it cannot parse get a reason too.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
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
                    eprintln!("reftrack-collector: accept: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
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
            let _slot = slot;
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
        eprintln!(
            "reftrack-collector: {} connections still open after {} s; closing them",
            connections.len(),
            limits.drain.as_secs()
        );
        connections.abort_all();
    }
}

/// A connection whose writes are watched for hyper's own error answers — `400` for a request that
/// is not HTTP/1.1, `414` and `431` past hyper's buffer — which hyper sends with an empty body
/// before the application sees anything. Each gets the `{"error": …}` body every other refusal
/// has, and a log line. (The application's own `4xx` always carry a body, so an empty one is
/// hyper's.)
struct Explained<S> {
    inner: S,
    /// A rewritten answer not yet written whole.
    pending: Vec<u8>,
    written: usize,
}

impl<S> Explained<S> {
    fn new(inner: S) -> Self {
        Explained {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

/// `head` (a response head hyper wrote) with a JSON reason, when it is one of hyper's own empty
/// `4xx` answers.
fn explain(head: &[u8]) -> Option<Vec<u8>> {
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let text = std::str::from_utf8(&head[..end]).ok()?;
    let status: u16 = text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
    if !(400..500).contains(&status) || !text.contains("\r\ncontent-length: 0\r\n") {
        return None;
    }
    let reason = match status {
        400 => "the request is not valid HTTP/1.1",
        414 => "the request target is too long",
        431 => "the request line and headers are too large",
        _ => "the request could not be read",
    };
    eprintln!(
        "reftrack-collector: {}",
        serde_json::json!({ "event": "refused", "status": status, "route": "(unparsed)", "reason": reason })
    );
    let body = serde_json::json!({ "error": reason }).to_string();
    let rewritten = text.replacen(
        "\r\ncontent-length: 0\r\n",
        &format!(
            "\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        ),
        1,
    );
    let mut out = rewritten.into_bytes();
    out.extend_from_slice(body.as_bytes());
    out.extend_from_slice(&head[end..]);
    Some(out)
}

impl<S: AsyncWrite + Unpin> Explained<S> {
    /// Writes what is pending; `Ready` once nothing is.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Explained<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Explained<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        if buf.starts_with(b"HTTP/1.1 4") {
            if let Some(explained) = explain(buf) {
                self.pending = explained;
                // The whole of `buf` is taken; what is not on the wire yet goes out on the next
                // write, flush or shutdown.
                let _ = self.poll_pending(cx)?;
                return Poll::Ready(Ok(buf.len()));
            }
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
