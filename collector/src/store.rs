//! The SQLite store: one table of records (signups and conversions), each row committed before
//! the request that brought it is answered.

use crate::validate::Record;
use rusqlite::{params, Connection, OptionalExtension};
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

/// The schema as the first collector wrote it (version 1, before `schema_version` existed).
const V1: &str = "
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

/// Version 2: partner-link clicks, and records resolved to the partner they credit.
const V2: &str = "
CREATE TABLE clicks (
    xid         TEXT PRIMARY KEY,
    partner_key TEXT NOT NULL,
    at          TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    destination TEXT NOT NULL,
    referrer    TEXT,
    user_agent  TEXT NOT NULL,
    ip_prefix   TEXT NOT NULL
);
CREATE INDEX clicks_by_visitor ON clicks (partner_key, ip_prefix, user_agent, at_ms);
ALTER TABLE records ADD COLUMN partner_key TEXT;
ALTER TABLE records ADD COLUMN claimed_partner_key TEXT;
ALTER TABLE records ADD COLUMN verified INTEGER NOT NULL DEFAULT 1;
ALTER TABLE records ADD COLUMN amount INTEGER;
ALTER TABLE records ADD COLUMN currency TEXT;
ALTER TABLE records ADD COLUMN transaction_key TEXT;
UPDATE records SET partner_key = json_extract(body, '$.partner_key');
CREATE UNIQUE INDEX conversion_per_transaction
    ON records (transaction_key) WHERE kind = 'conversion' AND transaction_key IS NOT NULL;
";

/// Every migration, in order: entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: [&str; 2] = [V1, V2];

/// One click of a partner link.
pub struct Click<'a> {
    /// The partner.
    pub partner_key: &'a str,
    /// Where the link sends the visitor.
    pub destination: &'a str,
    /// The `Referer` of the click.
    pub referrer: Option<&'a str>,
    /// The visitor's user agent.
    pub user_agent: &'a str,
    /// The visitor's address, truncated.
    pub ip_prefix: &'a str,
    /// When, in ms since the epoch, and as ISO 8601.
    pub at_ms: i64,
    /// The same time as text.
    pub at: &'a str,
}

/// How long the same visitor clicking the same partner's link counts as one click.
pub const CLICK_WINDOW_MS: i64 = 60 * 60 * 1000;

