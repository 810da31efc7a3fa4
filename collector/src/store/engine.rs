//! The two database engines behind one small interface: SQLite (embedded, one file) and
//! PostgreSQL (shared by several collectors). The store's SQL is written once, in the dialect both
//! accept, with `$1`-style parameters; the schema is one list of migrations for both, with the two
//! places where the dialects differ spelled as `{tokens}`.

use std::collections::HashMap;
use std::time::Duration;

use super::dialect::{pg_params, pg_refs, pg_value, sqlite_param, sqlite_static, sqlite_value};
pub use super::types::{first_text, DbError, Target, P, V};

/// One connection to either engine.
pub enum Db {
    /// SQLite.
    Sqlite(rusqlite::Connection),
    /// PostgreSQL, with its prepared statements.
    Postgres(Box<Pg>),
}

/// A PostgreSQL connection and the statements prepared on it.
pub struct Pg {
    client: postgres::Client,
    prepared: HashMap<&'static str, postgres::Statement>,
    /// Whether `begin` or `begin_read` opened a transaction not yet ended.
    in_transaction: bool,
    /// Writes to shared rows, run at commit in the order of their keys ([`Db::defer`]).
    deferred: Vec<(String, Deferred)>,
}

/// A write [`Db::defer`] holds back until the transaction commits.
pub type Deferred = Box<dyn FnOnce(&mut Db) -> Result<(), DbError> + Send>;

