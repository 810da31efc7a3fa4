//! The harness of the black-box suites: the collector as a client meets it: the real binary on an ephemeral loopback port, a real
//! database, and plain HTTP/1.1 over a TCP socket (so that malformed and oversized requests can
//! be sent exactly as written).
//!
//! The database is an SQLite file, or, when `REFTRACK_TEST_POSTGRES` names a PostgreSQL server
//! (`postgres://user@host:port`; `scripts/test.sh` starts a throwaway one), a database of its own
//! on that server per test: `scripts/test.sh` runs this suite once for each engine.

#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

/// What the suites use besides the harness, imported once (not every suite uses all of it).
#[allow(unused_imports)]
pub mod prelude {
    pub use serde_json::{json, Value};
    pub use std::io::{BufRead, BufReader, Read, Write};
    pub use std::net::TcpStream;
    pub use std::process::{Command, Stdio};
    pub use std::sync::atomic::Ordering;
    pub use std::time::Duration;
}

pub const SECRET: &str = "test-secret";

/// The `Authorization` header of the authenticated routes.
pub fn auth() -> [(&'static str, &'static str); 1] {
    [("Authorization", "Bearer test-secret")]
}

/// `hex(HMAC-SHA256(secret, customer_key))`, as the site's server computes it (here with Node's
/// own crypto, a real client of the rule, not the collector's code).
pub fn customer_hash(secret: &str, customer_key: &str) -> String {
    let out = Command::new("node")
        .args([
            "-e",
            "process.stdout.write(require('crypto').createHmac('sha256', process.argv[1]).update(process.argv[2]).digest('hex'))",
            secret,
            customer_key,
        ])
        .output()
        .expect("node runs");
    String::from_utf8(out.stdout).unwrap()
}

