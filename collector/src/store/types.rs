//! What the store's callers and both engines share: where the data is, its errors, and the
//! values that go into and come out of a statement.

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

/// The first column of `row`, as text.
pub fn first_text(row: Option<Vec<V>>) -> Option<String> {
    row.and_then(|row| row.into_iter().next()?.text())
}
