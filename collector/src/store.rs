//! The SQLite store: one table of records (signups and conversions), each row committed before
//! the request that brought it is answered.

use crate::validate::Record;
use rusqlite::{params, Connection};
use serde_json::{Map, Value};
use std::path::Path;
use std::sync::Mutex;

/// Whether a record was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// Stored now.
    Created,
    /// Already there: same `event_id`, or the same customer of the same program.
    Duplicate,
}

/// The database.
pub struct Store {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS records (
    id           INTEGER PRIMARY KEY,
    event_id     TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    public_key   TEXT,
    customer_key TEXT NOT NULL,
    xid          TEXT,
    body         TEXT NOT NULL,
    received_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS signup_per_customer
    ON records (public_key, customer_key) WHERE kind = 'signup';
CREATE UNIQUE INDEX IF NOT EXISTS conversion_per_customer
    ON records (xid, customer_key) WHERE kind = 'conversion';
";

impl Store {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> rusqlite::Result<Store> {
        let conn = Connection::open(path)?;
        // WAL lets readers proceed during writes; FULL makes each commit durable before we answer.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (every write is one
        // statement), so a poisoned lock is safe to keep using.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores `record` unless it is a duplicate. Returns once the row is committed.
    pub fn save(&self, record: &Record, received_at: &str) -> rusqlite::Result<Saved> {
        let body = Value::Object(record.body.clone()).to_string();
        let changed = self.conn().execute(
            "INSERT OR IGNORE INTO records
                 (event_id, kind, public_key, customer_key, xid, body, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                record.event_id,
                record.kind,
                record.public_key,
                record.customer_key,
                record.xid,
                body,
                received_at
            ],
        )?;
        Ok(if changed == 1 {
            Saved::Created
        } else {
            Saved::Duplicate
        })
    }

    /// The newest `limit` records, newest first, each its body plus `received_at`.
    pub fn list(&self, limit: u32) -> rusqlite::Result<Vec<Value>> {
        let conn = self.conn();
        let mut statement =
            conn.prepare("SELECT body, received_at FROM records ORDER BY id DESC LIMIT ?1")?;
        let rows = statement.query_map([limit], |row| {
            let body: String = row.get(0)?;
            let received_at: String = row.get(1)?;
            Ok((body, received_at))
        })?;
        rows.map(|row| {
            let (body, received_at) = row?;
            let mut object: Map<String, Value> = serde_json::from_str(&body).unwrap_or_default();
            object.insert("received_at".into(), Value::String(received_at));
            Ok(Value::Object(object))
        })
        .collect()
    }
}
