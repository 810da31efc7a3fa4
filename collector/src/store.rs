//! The store: records (signups and conversions) and partner-link clicks, in SQLite or PostgreSQL.
//!
//! Writes go through one writer thread per collector, which commits them in groups: every write
//! waiting when a commit starts shares that transaction and its one fsync, and each is answered
//! only after the commit that holds it. Reads (listing, the report, health) use their own
//! connections and never wait for the writer. The database's own constraints decide duplicates,
//! so collectors sharing one PostgreSQL cannot both store the same record.

use crate::db::{Db, DbError, Target, V};
use crate::validate::Record;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Whether a record was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// Stored now.
    Created,
    /// Already there: same `event_id`, or the same customer of the same program (or, for a
    /// conversion, the same click and customer or the same `transaction_key`).
    Duplicate,
}

/// The most writes one transaction takes.
const MAX_GROUP: usize = 1024;

/// Writer threads on PostgreSQL: each commits a group while the others gather theirs (the
/// server orders them; its constraints keep them apart). SQLite has one writer at a time anyway.
const POSTGRES_WRITERS: usize = 4;

/// How many idle read connections are kept.
const MAX_IDLE_READERS: usize = 4;

/// The store: a writer thread and a pool of readers.
pub struct Store {
    writer: Mutex<Option<mpsc::Sender<Box<dyn Task>>>>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    readers: Arc<Readers>,
    tally: Arc<Tally>,
}

/// Writes committed, and the transactions that held them: what group commit saved.
#[derive(Default)]
struct Tally {
    writes: AtomicU64,
    commits: AtomicU64,
}

/// A write: run inside the group's transaction (possibly again, alone, when the group failed),
/// then told how the commit went.
trait Task: Send {
    fn run(&mut self, db: &mut Db) -> Result<(), DbError>;
    fn finish(self: Box<Self>, committed: Result<(), DbError>);
}

struct Write<T, F> {
    work: F,
    out: Option<T>,
    reply: oneshot::Sender<Result<T, DbError>>,
}

impl<T: Send, F: FnMut(&mut Db) -> Result<T, DbError> + Send> Task for Write<T, F> {
    fn run(&mut self, db: &mut Db) -> Result<(), DbError> {
        self.out = Some((self.work)(db)?);
        Ok(())
    }

    fn finish(self: Box<Self>, committed: Result<(), DbError>) {
        let Write { out, reply, .. } = *self;
        let answer =
            committed.and_then(|()| out.ok_or_else(|| DbError::new("the write did not run")));
        let _ = reply.send(answer);
    }
}

