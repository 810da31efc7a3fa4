//! What differs between the engines below the SQL: SQLite's spelling of numbered parameters,
//! and the conversion of parameters and values to and from each driver's types.

use super::types::{DbError, P, V};

/// `$1` as SQLite spells a numbered parameter: `?1`. The store's statements are `'static` and
/// few, so each is translated once and kept (by address) for the life of the process.
pub(super) fn sqlite_static(sql: &'static str) -> &'static str {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static TRANSLATED: OnceLock<Mutex<HashMap<(usize, usize), &'static str>>> = OnceLock::new();
    let key = (sql.as_ptr() as usize, sql.len());
    let mut cache = TRANSLATED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    cache
        .entry(key)
        .or_insert_with(|| Box::leak(sqlite_sql(sql).into_boxed_str()))
}

/// `$1` as SQLite spells a numbered parameter: `?1`.
pub(super) fn sqlite_sql(sql: &str) -> String {
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

/// A parameter as SQLite takes it, text borrowed rather than copied.
pub(super) fn sqlite_param<'a>(param: &P<'a>) -> rusqlite::types::ToSqlOutput<'a> {
    use rusqlite::types::{ToSqlOutput, ValueRef};
    ToSqlOutput::Borrowed(match *param {
        P::Text(Some(text)) => ValueRef::Text(text.as_bytes()),
        P::Int(Some(n)) => ValueRef::Integer(n),
        P::Text(None) | P::Int(None) => ValueRef::Null,
    })
}

pub(super) fn sqlite_value(
    value: rusqlite::Result<rusqlite::types::ValueRef<'_>>,
) -> Result<V, DbError> {
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

pub(super) enum PgParam<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
}

pub(super) fn pg_params<'a>(params: &[P<'a>]) -> Vec<PgParam<'a>> {
    params
        .iter()
        .map(|p| match *p {
            P::Text(t) => PgParam::Text(t),
            P::Int(n) => PgParam::Int(n),
        })
        .collect()
}

pub(super) fn pg_refs<'b>(
    params: &'b [PgParam<'_>],
) -> Vec<&'b (dyn postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| match p {
            PgParam::Text(t) => t as &(dyn postgres::types::ToSql + Sync),
            PgParam::Int(n) => n as &(dyn postgres::types::ToSql + Sync),
        })
        .collect()
}

pub(super) fn pg_value(row: &postgres::Row, i: usize) -> Result<V, DbError> {
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
    fn numbered_parameters_are_spelled_for_sqlite() {
        assert_eq!(
            sqlite_sql("SELECT $1, '$', $12 WHERE a = $2"),
            "SELECT ?1, '$', ?12 WHERE a = ?2"
        );
        let sql = "SELECT $1";
        assert_eq!(sqlite_static(sql), "SELECT ?1");
        assert!(
            std::ptr::eq(sqlite_static(sql), sqlite_static(sql)),
            "translated once"
        );
    }
}
