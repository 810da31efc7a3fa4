//! The store: records (signups and conversions) and partner-link clicks, in SQLite or PostgreSQL.
//!
//! Writes go through one writer thread per collector (four on PostgreSQL), which commits them in
//! groups: every write waiting when a commit starts shares that transaction and its one fsync, and
//! each is answered only after the commit that holds it. Reads (listing, the report) use a bounded
//! pool of their own connections and never wait for the writer. The database's own constraints
//! decide duplicates, so collectors sharing one PostgreSQL cannot both store the same record.
//!
//! Every call has a deadline (`--db-timeout`): a caller past it gets [`DbError::is_timeout`], and a
//! write whose caller has given up before it ran is not run at all, so nothing is stored for an
//! answer that said it was not.

pub mod claims;
pub mod clicks;
mod dialect;
pub mod engine;
pub mod ledger;
mod migrations;
pub mod money;
pub mod partners;
pub mod payouts;
pub mod preview;
pub mod records;
pub mod report;
mod types;

pub use engine::{Db, DbError, Target};
pub use records::Saved;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, Semaphore};

/// The most writes one transaction takes.
const MAX_GROUP: usize = 1024;

/// Writer threads on PostgreSQL: each commits a group while the others gather theirs (the
/// server orders them; its constraints keep them apart). SQLite has one writer at a time anyway.
const POSTGRES_WRITERS: usize = 4;

/// Read connections open at once, at most; a read waits for one within the deadline.
pub const MAX_READERS: usize = 16;

/// How many idle read connections are kept.
const MAX_IDLE_READERS: usize = 4;

/// The store: writer threads and a bounded pool of readers.
pub struct Store {
    writer: Mutex<Option<mpsc::Sender<Box<dyn Task>>>>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    readers: Arc<Readers>,
    tally: Arc<Tally>,
    timeout: Duration,
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
    /// When the caller stops waiting: a task not started by then is answered without running.
    fn deadline(&self) -> Instant;
    /// Whether it runs in a transaction of its own (see [`Store::write_alone`]).
    fn alone(&self) -> bool;
    fn run(&mut self, db: &mut Db) -> Result<(), DbError>;
    fn finish(self: Box<Self>, committed: Result<(), DbError>);
}

struct Write<T, F> {
    work: F,
    out: Option<T>,
    deadline: Instant,
    alone: bool,
    reply: oneshot::Sender<Result<T, DbError>>,
}

impl<T: Send, F: FnMut(&mut Db) -> Result<T, DbError> + Send> Task for Write<T, F> {
    fn deadline(&self) -> Instant {
        self.deadline
    }

