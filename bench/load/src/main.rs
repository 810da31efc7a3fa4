//! `reftrack-load`: the benchmark's load client, and the no-op server it is measured against.
//!
//! - `reftrack-load run ADDR CONNECTIONS SECONDS [THREADS]`: CONNECTIONS keep-alive HTTP/1.1
//!   connections each post distinct signups to `ADDR/v1/signups`, one after another, for SECONDS;
//!   prints `acknowledged failed seconds` (2xx answers, other answers or broken connections).
//! - `reftrack-load stripe ADDR CONNECTIONS SECONDS SECRET [THREADS]`: the same with distinct
//!   Stripe `invoice.paid` events to `ADDR/webhooks/stripe`, each signed with SECRET as Stripe
//!   signs (`Stripe-Signature: t=…,v1=hex(HMAC-SHA256(secret, "t.body"))`).
//! - `reftrack-load sales ADDR CONNECTIONS SECONDS SECRET [THREADS]`: the same with distinct
//!   PartnerStack sales (`POST /api/v2/transactions`, bearer SECRET) of one customer,
//!   `cus_bench_sales`, whom the caller has signed up.
//! - `reftrack-load fill-ledger DB PARTNERS ENTRIES TODAY`: a commission ledger of ENTRIES entries
//!   over PARTNERS partners around the day TODAY (`YYYY-MM-DD`): ten per partner, due from 60 days
//!   before TODAY to 25 days after it, one in seven a reversal, the four oldest paid by one payout per
//!   partner, each recorded 30 days before it turns due; with the balances the collector keeps.
//! - `reftrack-load fill DB N`: N transactions (1,000 partners, 100,000 customers, three
//!   currencies, one refund in ten) written straight into a collector's database (an SQLite path
//!   or a `postgres://` URL), in one statement; for timing the report over them.
//! - `reftrack-load noop`: a server that answers every request `201` with a signup-sized JSON body
//!   and does nothing else: the client against it is the client's own ceiling.
//!
//! Requests and answers are written and parsed by hand (keep-alive, `Content-Length` only), so
//! that the client costs as little CPU as it can and leaves the machine to the server measured.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads = |i: usize| args.get(i).and_then(|t| t.parse().ok()).unwrap_or(1);
    match args.first().map(String::as_str) {
        Some(mode @ ("run" | "stripe" | "sales")) if args.len() >= 4 => {
            let kind = match mode {
                "stripe" => Kind::Stripe(args.get(4).expect("SECRET").clone()),
                "sales" => Kind::Sale(args.get(4).expect("SECRET").clone()),
                _ => Kind::Signup,
            };
            let runtime = runtime(threads(if mode == "run" { 4 } else { 5 }));
            let (addr, connections, seconds) = (
                args[1].clone(),
                args[2].parse().expect("CONNECTIONS"),
                args[3].parse().expect("SECONDS"),
            );
            let (ok, failed, elapsed) = runtime.block_on(run(addr, connections, seconds, kind));
            println!("{ok} {failed} {elapsed:.3}");
        }
        Some("fill-ledger") if args.len() >= 5 => {
            let (partners, entries): (u64, u64) = (
                args[2].parse().expect("PARTNERS"),
                args[3].parse().expect("ENTRIES"),
            );
            let started = Instant::now();
            fill_ledger(&args[1], partners, entries, &args[4]);
            println!("{entries} {:.3}", started.elapsed().as_secs_f64());
        }
        Some("fill") if args.len() >= 3 => {
            let n: u64 = args[2].parse().expect("N");
            let started = Instant::now();
            fill(&args[1], n);
            println!("{n} {:.3}", started.elapsed().as_secs_f64());
        }
        Some("noop") => runtime(threads(1)).block_on(noop()),
        _ => {
            eprintln!(
                "usage: reftrack-load run ADDR CONNECTIONS SECONDS [THREADS] | stripe|sales ADDR CONNECTIONS SECONDS SECRET [THREADS] | fill DB N | fill-ledger DB PARTNERS ENTRIES TODAY | noop [THREADS]"
            );
            std::process::exit(2);
        }
    }
}

fn runtime(threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .expect("a runtime")
}

