//! The two database engines behind one small interface: SQLite (embedded, one file) and
//! PostgreSQL (shared by several collectors). The store's SQL is written once, in the dialect both
//! accept, with `$1`-style parameters; the schema is one list of migrations for both, with the two
//! places where the dialects differ spelled as `{tokens}`.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Where the records are kept: `--db PATH` or `--db postgres://…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An SQLite file, created if missing.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string.
    Postgres(String),
}

impl Target {
    /// `postgres://` and `postgresql://` URLs are PostgreSQL; anything else is an SQLite path.
    pub fn parse(text: &str) -> Target {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Target::Postgres(text.to_owned())
        } else {
            Target::Sqlite(text.into())
        }
    }
}

impl fmt::Display for Target {
    /// The target as the log may show it: a PostgreSQL URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Sqlite(path) => write!(f, "SQLite {}", path.display()),
            Target::Postgres(url) => match url::Url::parse(url) {
                Ok(mut url) if url.password().is_some() => {
                    let _ = url.set_password(Some("***"));
                    write!(f, "PostgreSQL {url}")
                }
                _ => write!(f, "PostgreSQL {url}"),
            },
        }
    }
}

/// A database error, with PostgreSQL's SQLSTATE when there is one.
#[derive(Debug)]
pub struct DbError {
    message: String,
    code: Option<String>,
}

impl DbError {
    /// An error with its message.
    pub fn new(message: impl Into<String>) -> DbError {
        DbError {
            message: message.into(),
            code: None,
        }
    }

    /// The database did not answer within `--db-timeout`.
    pub fn timeout(limit: Duration) -> DbError {
        DbError {
            message: format!(
                "the database did not answer within {} s",
                limit.as_secs_f32()
            ),
            code: Some("timeout".into()),
        }
    }

    /// Whether this is [`DbError::timeout`].
    pub fn is_timeout(&self) -> bool {
        self.code.as_deref() == Some("timeout")
    }

    /// A conflict between concurrent transactions (deadlock, serialization): worth one more try.
    pub fn is_conflict(&self) -> bool {
        matches!(self.code.as_deref(), Some("40001" | "40P01"))
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(error: rusqlite::Error) -> DbError {
        DbError::new(error.to_string())
    }
}

impl From<postgres::Error> for DbError {
    fn from(error: postgres::Error) -> DbError {
        DbError {
            code: error.code().map(|c| c.code().to_owned()),
            message: match error.as_db_error() {
                Some(db) => format!("{}: {}", db.code().code(), db.message()),
                None => error.to_string(),
            },
        }
    }
}

/// A parameter: text or a whole number, either possibly NULL.
#[derive(Debug, Clone, Copy)]
pub enum P<'a> {
    /// Text.
    Text(Option<&'a str>),
    /// A 64-bit integer.
    Int(Option<i64>),
}

impl<'a> From<&'a str> for P<'a> {
    fn from(text: &'a str) -> P<'a> {
        P::Text(Some(text))
    }
}

impl<'a> From<Option<&'a str>> for P<'a> {
    fn from(text: Option<&'a str>) -> P<'a> {
        P::Text(text)
    }
}

impl From<i64> for P<'_> {
    fn from(n: i64) -> Self {
        P::Int(Some(n))
    }
}

impl From<Option<i64>> for P<'_> {
    fn from(n: Option<i64>) -> Self {
        P::Int(n)
    }
}

/// A value read back.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    /// NULL.
    Null,
    /// A whole number (booleans read as 0 and 1).
    Int(i64),
    /// Text.
    Text(String),
}

impl V {
    /// The text, if it is text.
    pub fn text(self) -> Option<String> {
        match self {
            V::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The number, if it is one.
    pub fn int(&self) -> Option<i64> {
        match self {
            V::Int(n) => Some(*n),
            _ => None,
        }
    }
}

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
}

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

    /// Commits; on SQLite with `synchronous=FULL`, that is the fsync.
    pub fn commit(&mut self) -> Result<(), DbError> {
        if let Db::Postgres(pg) = self {
            pg.in_transaction = false;
        }
        self.batch("COMMIT")
    }

    /// Abandons the transaction, if one is open.
    pub fn rollback(&mut self) {
        let open = match self {
            Db::Sqlite(conn) => !conn.is_autocommit(),
            Db::Postgres(pg) => std::mem::take(&mut pg.in_transaction),
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
                let mut statement = conn.prepare_cached(&sqlite_sql(sql))?;
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
                let mut statement = conn.prepare_cached(&sqlite_sql(sql))?;
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

    /// Every row of a query (for small answers).
    pub fn query(&mut self, sql: &'static str, params: &[P<'_>]) -> Result<Vec<Vec<V>>, DbError> {
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

/// `$1` as SQLite spells a numbered parameter: `?1`.
fn sqlite_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

fn sqlite_param(param: &P<'_>) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match *param {
        P::Text(Some(text)) => Value::Text(text.to_owned()),
        P::Int(Some(n)) => Value::Integer(n),
        P::Text(None) | P::Int(None) => Value::Null,
    }
}

fn sqlite_value(value: rusqlite::Result<rusqlite::types::ValueRef<'_>>) -> Result<V, DbError> {
    use rusqlite::types::ValueRef;
    Ok(match value? {
        ValueRef::Null => V::Null,
        ValueRef::Integer(n) => V::Int(n),
        ValueRef::Real(x) => V::Int(x as i64),
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
            V::Text(String::from_utf8_lossy(bytes).into_owned())
        }
    })
}

enum PgParam<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
}

fn pg_params<'a>(params: &[P<'a>]) -> Vec<PgParam<'a>> {
    params
        .iter()
        .map(|p| match *p {
            P::Text(t) => PgParam::Text(t),
            P::Int(n) => PgParam::Int(n),
        })
        .collect()
}

fn pg_refs<'b>(params: &'b [PgParam<'_>]) -> Vec<&'b (dyn postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| match p {
            PgParam::Text(t) => t as &(dyn postgres::types::ToSql + Sync),
            PgParam::Int(n) => n as &(dyn postgres::types::ToSql + Sync),
        })
        .collect()
}

fn pg_value(row: &postgres::Row, i: usize) -> Result<V, DbError> {
    use postgres::types::Type;
    let ty = row.columns()[i].type_().clone();
    let value = if ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i)?.map(V::Int)
    } else if ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)?.map(|n| V::Int(n.into()))
    } else if ty == Type::INT2 {
        row.try_get::<_, Option<i16>>(i)?.map(|n| V::Int(n.into()))
    } else if ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(i)?.map(|b| V::Int(b.into()))
    } else if ty == Type::NUMERIC {
        return Err(DbError::new(format!(
            "column {i} is NUMERIC: cast it to BIGINT in the query"
        )));
    } else {
        row.try_get::<_, Option<String>>(i)?.map(V::Text)
    };
    Ok(value.unwrap_or(V::Null))
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

    #[test]
    fn numbered_parameters_are_spelled_for_sqlite() {
        assert_eq!(
            sqlite_sql("SELECT $1, '$', $12 WHERE a = $2"),
            "SELECT ?1, '$', ?12 WHERE a = ?2"
        );
    }
}