impl Store {
    /// Opens `target` (creating and migrating it) and starts the writers.
    pub fn open(target: &Target) -> Result<Store, DbError> {
        let writers = match target {
            Target::Sqlite(_) => 1,
            Target::Postgres(_) => POSTGRES_WRITERS,
        };
        let (sender, receiver) = mpsc::channel::<Box<dyn Task>>();
        let receiver = Arc::new(Mutex::new(receiver));
        let tally = Arc::new(Tally::default());
        let mut threads = Vec::new();
        for n in 0..writers {
            let db = if n == 0 {
                Db::open(target)?
            } else {
                Db::connect(target)?
            };
            let (reconnect, receiver, tally) = (target.clone(), receiver.clone(), tally.clone());
            let thread = std::thread::Builder::new()
                .name(format!("reftrack-writer-{n}"))
                .spawn(move || writer(db, &reconnect, &receiver, &tally))
                .map_err(|e| DbError::new(format!("cannot start the writer: {e}")))?;
            threads.push(thread);
        }
        Ok(Store {
            writer: Mutex::new(Some(sender)),
            threads: Mutex::new(threads),
            tally,
            readers: Arc::new(Readers {
                target: target.clone(),
                idle: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Runs `work` in the next group transaction; resolves once it is committed. `work` may run
    /// more than once (alone, after its group failed), so it must only read what it captured.
    pub async fn write<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnMut(&mut Db) -> Result<T, DbError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let task = Box::new(Write {
            work,
            out: None,
            reply,
        });
        let sent = lock(&self.writer)
            .as_ref()
            .is_some_and(|sender| sender.send(task).is_ok());
        if !sent {
            return Err(DbError::new("the writer has stopped"));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(DbError::new("the writer has stopped")))
    }

    /// Runs `work` on a read connection, off the async threads.
    pub async fn read<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db) -> Result<T, DbError> + Send + 'static,
    {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || readers.with(work))
            .await
            .unwrap_or_else(|_| Err(DbError::new("the writer has stopped")))
    }

    /// A read connection for a caller that keeps it across a long read (a streamed listing); it
    /// goes back to the pool with [`Store::give_back`].
    pub fn reader(&self) -> Arc<Readers> {
        self.readers.clone()
    }

    /// Stops taking writes, lets the writers commit what they hold, and waits for them; then
    /// says how many writes were committed in how many transactions.
    pub fn close(&self) {
        lock(&self.writer).take();
        for thread in std::mem::take(&mut *lock(&self.threads)) {
            let _ = thread.join();
        }
        eprintln!(
            "reftrack-collector: stopped; {} writes committed in {} transactions",
            self.tally.writes.load(Ordering::Relaxed),
            self.tally.commits.load(Ordering::Relaxed)
        );
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A writer: takes whatever writes are waiting (at most [`MAX_GROUP`]), runs them in one
/// transaction, commits, answers them all. When the group fails, each write is tried alone, so
/// one bad write costs the others nothing; a conflict with another collector is tried again.
fn writer(
    mut db: Db,
    target: &Target,
    receiver: &Mutex<mpsc::Receiver<Box<dyn Task>>>,
    tally: &Tally,
) {
    loop {
        let mut group = Vec::new();
        {
            let receiver = lock(receiver);
            match receiver.recv() {
                Ok(first) => group.push(first),
                Err(_) => return,
            }
            while group.len() < MAX_GROUP {
                match receiver.try_recv() {
                    Ok(task) => group.push(task),
                    Err(_) => break,
                }
            }
        }
        if db.is_closed() {
            match Db::connect(target) {
                Ok(fresh) => db = fresh,
                Err(error) => {
                    eprintln!("reftrack-collector: database error: {error}");
                    for task in group {
                        task.finish(Err(DbError::new("the writer has stopped")));
                    }
                    continue;
                }
            }
        }
        match transaction(&mut db, &mut group) {
            Ok(()) => {
                tally.commits.fetch_add(1, Ordering::Relaxed);
                tally
                    .writes
                    .fetch_add(group.len() as u64, Ordering::Relaxed);
                group.into_iter().for_each(|task| task.finish(Ok(())));
            }
            Err(_) if group.len() > 1 => {
                for mut task in group {
                    let mut outcome = Err(DbError::new("the writer has stopped"));
                    for _attempt in 0..3 {
                        outcome = transaction(&mut db, std::slice::from_mut(&mut task));
                        if !outcome.as_ref().is_err_and(DbError::is_conflict) {
                            break;
                        }
                    }
                    if outcome.is_ok() {
                        tally.commits.fetch_add(1, Ordering::Relaxed);
                        tally.writes.fetch_add(1, Ordering::Relaxed);
                    }
                    log_error(&outcome);
                    task.finish(outcome);
                }
            }
            Err(error) => {
                let outcome = Err(error);
                log_error(&outcome);
                if let Some(task) = group.pop() {
                    task.finish(outcome);
                }
            }
        }
    }
}

fn log_error(outcome: &Result<(), DbError>) {
    if let Err(error) = outcome {
        eprintln!("reftrack-collector: database error: {error}");
    }
}

fn transaction(db: &mut Db, group: &mut [Box<dyn Task>]) -> Result<(), DbError> {
    let result = db
        .begin()
        .and_then(|()| group.iter_mut().try_for_each(|task| task.run(db)))
        .and_then(|()| db.commit());
    if result.is_err() {
        db.rollback();
    }
    result
}

/// Read connections, opened as needed and kept for reuse.
pub struct Readers {
    target: Target,
    idle: Mutex<Vec<Db>>,
}

impl Readers {
    /// Runs `work` on an idle connection, or a new one; keeps the connection if it still works.
    pub fn with<T>(&self, work: impl FnOnce(&mut Db) -> Result<T, DbError>) -> Result<T, DbError> {
        let mut db = self.take()?;
        let result = work(&mut db);
        db.rollback();
        if result.is_ok() && !db.is_closed() {
            let mut idle = lock(&self.idle);
            if idle.len() < MAX_IDLE_READERS {
                idle.push(db);
            }
        }
        result
    }

    fn take(&self) -> Result<Db, DbError> {
        let idle = lock(&self.idle).pop();
        match idle {
            Some(db) if !db.is_closed() => Ok(db),
            _ => Db::connect(&self.target),
        }
    }
}

/// Stores `record` unless the database already holds it. Returns what happened, with the
/// `event_id` that is stored: the record's own, or the one of the record it duplicates.
pub fn save(db: &mut Db, record: &Record, received_at: &str) -> Result<(Saved, String), DbError> {
    let body = Value::Object(record.body.clone()).to_string();
    let changed = db.execute(
        "INSERT INTO records
             (event_id, kind, public_key, customer_key, xid, body, received_at, partner_key,
              claimed_partner_key, verified, amount, currency, transaction_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT DO NOTHING",
        &[
            record.event_id.as_str().into(),
            record.kind.into(),
            record.public_key.as_deref().into(),
            record.customer_key.as_str().into(),
            record.xid.as_deref().into(),
            body.as_str().into(),
            received_at.into(),
            record.partner_key.as_deref().into(),
            record.claimed_partner_key.as_deref().into(),
            i64::from(record.verified).into(),
            record.amount.into(),
            record.currency.as_deref().into(),
            record.transaction_key.as_deref().into(),
        ],
    )?;
    if changed == 1 {
        return Ok((Saved::Created, record.event_id.clone()));
    }
    let stored = db.first(
        "SELECT event_id FROM records WHERE event_id = $1
         UNION ALL
         SELECT event_id FROM records
             WHERE kind = 'signup' AND $2 = 'signup' AND public_key = $3 AND customer_key = $4
         UNION ALL
         SELECT event_id FROM records
             WHERE kind = 'conversion' AND $2 = 'conversion'
               AND ((xid = $5 AND customer_key = $4) OR transaction_key = $6)",
        &[
            record.event_id.as_str().into(),
            record.kind.into(),
            record.public_key.as_deref().into(),
            record.customer_key.as_str().into(),
            record.xid.as_deref().into(),
            record.transaction_key.as_deref().into(),
        ],
    )?;
    let event_id = first_text(stored).unwrap_or_else(|| record.event_id.clone());
    Ok((Saved::Duplicate, event_id))
}

/// One click of a partner link.
#[derive(Debug, Clone)]
pub struct Click {
    /// The partner.
    pub partner_key: String,
    /// Where the link sends the visitor.
    pub destination: String,
    /// The `Referer` of the click.
    pub referrer: Option<String>,
    /// The visitor's user agent.
    pub user_agent: String,
    /// The visitor's address, truncated.
    pub ip_prefix: String,
    /// When, in ms since the epoch.
    pub at_ms: i64,
    /// The same time as ISO 8601 text.
    pub at: String,
}

/// How long the same visitor clicking the same partner's link counts as one click.
pub const CLICK_WINDOW_MS: i64 = 60 * 60 * 1000;

/// Records a click, unless the same visitor (truncated address and user agent) clicked the same
/// partner's link within [`CLICK_WINDOW_MS`]: then that click's id comes back and no row is added
/// (a reload is not a click). `new_id` is the id a new click gets. Collectors sharing a database
/// take turns per visitor, so two of them cannot both record the same visitor's click.
pub fn click(db: &mut Db, click: &Click, new_id: &str) -> Result<(String, bool), DbError> {
    db.lock(&format!(
        "click\n{}\n{}\n{}",
        click.partner_key, click.ip_prefix, click.user_agent
    ))?;
    let recent = db.first(
        "SELECT xid FROM clicks
         WHERE partner_key = $1 AND ip_prefix = $2 AND user_agent = $3 AND at_ms > $4
         ORDER BY at_ms DESC LIMIT 1",
        &[
            click.partner_key.as_str().into(),
            click.ip_prefix.as_str().into(),
            click.user_agent.as_str().into(),
            (click.at_ms - CLICK_WINDOW_MS).into(),
        ],
    )?;
    if let Some(xid) = first_text(recent) {
        return Ok((xid, false));
    }
    db.execute(
        "INSERT INTO clicks (xid, partner_key, at, at_ms, destination, referrer, user_agent,
                             ip_prefix)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            new_id.into(),
            click.partner_key.as_str().into(),
            click.at.as_str().into(),
            click.at_ms.into(),
            click.destination.as_str().into(),
            click.referrer.as_deref().into(),
            click.user_agent.as_str().into(),
            click.ip_prefix.as_str().into(),
        ],
    )?;
    Ok((new_id.to_owned(), true))
}

/// The first column of `row`, as text.
fn first_text(row: Option<Vec<V>>) -> Option<String> {
    row.and_then(|row| row.into_iter().next()?.text())
}

/// The partner of click `xid`, if it was recorded here.
pub fn click_partner(db: &mut Db, xid: &str) -> Result<Option<String>, DbError> {
    db.first(
        "SELECT partner_key FROM clicks WHERE xid = $1",
        &[xid.into()],
    )
    .map(first_text)
}

/// The partner of `xid`: through its click, or else through a stored signup that carried it
/// (click ids made elsewhere, before a migration).
pub fn xid_partner(db: &mut Db, xid: &str) -> Result<Option<String>, DbError> {
    if let Some(partner) = click_partner(db, xid)? {
        return Ok(Some(partner));
    }
    db.first(
        "SELECT partner_key FROM records
         WHERE kind = 'signup' AND xid = $1 AND partner_key IS NOT NULL
         ORDER BY id LIMIT 1",
        &[xid.into()],
    )
    .map(first_text)
}

/// Whether `partner_key` is known here: it has a recorded click or a credited record.
pub fn known_partner(db: &mut Db, partner_key: &str) -> Result<bool, DbError> {
    let row = db.first(
        "SELECT 1 FROM clicks WHERE partner_key = $1
         UNION ALL
         SELECT 1 FROM records WHERE partner_key = $1",
        &[partner_key.into()],
    )?;
    Ok(row.is_some())
}

/// The page of the listing below `before` (a row id; the newest first): the ids it spans, and
/// whether older rows remain. `None` when the page is empty.
pub fn page(db: &mut Db, before: i64, limit: i64) -> Result<Option<(i64, i64, bool)>, DbError> {
    let span = db.first(
        "SELECT MIN(id), MAX(id) FROM
             (SELECT id FROM records WHERE id < $1 ORDER BY id DESC LIMIT $2) AS page",
        &[before.into(), limit.into()],
    )?;
    let Some([V::Int(low), V::Int(high)]) = span.as_deref() else {
        return Ok(None);
    };
    let older = db
        .first(
            "SELECT id FROM records WHERE id < $1 LIMIT 1",
            &[(*low).into()],
        )?
        .is_some();
    Ok(Some((*low, *high, older)))
}

/// Each record from id `high` down to `low`, as the listing shows it: its body plus
/// `received_at`, the partner it credits as `partner_key`, `verified: false` when
/// `--verified-clicks` found no click behind it, and `claimed_partner_key` when its click named
/// another partner than it did. `each` stops the reading by answering `false`.
pub fn each_listed(
    db: &mut Db,
    low: i64,
    high: i64,
    mut each: impl FnMut(Value) -> bool,
) -> Result<(), DbError> {
    db.for_each(
        "SELECT body, received_at, partner_key, claimed_partner_key, verified, amount, currency,
                transaction_key
         FROM records WHERE id >= $1 AND id <= $2 ORDER BY id DESC",
        &[low.into(), high.into()],
        |row| each(listed(row)),
    )
}

fn listed(row: Vec<V>) -> Value {
    let mut row = row.into_iter();
    let mut next = || row.next().unwrap_or(V::Null);
    let mut object: Map<String, Value> = next()
        .text()
        .and_then(|body| serde_json::from_str(&body).ok())
        .unwrap_or_default();
    object.insert("received_at".into(), json_text(next().text()));
    object.insert("partner_key".into(), json_text(next().text()));
    if let Some(claimed) = next().text() {
        object.insert("claimed_partner_key".into(), Value::String(claimed));
    }
    if next().int() == Some(0) {
        object.insert("verified".into(), Value::Bool(false));
    }
    let (amount, currency) = (next(), next());
    if let Some(amount) = amount.int() {
        object.insert("amount".into(), amount.into());
        object.insert("currency".into(), json_text(currency.text()));
    }
    if let Some(key) = next().text() {
        object.insert("transaction_key".into(), Value::String(key));
    }
    Value::Object(object)
}

/// One partner's line of the report.
pub struct PartnerRow {
    /// The partner.
    pub partner_key: String,
    /// Clicks of the partner's links.
    pub clicks: i64,
    /// Signups credited to the partner (verified ones, with `--verified-clicks`).
    pub signups: i64,
    /// Conversions credited to the partner.
    pub conversions: i64,
    /// The time of the latest of them.
    pub last_activity: String,
}

/// One day of the report.
pub struct DayRow {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Clicks that day.
    pub clicks: i64,
    /// Signups that day.
    pub signups: i64,
    /// Conversions that day.
    pub conversions: i64,
}

/// Per partner, over the days `since` to `until` (`YYYY-MM-DD`, both included): clicks, verified
/// signups, conversions, and the last activity; and per day, clicks and signups. Both read one
/// snapshot.
pub fn report(
    db: &mut Db,
    since: &str,
    until: &str,
) -> Result<(Vec<PartnerRow>, Vec<DayRow>), DbError> {
    db.begin_read()?;
    let partners = db.query(
        "SELECT partner_key, SUM(clicks), SUM(signups), SUM(conversions), MAX(at)
         FROM (SELECT partner_key, 1 AS clicks, 0 AS signups, 0 AS conversions, at FROM clicks
               UNION ALL
               SELECT partner_key, 0, 1, 0, received_at FROM records
                   WHERE kind = 'signup' AND verified = 1 AND partner_key IS NOT NULL
               UNION ALL
               SELECT partner_key, 0, 0, 1, received_at FROM records
                   WHERE kind = 'conversion' AND partner_key IS NOT NULL) AS events
         WHERE substr(at, 1, 10) BETWEEN $1 AND $2
         GROUP BY partner_key ORDER BY partner_key",
        &[since.into(), until.into()],
    )?;
    let days = db.query(
        "SELECT substr(at, 1, 10) AS day, SUM(clicks), SUM(signups), SUM(conversions)
         FROM (SELECT 1 AS clicks, 0 AS signups, 0 AS conversions, at FROM clicks
               UNION ALL
               SELECT 0, 1, 0, received_at FROM records
                   WHERE kind = 'signup' AND verified = 1 AND partner_key IS NOT NULL
               UNION ALL
               SELECT 0, 0, 1, received_at FROM records
                   WHERE kind = 'conversion' AND partner_key IS NOT NULL) AS events
         WHERE substr(at, 1, 10) BETWEEN $1 AND $2
         GROUP BY day ORDER BY day",
        &[since.into(), until.into()],
    )?;
    db.rollback();
    let int = |v: &V| v.int().unwrap_or(0);
    let partners = partners
        .into_iter()
        .map(|row| PartnerRow {
            partner_key: row[0].clone().text().unwrap_or_default(),
            clicks: int(&row[1]),
            signups: int(&row[2]),
            conversions: int(&row[3]),
            last_activity: row[4].clone().text().unwrap_or_default(),
        })
        .collect();
    let days = days
        .into_iter()
        .map(|row| DayRow {
            day: row[0].clone().text().unwrap_or_default(),
            clicks: int(&row[1]),
            signups: int(&row[2]),
            conversions: int(&row[3]),
        })
        .collect();
    Ok((partners, days))
}

/// Whether the store answers (for `GET /healthz`).
pub fn ping(db: &mut Db) -> Result<(), DbError> {
    db.first("SELECT 1", &[]).map(drop)
}

fn json_text(text: Option<String>) -> Value {
    text.map_or(Value::Null, Value::String)
}