impl Db {
    /// Connects, without migrating. `timeout` bounds the connection, a wait for a lock and, on
    /// PostgreSQL, each statement (`statement_timeout`).
    pub fn connect(target: &Target, timeout: Duration) -> Result<Db, DbError> {
        match target {
            Target::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path)?;
                conn.busy_timeout(timeout)?;
                Ok(Db::Sqlite(conn))
            }
            Target::Postgres(url) => {
                let mut config: postgres::Config = url.parse()?;
                if config.get_connect_timeout().is_none() {
                    config.connect_timeout(timeout);
                }
                let options = format!(
                    "{} -c statement_timeout={} -c lock_timeout={}",
                    config.get_options().unwrap_or_default(),
                    timeout.as_millis(),
                    timeout.as_millis()
                );
                config.options(options.trim());
                let client = config.connect(postgres::NoTls)?;
                Ok(Db::Postgres(Box::new(Pg {
                    client,
                    prepared: HashMap::new(),
                    in_transaction: false,
                    deferred: Vec::new(),
                })))
            }
        }
    }

    /// Opens the database for writing: SQLite in WAL mode with `synchronous=FULL` (each commit on
    /// disk before it returns), both engines migrated to the newest schema.
    pub fn open(target: &Target, timeout: Duration) -> Result<Db, DbError> {
        let mut db = Db::connect(target, timeout)?;
        if let Db::Sqlite(conn) = &db {
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "FULL")?;
        }
        db.migrate()?;
        Ok(db)
    }

    /// Whether the connection is gone (PostgreSQL restarted, say) and must be opened again.
    pub fn is_closed(&self) -> bool {
        match self {
            Db::Sqlite(_) => false,
            Db::Postgres(pg) => pg.client.is_closed(),
        }
    }

    /// Runs statements without parameters (the schema, transaction control).
    pub fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        match self {
            Db::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Db::Postgres(pg) => Ok(pg.client.batch_execute(sql)?),
        }
    }

    /// Starts a write transaction (SQLite takes the write lock at once).
    pub fn begin(&mut self) -> Result<(), DbError> {
        match self {
            Db::Sqlite(_) => self.batch("BEGIN IMMEDIATE"),
            Db::Postgres(pg) => {
                pg.in_transaction = true;
                self.batch("BEGIN")
            }
        }
    }

    /// Starts a read transaction: one snapshot for the statements that follow.
    pub fn begin_read(&mut self) -> Result<(), DbError> {
        match self {
            Db::Sqlite(_) => self.batch("BEGIN"),
            Db::Postgres(pg) => {
                pg.in_transaction = true;
                self.batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            }
        }
    }

    /// Runs `write` now on SQLite, whose one writer has no one to wait for. On PostgreSQL,
    /// within a transaction, holds it back to the commit, where the held writes run in the order
    /// of their `key`s: rows many transactions write (a partner's running sums, its balance) are
    /// then locked last and in one order by every collector's writers, so that two transactions
    /// never wait on each other's.
    pub fn defer(&mut self, key: String, write: Deferred) -> Result<(), DbError> {
        match self {
            Db::Postgres(pg) if pg.in_transaction => {
                pg.deferred.push((key, write));
                Ok(())
            }
            _ => write(self),
        }
    }

    /// Commits, after the deferred writes; on SQLite with `synchronous=FULL`, that is the fsync.
    pub fn commit(&mut self) -> Result<(), DbError> {
        if let Db::Postgres(pg) = self {
            let mut deferred = std::mem::take(&mut pg.deferred);
            deferred.sort_by(|a, b| a.0.cmp(&b.0));
            for (_, write) in deferred {
                write(self)?;
            }
        }
        if let Db::Postgres(pg) = self {
            pg.in_transaction = false;
        }
        self.batch("COMMIT")
    }

    /// Abandons the transaction, if one is open.
    pub fn rollback(&mut self) {
        let open = match self {
            Db::Sqlite(conn) => !conn.is_autocommit(),
            Db::Postgres(pg) => {
                pg.deferred.clear();
                std::mem::take(&mut pg.in_transaction)
            }
        };
        if open {
            let _ = self.batch("ROLLBACK");
        }
    }

    /// Serializes writers that touch the same `key` until the transaction ends, across every
    /// collector sharing the database. SQLite needs nothing: its write transaction already is the
    /// only one.
    pub fn lock(&mut self, key: &str) -> Result<(), DbError> {
        match self {
            Db::Sqlite(_) => Ok(()),
            Db::Postgres(_) => self
                .execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                    &[key.into()],
                )
                .map(drop),
        }
    }

    /// Runs one statement, returning how many rows it changed.
    pub fn execute(&mut self, sql: &'static str, params: &[P<'_>]) -> Result<u64, DbError> {
        match self {
            Db::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sqlite_static(sql))?;
                Ok(
                    statement
                        .execute(rusqlite::params_from_iter(params.iter().map(sqlite_param)))?
                        as u64,
                )
            }
            Db::Postgres(pg) => {
                let statement = pg.prepare(sql)?;
                let values = pg_params(params);
                Ok(pg.client.execute(&statement, &pg_refs(&values))?)
            }
        }
    }

    /// Runs a query and hands each row to `each`, which stops the reading by answering `false`:
    /// rows are not gathered in memory.
    pub fn for_each(
        &mut self,
        sql: &'static str,
        params: &[P<'_>],
        mut each: impl FnMut(Vec<V>) -> bool,
    ) -> Result<(), DbError> {
        match self {
            Db::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sqlite_static(sql))?;
                let columns = statement.column_count();
                let mut rows =
                    statement.query(rusqlite::params_from_iter(params.iter().map(sqlite_param)))?;
                while let Some(row) = rows.next()? {
                    let values = (0..columns)
                        .map(|i| sqlite_value(row.get_ref(i)))
                        .collect::<Result<Vec<_>, _>>()?;
                    if !each(values) {
                        break;
                    }
                }
                Ok(())
            }
            Db::Postgres(pg) => {
                let statement = pg.prepare(sql)?;
                let values = pg_params(params);
                let mut rows = pg.client.query_raw(&statement, pg_refs(&values))?;
                while let Some(row) =
                    postgres::fallible_iterator::FallibleIterator::next(&mut rows)?
                {
                    let values = (0..row.len())
                        .map(|i| pg_value(&row, i))
                        .collect::<Result<Vec<_>, _>>()?;
                    if !each(values) {
                        break;
                    }
                }
                Ok(())
            }
        }
    }

    /// Every row of a query, gathered in memory. On PostgreSQL they arrive in one exchange with
    /// the driver, which costs far less per row than [`Db::for_each`]'s streaming.
    pub fn query(&mut self, sql: &'static str, params: &[P<'_>]) -> Result<Vec<Vec<V>>, DbError> {
        if let Db::Postgres(pg) = self {
            let statement = pg.prepare(sql)?;
            let values = pg_params(params);
            let rows = pg.client.query(&statement, &pg_refs(&values))?;
            return rows
                .iter()
                .map(|row| (0..row.len()).map(|i| pg_value(row, i)).collect())
                .collect();
        }
        let mut rows = Vec::new();
        self.for_each(sql, params, |row| {
            rows.push(row);
            true
        })?;
        Ok(rows)
    }

    /// The first row of a query, if any.
    pub fn first(
        &mut self,
        sql: &'static str,
        params: &[P<'_>],
    ) -> Result<Option<Vec<V>>, DbError> {
        let mut first = None;
        self.for_each(sql, params, |row| {
            first = Some(row);
            false
        })?;
        Ok(first)
    }
}

impl Pg {
    fn prepare(&mut self, sql: &'static str) -> Result<postgres::Statement, DbError> {
        if let Some(statement) = self.prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.prepared.insert(sql, statement.clone());
        Ok(statement)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_are_postgres_and_hide_their_password() {
        assert_eq!(Target::parse("x.db"), Target::Sqlite("x.db".into()));
        let target = Target::parse("postgres://me:pw@db.internal:5432/reftrack");
        assert!(matches!(target, Target::Postgres(_)));
        assert_eq!(
            target.to_string(),
            "PostgreSQL postgres://me:***@db.internal:5432/reftrack"
        );
    }
}
