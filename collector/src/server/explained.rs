//! hyper's own answers to requests it cannot parse, given the `{"error": …}` body and log line
//! that every other refusal has.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection whose writes are watched for hyper's own error answers — `400` for a request that
/// is not HTTP/1.1, `414` and `431` past hyper's buffer — which hyper sends with an empty body
/// before the application sees anything. Each gets the `{"error": …}` body every other refusal
/// has, and a log line. (The application's own `4xx` always carry a body, so an empty one is
/// hyper's.)
pub struct Explained<S> {
    inner: S,
    /// A rewritten answer not yet written whole.
    pending: Vec<u8>,
    written: usize,
}

impl<S> Explained<S> {
    /// Watches `inner`.
    pub fn new(inner: S) -> Self {
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
    tracing::warn!(status, route = "(unparsed)", reason, "refused");
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