pub fn temp_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir = std::env::temp_dir().join(format!(
        "reftrack-collector-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub struct Server {
    pub child: Child,
    pub addr: String,
}

/// The PostgreSQL server the suite runs against, if any.
pub fn postgres_server() -> Option<String> {
    std::env::var("REFTRACK_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
        .map(|url| url.trim_end_matches('/').to_owned())
}

/// What `--db` is for a test whose SQLite file would be `db`: that file, or the PostgreSQL
/// database named after it (created on first use, so a restarted collector finds its rows).
pub fn database(db: &Path) -> String {
    let Some(server) = postgres_server() else {
        return db.display().to_string();
    };
    let dir = db.parent().unwrap().file_name().unwrap().to_string_lossy();
    let name: String = format!("t_{dir}_{}", db.file_stem().unwrap().to_string_lossy())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let mut admin = postgres::Client::connect(&format!("{server}/postgres"), postgres::NoTls)
        .expect("the test PostgreSQL answers");
    if let Err(error) = admin.batch_execute(&format!("CREATE DATABASE {name}")) {
        assert_eq!(
            error.code(),
            Some(&postgres::error::SqlState::DUPLICATE_DATABASE),
            "{error}"
        );
    }
    format!("{server}/{name}")
}

impl Server {
    pub fn start(db: &Path, extra: &[&str]) -> Server {
        Server::start_logging(db, extra, Stdio::inherit())
    }

    /// The collector with its log (standard error) going to `log`.
    pub fn start_logging(db: &Path, extra: &[&str], log: Stdio) -> Server {
        Server::start_on(&database(db), db.parent().unwrap(), extra, log)
    }

    /// The collector on `--db url`, serving the demo and SDK folders made in `site`.
    pub fn start_on(url: &str, site: &Path, extra: &[&str], log: Stdio) -> Server {
        std::fs::create_dir_all(site.join("dist")).unwrap();
        std::fs::create_dir_all(site.join("www")).unwrap();
        std::fs::write(site.join("dist/reftrack.js"), "/* sdk */").unwrap();
        std::fs::write(site.join("www/index.html"), "<h1>demo</h1>").unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_reftrack-collector"))
            .args(["--listen", "127.0.0.1:0", "--db", url])
            .arg("--dist")
            .arg(site.join("dist"))
            .arg("--www")
            .arg(site.join("www"))
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("the collector starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .expect("the collector prints its address")
            .to_owned();
        Server { child, addr }
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        self.request_over(
            TcpStream::connect(&self.addr).unwrap(),
            method,
            path,
            headers,
            body,
        )
    }

    /// A connection from `local` (another loopback address, say: a client that is not the
    /// proxy on 127.0.0.1).
    pub fn connect_from(&self, local: &str) -> TcpStream {
        let local: std::net::SocketAddr = format!("{local}:0").parse().unwrap();
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.bind(&local.into()).unwrap();
        let remote: std::net::SocketAddr = self.addr.parse().unwrap();
        socket.connect(&remote.into()).unwrap();
        socket.into()
    }

    /// A request sent from `local`.
    pub fn request_from(
        &self,
        local: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        self.request_over(self.connect_from(local), method, path, headers, body)
    }

    /// A request over `stream`, read to its end.
    pub fn request_over(
        &self,
        mut stream: TcpStream,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        // A server may answer (413) before reading all of a large body; that is fine.
        let _ = stream.write_all(body);
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        Reply::parse(&raw)
    }

    pub fn post_signup(&self, body: &Value) -> Reply {
        self.request(
            "POST",
            "/v1/signups",
            &[("Content-Type", "text/plain;charset=UTF-8")],
            body.to_string().as_bytes(),
        )
    }

    /// Every record, newest first, page by page (`X-Next-Before`).
    pub fn list(&self) -> Vec<Value> {
        let mut all = Vec::new();
        let mut path = "/v1/signups?limit=1000".to_owned();
        loop {
            let reply = self.request(
                "GET",
                &path,
                &[("Authorization", &format!("Bearer {SECRET}"))],
                b"",
            );
            assert_eq!(reply.status, 200, "{}", reply.body);
            all.extend(serde_json::from_str::<Vec<Value>>(&reply.body).unwrap());
            match reply.header("x-next-before") {
                Some(before) => path = format!("/v1/signups?limit=1000&before={before}"),
                None => return all,
            }
        }
    }

    pub fn kill(mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn parse(raw: &[u8]) -> Reply {
        let text = String::from_utf8_lossy(raw);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let chunked = headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
        let body = if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .expect("an error reason")
            .to_owned()
    }
}

pub fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

pub fn signup(n: usize) -> Value {
    json!({
        "event_id": format!("00000000-0000-4000-8000-{n:012}"),
        "type": "signup",
        "public_key": "pk_test_123",
        "customer_key": format!("cus_{n}"),
        "email": format!("user{n}@example.com"),
        "name": "Jane Doe",
        "partner_key": "alex-smith",
        "xid": "clk_9f8e7d",
        "origin": "www.acme.test",
        "page_url": "https://www.acme.test/signup",
        "referrer": null,
        "user_agent": "Mozilla/5.0",
        "sub_ids": ["a"],
        "meta": {"plan": "pro"},
        "created_at": "2026-11-22T10:00:00.000Z"
    })
}

pub fn server(extra: &[&str]) -> (Server, PathBuf) {
    let db = temp_dir().join("reftrack.db");
    let mut args = vec!["--secret", SECRET];
    args.extend_from_slice(extra);
    (Server::start(&db, &args), db)
}

/// A collector whose clock is a file the test sets; and a helper to set it.
pub fn clocked(extra: &[&str]) -> (Server, PathBuf, impl Fn(i64)) {
    let dir = temp_dir();
    let clock = dir.join("clock");
    std::fs::write(&clock, "1795000000000").unwrap(); // 2026-11-18T11:06:40Z
    let mut args = vec!["--secret", SECRET, "--clock"];
    let clock_arg = clock.to_str().unwrap().to_owned();
    let clock_arg: &'static str = Box::leak(clock_arg.into_boxed_str());
    args.push(clock_arg);
    args.extend_from_slice(extra);
    let server = Server::start(&dir.join("reftrack.db"), &args);
    let set = move |ms: i64| std::fs::write(&clock, ms.to_string()).unwrap();
    (server, dir.join("reftrack.db"), set)
}

/// A click of `path` as a browser with user agent `agent` makes it.
pub fn click(server: &Server, path: &str, extra: &[(&str, &str)]) -> Reply {
    let mut headers = extra.to_vec();
    if !headers.iter().any(|(name, _)| *name == "User-Agent") {
        headers.push(("User-Agent", "Mozilla/5.0 test"));
    }
    server.request("GET", path, &headers, b"")
}

/// The `ps_xid` of a redirect.
pub fn xid_of(reply: &Reply) -> String {
    let location = reply.header("location").expect("a Location");
    location.rsplit("ps_xid=").next().unwrap().to_owned()
}

/// Posts `body` over a connection of its own and answers the status (0 when the connection
/// failed: the collector was killed).
pub fn post_raw(addr: &str, body: &str) -> u16 {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return 0;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "POST /v1/signups HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return 0;
    }
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    String::from_utf8_lossy(&raw)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Threads posting signups to `addrs` until `stop`; each returns the event ids acknowledged.
pub fn load(
    addrs: Vec<String>,
    threads: usize,
    first: usize,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<std::thread::JoinHandle<Vec<String>>> {
    (0..threads)
        .map(|t| {
            let (addrs, stop) = (addrs.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                let mut n = first + t * 1_000_000;
                while !stop.load(Ordering::Relaxed) {
                    let body = signup(n);
                    let addr = &addrs[n % addrs.len()];
                    if matches!(post_raw(addr, &body.to_string()), 200 | 201) {
                        acknowledged.push(body["event_id"].as_str().unwrap().to_owned());
                    }
                    n += 1;
                }
                acknowledged
            })
        })
        .collect()
}

/// Opens `n` connections that send half a request's headers and then nothing.
pub fn stalled(addr: &str, n: usize) -> Vec<TcpStream> {
    (0..n)
        .filter_map(|_| {
            let mut s = TcpStream::connect(addr).ok()?;
            s.write_all(b"POST /v1/signups HTTP/1.1\r\nHost: x\r\n")
                .ok()?;
            Some(s)
        })
        .collect()
}