    fn alone(&self) -> bool {
        self.alone
    }

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
    /// Opens `target` (creating and migrating it), checks that it can be written, and starts the
    /// writers. `timeout` bounds every database call.
    pub fn open(target: &Target, timeout: Duration) -> Result<Store, DbError> {
        let writers = match target {
            Target::Sqlite(_) => 1,
            Target::Postgres(_) => POSTGRES_WRITERS,
        };
        let (sender, receiver) = mpsc::channel::<Box<dyn Task>>();
        let receiver = Arc::new(Mutex::new(receiver));
        let tally = Arc::new(Tally::default());
        let mut threads = Vec::new();
        for n in 0..writers {
            let mut db = if n == 0 {
                Db::open(target, timeout)?
            } else {
                Db::connect(target, timeout)?
            };
            if n == 0 {
                // A read-only file or role migrates nothing when the schema is current: find out
                // now, not at the first signup.
                probe(&mut db, "start")
                    .map_err(|e| DbError::new(format!("the database cannot be written: {e}")))?;
            }
            let (reconnect, receiver, tally) = (target.clone(), receiver.clone(), tally.clone());
            let thread = std::thread::Builder::new()
                .name(format!("reftrack-writer-{n}"))
                .spawn(move || writer(db, &reconnect, timeout, &receiver, &tally))
                .map_err(|e| DbError::new(format!("cannot start the writer: {e}")))?;
            threads.push(thread);
        }
        Ok(Store {
            writer: Mutex::new(Some(sender)),
            threads: Mutex::new(threads),
            tally,
            timeout,
            readers: Arc::new(Readers {
                target: target.clone(),
                timeout,
                slots: Arc::new(Semaphore::new(MAX_READERS)),
                idle: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Runs `work` in the next group transaction; resolves once it is committed, or with a
    /// timeout error past `--db-timeout`. `work` may run more than once (alone, after its group
    /// failed), so it must only read what it captured.
    pub async fn write<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnMut(&mut Db) -> Result<T, DbError> + Send + 'static,
    {
        self.submit(work, false).await
    }

    /// [`Store::write`] in a transaction of its own, never grouped with others: for a write
    /// that takes a lock the others take later in theirs (a payout takes the partner's balance
    /// first), so that two writers' groups cannot wait on each other.
    pub async fn write_alone<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnMut(&mut Db) -> Result<T, DbError> + Send + 'static,
    {
        self.submit(work, true).await
    }

    async fn submit<T, F>(&self, work: F, alone: bool) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnMut(&mut Db) -> Result<T, DbError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let deadline = Instant::now() + self.timeout;
        let task = Box::new(Write {
            work,
            out: None,
            deadline,
            alone,
            reply,
        });
        let sent = lock(&self.writer)
            .as_ref()
            .is_some_and(|sender| sender.send(task).is_ok());
        if !sent {
            return Err(DbError::new("the writer has stopped"));
        }
        match tokio::time::timeout_at(deadline.into(), answer).await {
            Ok(answer) => answer.unwrap_or_else(|_| Err(DbError::new("the writer has stopped"))),
            Err(_) => Err(DbError::timeout(self.timeout)),
        }
    }

    /// Runs `work` on a read connection, off the async threads, within `--db-timeout`.
    pub async fn read<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db) -> Result<T, DbError> + Send + 'static,
    {
        let readers = self.readers.clone();
        let read = async move {
            let slot = readers.slots.clone().acquire_owned().await;
            tokio::task::spawn_blocking(move || {
                let _slot = slot;
                readers.with(work)
            })
            .await
            .unwrap_or_else(|_| Err(DbError::new("the read failed")))
        };
        tokio::time::timeout(self.timeout, read)
            .await
            .unwrap_or_else(|_| Err(DbError::timeout(self.timeout)))
    }

    /// The read pool, for a caller that keeps a connection across a long read (a streamed
    /// listing); it takes one of the pool's slots with [`Readers::slot`].
    pub fn reader(&self) -> Arc<Readers> {
        self.readers.clone()
    }

    /// Whether the store can write now: one small write, group-committed like any other.
    pub async fn probe(&self) -> Result<(), DbError> {
        self.write(|db| probe(db, "health")).await
    }

    /// Stops taking writes, lets the writers commit what they hold, and waits for them; then
    /// says how many writes were committed in how many transactions.
    pub fn close(&self) {
        lock(&self.writer).take();
        for thread in std::mem::take(&mut *lock(&self.threads)) {
            let _ = thread.join();
        }
        tracing::info!(
            writes = self.tally.writes.load(Ordering::Relaxed),
            transactions = self.tally.commits.load(Ordering::Relaxed),
            "stopped"
        );
    }
}

/// Rewrites the health row (in the caller's transaction, or its own).
fn probe(db: &mut Db, by: &str) -> Result<(), DbError> {
    let changed = db.execute(
        "UPDATE health SET probed_at = $1 WHERE id = 1",
        &[by.into()],
    )?;
    if changed == 1 {
        Ok(())
    } else {
        Err(DbError::new("the health row is missing"))
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
/// Writes whose callers have stopped waiting are answered without running.
fn writer(
    mut db: Db,
    target: &Target,
    timeout: Duration,
    receiver: &Mutex<mpsc::Receiver<Box<dyn Task>>>,
    tally: &Tally,
) {
    // A task that runs alone, met while a group was gathered: it starts the next one.
    let mut held: Option<Box<dyn Task>> = None;
    loop {
        let mut group = Vec::new();
        {
            let receiver = lock(receiver);
            match held.take().map_or_else(|| receiver.recv(), Ok) {
                Ok(first) => group.push(first),
                Err(_) => return,
            }
            while group.len() < MAX_GROUP && !group[0].alone() {
                match receiver.try_recv() {
                    Ok(task) if task.alone() => {
                        held = Some(task);
                        break;
                    }
                    Ok(task) => group.push(task),
                    Err(_) => break,
                }
            }
        }
        let now = Instant::now();
        let (mut group, late): (Vec<_>, Vec<_>) =
            group.into_iter().partition(|task| task.deadline() > now);
        for task in late {
            task.finish(Err(DbError::timeout(timeout)));
        }
        if group.is_empty() {
            continue;
        }
        if db.is_closed() {
            match Db::connect(target, timeout) {
                Ok(fresh) => db = fresh,
                Err(error) => {
                    tracing::error!(%error, "database error");
                    for task in group {
                        task.finish(Err(DbError::new("the database is unreachable")));
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
        tracing::error!(%error, "database error");
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

/// Read connections: at most [`MAX_READERS`] at once, opened as needed and kept for reuse.
pub struct Readers {
    target: Target,
    timeout: Duration,
    slots: Arc<Semaphore>,
    idle: Mutex<Vec<Db>>,
}

impl Readers {
    /// One of the pool's slots, waited for within `--db-timeout`.
    pub async fn slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, DbError> {
        match tokio::time::timeout(self.timeout, self.slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => Ok(slot),
            _ => Err(DbError::timeout(self.timeout)),
        }
    }

    /// Runs `work` on an idle connection, or a new one; keeps the connection if it still works.
    /// The caller holds a slot.
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
            _ => Db::connect(&self.target, self.timeout),
        }
    }
}