/// What the clients post.
#[derive(Clone)]
enum Kind {
    /// Distinct signups to `/v1/signups`.
    Signup,
    /// Distinct `invoice.paid` events to `/webhooks/stripe`, signed with this secret.
    Stripe(String),
    /// Distinct PartnerStack sales to `/api/v2/transactions`, with this bearer token.
    Sale(String),
}

async fn run(addr: String, connections: usize, seconds: f64, kind: Kind) -> (u64, u64, f64) {
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let run = std::process::id();
    let started = Instant::now();
    let clients: Vec<_> = (0..connections)
        .map(|_| {
            let (addr, next, stop, kind) = (addr.clone(), next.clone(), stop.clone(), kind.clone());
            tokio::spawn(async move { client(&addr, run, &next, &stop, &kind).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut ok, mut failed) = (0, 0);
    for client in clients {
        let (o, f) = client.await.unwrap_or((0, 1));
        ok += o;
        failed += f;
    }
    (ok, failed, started.elapsed().as_secs_f64())
}

/// One connection's loop: post, read the answer, count it; reconnect when the server closes.
async fn client(
    addr: &str,
    run: u32,
    next: &AtomicU64,
    stop: &AtomicBool,
    kind: &Kind,
) -> (u64, u64) {
    let (mut ok, mut failed) = (0, 0);
    let mut buffer = Vec::with_capacity(4096);
    let mut stream: Option<TcpStream> = None;
    while !stop.load(Ordering::Relaxed) {
        let connection = match stream.as_mut() {
            Some(connection) => connection,
            None => match TcpStream::connect(addr).await {
                Ok(connection) => {
                    let _ = connection.set_nodelay(true);
                    stream.insert(connection)
                }
                Err(_) => {
                    failed += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let n = next.fetch_add(1, Ordering::Relaxed);
        let request = match kind {
            Kind::Signup => signup(addr, run, n),
            Kind::Stripe(secret) => stripe_event(addr, run, n, secret),
            Kind::Sale(secret) => sale(addr, run, n, secret),
        };
        let status = match exchange(connection, request.as_bytes(), &mut buffer).await {
            Some(status) => status,
            None => {
                stream = None;
                0
            }
        };
        if (200..300).contains(&status) {
            ok += 1;
        } else {
            failed += 1;
        }
    }
    (ok, failed)
}

fn signup(addr: &str, run: u32, n: u64) -> String {
    let body = format!(
        concat!(
            r#"{{"event_id":"{:08x}-0000-4000-8000-{:012}","type":"signup","public_key":"pk_bench_load","#,
            r#""customer_key":"load_{}_{}","email":"load{}@example.com","partner_key":"alex-smith","#,
            r#""xid":"clk_load","origin":"bench","page_url":"http://bench/","referrer":null,"#,
            r#""user_agent":"bench","sub_ids":[],"meta":{{}},"created_at":"2026-11-23T00:00:00.000Z"}}"#
        ),
        run, n, run, n, n
    );
    format!(
        "POST /v1/signups HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A PartnerStack sale of 49.00 by `cus_bench_sales`, with a key of its own.
fn sale(addr: &str, run: u32, n: u64, secret: &str) -> String {
    let body = format!(
        r#"{{"customer_key":"cus_bench_sales","amount":4900,"currency":"USD","key":"sale_{run:08x}_{n}"}}"#
    );
    format!(
        "POST /api/v2/transactions HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {secret}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// An `invoice.paid` event for a Stripe customer no one bound (so it is stored unmatched), signed.
fn stripe_event(addr: &str, run: u32, n: u64, secret: &str) -> String {
    use hmac::{Hmac, Mac};
    let body = format!(
        concat!(
            r#"{{"id":"evt_load_{}_{}","object":"event","api_version":"2025-06-30.basil","#,
            r#""created":1795000000,"livemode":false,"pending_webhooks":1,"type":"invoice.paid","#,
            r#""request":{{"id":null,"idempotency_key":null}},"data":{{"object":{{"#,
            r#""id":"in_load_{}_{}","object":"invoice","amount_due":4900,"amount_paid":4900,"#,
            r#""amount_remaining":0,"currency":"usd","customer":"cus_load","status":"paid","#,
            r#""billing_reason":"subscription_cycle","livemode":false}}}}}}"#
        ),
        run, n, run, n
    );
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("a key");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body.as_bytes());
    let signature: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "POST /webhooks/stripe HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json; charset=utf-8\r\nStripe-Signature: t={t},v1={signature}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Writes N transactions and 1,000 registered partners into the database at `db`, which a
/// collector has created.
fn fill(db: &str, n: u64) {
    let partners = "INSERT INTO partners (partner_key, status, registered, created_at)
        WITH RECURSIVE p(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM p WHERE i < 999)
        SELECT 'partner_' || i, 'active', 1, '2026-11-01T00:00:00.000Z' FROM p";
    let transactions = format!(
        "INSERT INTO transactions (source, source_id, kind, amount, currency, public_key,
                                   customer_key, partner_key, occurred_at, received_at, body)
         WITH RECURSIVE t(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM t WHERE i < {n})
         SELECT 'bench', 'bench_' || i,
                CASE WHEN i % 10 = 0 THEN 'refund' ELSE 'sale' END,
                CASE WHEN i % 10 = 0 THEN -1000 ELSE 4900 END,
                CASE i % 3 WHEN 0 THEN 'USD' WHEN 1 THEN 'EUR' ELSE 'GBP' END,
                'pk_bench', 'cus_' || (i % 100000), 'partner_' || ((i / 10) % 1000),
                '2026-11-' || CASE WHEN i % 28 < 9 THEN '0' ELSE '' END || (1 + i % 28)
                    || 'T12:00:00.000Z',
                '2026-11-30T12:00:00.000Z', '{{}}'
         FROM t"
    );
    // The report's running sums, as the collector keeps them when it stores a transaction (and
    // as its migration computes them for transactions stored before them).
    let sums = "
        INSERT INTO revenue_days (partner_key, public_key, day, currency, sales, refunds)
            SELECT partner_key, COALESCE(public_key, ''), substr(occurred_at, 1, 10), currency,
                   SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END),
                   SUM(CASE WHEN amount < 0 THEN -amount ELSE 0 END)
            FROM transactions WHERE partner_key IS NOT NULL AND source = 'bench'
            GROUP BY partner_key, COALESCE(public_key, ''), substr(occurred_at, 1, 10), currency;
        INSERT INTO paying_customers (partner_key, currency, public_key, customer_key, first_day)
            SELECT partner_key, currency, COALESCE(public_key, ''), customer_key,
                   MIN(substr(occurred_at, 1, 10))
            FROM transactions
            WHERE partner_key IS NOT NULL AND customer_key IS NOT NULL AND amount > 0
              AND source = 'bench'
            GROUP BY partner_key, currency, COALESCE(public_key, ''), customer_key;
        ANALYZE;";
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        let mut client = postgres::Client::connect(db, postgres::NoTls).expect("PostgreSQL");
        client.batch_execute(partners).expect("partners");
        client.batch_execute(&transactions).expect("transactions");
        client.batch_execute(sums).expect("sums");
    } else {
        let conn = rusqlite::Connection::open(db).expect("SQLite");
        conn.busy_timeout(Duration::from_secs(30))
            .expect("busy timeout");
        conn.execute_batch(partners).expect("partners");
        conn.execute_batch(&transactions).expect("transactions");
        conn.execute_batch(sums).expect("sums");
    }
}

/// Writes a commission ledger into the database at `db`, which a collector has created: see the
/// module's documentation.
fn fill_ledger(db: &str, partners: u64, entries: u64, today: &str) {
    // Ten due days, as offsets from today; the first four are paid.
    let offsets = [-60, -50, -40, -31, -20, -10, -1, 5, 15, 25];
    let days: Vec<String> = offsets
        .iter()
        .enumerate()
        .map(|(k, offset)| {
            let due = add_days(today, *offset);
            format!("({k}, '{due}', '{}')", add_days(&due, -30))
        })
        .collect();
    let days = days.join(", ");
    let commissions = format!(
        "INSERT INTO commissions (partner_key, public_key, customer_key, kind, event, amount,
                                  currency, transaction_id, reverses, refunded, rule_id, note,
                                  occurred_at, due_on, recorded_at)
         WITH RECURSIVE e(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM e WHERE i < {last}),
              d(k, day, recorded) AS (VALUES {days})
         SELECT 'partner_' || (e.i % {partners}), 'pk_bench', 'cus_' || e.i,
                CASE WHEN e.i % 7 = 3 THEN 'reversed' ELSE 'earned' END,
                CASE WHEN e.i % 7 = 3 THEN 'refund' ELSE 'sale' END,
                CASE WHEN e.i % 7 = 3 THEN -294 ELSE 980 END,
                CASE WHEN (e.i % {partners}) % 10 = 0 THEN 'EUR' ELSE 'USD' END,
                NULL, NULL, NULL, NULL, NULL, d.recorded || 'T12:00:00.000Z', d.day,
                d.recorded || 'T12:00:00.000Z'
         FROM e JOIN d ON d.k = (e.i / {partners}) % 10",
        last = entries.saturating_sub(1)
    );
    let payouts = format!(
        "INSERT INTO payouts (partner_key, currency, amount, reference, note, paid_at,
                              recorded_at, entries)
         SELECT partner_key, currency, CAST(SUM(amount) AS BIGINT), 'bench_' || partner_key || '_' || currency,
                NULL, '{paid}T00:00:00.000Z', '{paid}T00:00:00.000Z', COUNT(*)
         FROM commissions WHERE due_on < '{paid}' GROUP BY partner_key, currency",
        paid = add_days(today, -30)
    );
    let settlements = format!(
        "INSERT INTO settlements (entry_id, payout_id)
             SELECT c.id, p.id FROM commissions c
             JOIN payouts p ON p.partner_key = c.partner_key AND p.currency = c.currency
             WHERE c.due_on < '{paid}'",
        paid = add_days(today, -30)
    );
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        let mut client = postgres::Client::connect(db, postgres::NoTls).expect("PostgreSQL");
        client.batch_execute(&commissions).expect("commissions");
        client.batch_execute(&payouts).expect("payouts");
        client.batch_execute(&settlements).expect("settlements");
    } else {
        let conn = rusqlite::Connection::open(db).expect("SQLite");
        conn.busy_timeout(Duration::from_secs(30))
            .expect("busy timeout");
        conn.execute_batch(&commissions).expect("commissions");
        conn.execute_batch(&payouts).expect("payouts");
        conn.execute_batch(&settlements).expect("settlements");
    }
    // The balances the collector keeps beside the ledger, computed by its own code, as written
    // five days ago (the last entries were recorded then).
    use reftrack_collector::store::engine::{Db, Target};
    let mut store = Db::connect(&Target::parse(db), Duration::from_secs(600)).expect("the store");
    store.begin().expect("a transaction");
    reftrack_collector::store::payouts::rebuild_balances(&mut store, &add_days(today, -5))
        .expect("the balances");
    store.commit().expect("committed");
    store.batch("ANALYZE").expect("ANALYZE");
}

/// `day` (`YYYY-MM-DD`) plus `days`, by the collector's own calendar.
fn add_days(day: &str, days: i64) -> String {
    reftrack_collector::domain::time::add_days(day, days).expect("TODAY is YYYY-MM-DD")
}

/// Writes `request` and reads one answer; its status, or `None` when the connection broke.
async fn exchange(stream: &mut TcpStream, request: &[u8], buffer: &mut Vec<u8>) -> Option<u16> {
    stream.write_all(request).await.ok()?;
    buffer.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find(buffer, b"\r\n\r\n") {
            let head = std::str::from_utf8(&buffer[..end]).ok()?;
            let status = head.split(' ').nth(1)?.parse().ok()?;
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            while buffer.len() < end + 4 + length {
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buffer.extend_from_slice(&chunk[..n]);
            }
            return Some(status);
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The no-op server: reads each request whole and answers `201` with a body the size of the
/// collector's.
async fn noop() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    println!(
        "reftrack-load noop listening on http://{}",
        listener.local_addr().expect("an address")
    );
    const ANSWER: &[u8] = b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 70\r\n\r\n{\"status\":\"created\",\"event_id\":\"00000000-0000-4000-8000-000000000000\"}";
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let mut buffer = Vec::with_capacity(4096);
            let mut chunk = [0u8; 4096];
            loop {
                while let Some(end) = find(&buffer, b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if buffer.len() < end + 4 + length {
                        break;
                    }
                    buffer.drain(..end + 4 + length);
                    if stream.write_all(ANSWER).await.is_err() {
                        return;
                    }
                }
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                }
            }
        });
    }
}