impl Store {
    /// Opens (creating if needed) the database at `path`, migrated to the newest schema.
    pub fn open(path: &Path) -> rusqlite::Result<Store> {
        let conn = Connection::open(path)?;
        // WAL lets readers proceed during writes; FULL makes each commit durable before we answer.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&conn)?;
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
                 (event_id, kind, public_key, customer_key, xid, body, received_at, partner_key,
                  claimed_partner_key, verified, amount, currency, transaction_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                record.event_id,
                record.kind,
                record.public_key,
                record.customer_key,
                record.xid,
                body,
                received_at,
                record.partner_key,
                record.claimed_partner_key,
                record.verified,
                record.amount,
                record.currency,
                record.transaction_key,
            ],
        )?;
        Ok(if changed == 1 {
            Saved::Created
        } else {
            Saved::Duplicate
        })
    }

    /// The newest `limit` records, newest first, each its body plus `received_at`, with the partner
    /// it credits as `partner_key`; `verified: false` when `--verified-clicks` found no click
    /// behind it, and `claimed_partner_key` when its click named another partner than it did.
    pub fn list(&self, limit: u32) -> rusqlite::Result<Vec<Value>> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT body, received_at, partner_key, claimed_partner_key, verified, amount, currency,
                    transaction_key
             FROM records ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = statement.query_map([limit], |row| {
            let body: String = row.get(0)?;
            let mut object: Map<String, Value> = serde_json::from_str(&body).unwrap_or_default();
            object.insert("received_at".into(), Value::String(row.get(1)?));
            object.insert("partner_key".into(), json_text(row.get(2)?));
            if let Some(claimed) = row.get::<_, Option<String>>(3)? {
                object.insert("claimed_partner_key".into(), Value::String(claimed));
            }
            if !row.get::<_, bool>(4)? {
                object.insert("verified".into(), Value::Bool(false));
            }
            if let Some(amount) = row.get::<_, Option<i64>>(5)? {
                object.insert("amount".into(), amount.into());
                object.insert("currency".into(), json_text(row.get(6)?));
            }
            if let Some(key) = row.get::<_, Option<String>>(7)? {
                object.insert("transaction_key".into(), Value::String(key));
            }
            Ok(Value::Object(object))
        })?;
        rows.collect()
    }

    /// Records a click, unless the same visitor (truncated address and user agent) clicked the
    /// same partner's link within [`CLICK_WINDOW_MS`]: then that click's id comes back and no row
    /// is added (a reload is not a click). `new_id` is the id a new click gets.
    pub fn click(&self, click: &Click<'_>, new_id: &str) -> rusqlite::Result<(String, bool)> {
        let conn = self.conn();
        let recent: Option<String> = conn
            .query_row(
                "SELECT xid FROM clicks
                 WHERE partner_key = ?1 AND ip_prefix = ?2 AND user_agent = ?3 AND at_ms > ?4
                 ORDER BY at_ms DESC LIMIT 1",
                params![
                    click.partner_key,
                    click.ip_prefix,
                    click.user_agent,
                    click.at_ms - CLICK_WINDOW_MS
                ],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(xid) = recent {
            return Ok((xid, false));
        }
        conn.execute(
            "INSERT INTO clicks (xid, partner_key, at, at_ms, destination, referrer, user_agent,
                                 ip_prefix)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                new_id,
                click.partner_key,
                click.at,
                click.at_ms,
                click.destination,
                click.referrer,
                click.user_agent,
                click.ip_prefix
            ],
        )?;
        Ok((new_id.to_owned(), true))
    }

    /// The partner of click `xid`, if it was recorded here.
    pub fn click_partner(&self, xid: &str) -> rusqlite::Result<Option<String>> {
        self.conn()
            .query_row(
                "SELECT partner_key FROM clicks WHERE xid = ?1",
                [xid],
                |row| row.get(0),
            )
            .optional()
    }

    /// The partner of `xid`: through its click, or else through a stored signup that carried it
    /// (click ids made elsewhere, before a migration).
    pub fn xid_partner(&self, xid: &str) -> rusqlite::Result<Option<String>> {
        if let Some(partner) = self.click_partner(xid)? {
            return Ok(Some(partner));
        }
        self.conn()
            .query_row(
                "SELECT partner_key FROM records
                 WHERE kind = 'signup' AND xid = ?1 AND partner_key IS NOT NULL
                 ORDER BY id LIMIT 1",
                [xid],
                |row| row.get(0),
            )
            .optional()
    }

    /// Whether `partner_key` is known here: it has a recorded click or a credited record.
    pub fn known_partner(&self, partner_key: &str) -> rusqlite::Result<bool> {
        self.conn().query_row(
            "SELECT EXISTS (SELECT 1 FROM clicks WHERE partner_key = ?1)
                 OR EXISTS (SELECT 1 FROM records WHERE partner_key = ?1)",
            [partner_key],
            |row| row.get(0),
        )
    }

    /// Per partner, over the days `since` to `until` (`YYYY-MM-DD`, both included): clicks,
    /// verified signups, conversions, and the last activity; and per day, clicks and signups.
    pub fn report(
        &self,
        since: &str,
        until: &str,
    ) -> rusqlite::Result<(Vec<PartnerRow>, Vec<DayRow>)> {
        const EVENTS: &str = "
            SELECT partner_key, 1 AS clicks, 0 AS signups, 0 AS conversions, at AS at FROM clicks
            UNION ALL
            SELECT partner_key, 0, 1, 0, received_at FROM records
                WHERE kind = 'signup' AND verified = 1 AND partner_key IS NOT NULL
            UNION ALL
            SELECT partner_key, 0, 0, 1, received_at FROM records
                WHERE kind = 'conversion' AND partner_key IS NOT NULL";
        let conn = self.conn();
        let mut partners = conn.prepare(&format!(
            "SELECT partner_key, SUM(clicks), SUM(signups), SUM(conversions), MAX(at)
             FROM ({EVENTS}) WHERE substr(at, 1, 10) BETWEEN ?1 AND ?2
             GROUP BY partner_key ORDER BY partner_key"
        ))?;
        let partners = partners
            .query_map([since, until], |row| {
                Ok(PartnerRow {
                    partner_key: row.get(0)?,
                    clicks: row.get(1)?,
                    signups: row.get(2)?,
                    conversions: row.get(3)?,
                    last_activity: row.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut days = conn.prepare(&format!(
            "SELECT substr(at, 1, 10) AS day, SUM(clicks), SUM(signups), SUM(conversions)
             FROM ({EVENTS}) WHERE substr(at, 1, 10) BETWEEN ?1 AND ?2
             GROUP BY day ORDER BY day"
        ))?;
        let days = days
            .query_map([since, until], |row| {
                Ok(DayRow {
                    day: row.get(0)?,
                    clicks: row.get(1)?,
                    signups: row.get(2)?,
                    conversions: row.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((partners, days))
    }
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

fn json_text(text: Option<String>) -> Value {
    text.map_or(Value::Null, Value::String)
}

/// Brings the database to the newest schema, each step in one transaction. A database written
/// before `schema_version` existed is version 1 when it has the `records` table, else empty.
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    let recorded: Option<i64> =
        conn.query_row("SELECT MAX(version) FROM schema_version", [], |row| {
            row.get(0)
        })?;
    let version = match recorded {
        Some(version) => version,
        None => conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'records')",
            [],
            |row| row.get::<_, bool>(0).map(i64::from),
        )?,
    };
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let next = step as i64 + 1;
        conn.execute_batch(&format!(
            "BEGIN; {sql}; DELETE FROM schema_version; INSERT INTO schema_version VALUES ({next}); COMMIT;"
        ))?;
    }
    Ok(())
}
