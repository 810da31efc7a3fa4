//! `reftrack-collector import transactions FILE.csv [--dry-run]`: payments from a file, each
//! stored once (the same unique key per source as the APIs), matched to customers by key or
//! email; a summary on standard output, every line that is not stored on standard error with its
//! number, progress on standard error for large files.

use crate::domain::imports_csv::{Columns, Row};
use crate::store::money;
use crate::store::{Db, DbError, Store};
use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

/// Lines stored per transaction (each group is one commit).
const CHUNK: usize = 1000;

/// Stores each read line (its number and what it holds): whether it was new, and matched.
fn store_rows(
    db: &mut Db,
    rows: &[(usize, Row)],
    at: &str,
) -> Result<Vec<(usize, bool, bool)>, DbError> {
    rows.iter()
        .map(|(line, (payment, date))| {
            let occurred_at = date.map_or(at.to_owned(), |ms| {
                crate::domain::time::iso8601(UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
            });
            let (recorded, matched) = money::pay(db, "import", payment, None, &occurred_at, at)?;
            Ok((*line, recorded.created, matched))
        })
        .collect()
}

/// Imports `file` into `store`; exit 1 when the file cannot be read at all.
pub async fn transactions(store: &Store, file: &Path, dry_run: bool) -> ExitCode {
    let reader = match std::fs::File::open(file) {
        Ok(f) => std::io::BufReader::new(f),
        Err(error) => {
            eprintln!(
                "reftrack-collector: cannot read {}: {error}",
                file.display()
            );
            return ExitCode::from(1);
        }
    };
    let mut lines = reader.lines().enumerate();
    let columns = match lines.next().map(|(_, l)| {
        l.map_err(|e| e.to_string())
            .and_then(|l| Columns::from_header(&l))
    }) {
        Some(Ok(columns)) => columns,
        Some(Err(reason)) => {
            eprintln!("reftrack-collector: {}, line 1: {reason}", file.display());
            return ExitCode::from(1);
        }
        None => {
            eprintln!("reftrack-collector: {} is empty", file.display());
            return ExitCode::from(1);
        }
    };
    let now = crate::domain::time::iso8601(std::time::SystemTime::now());
    let (mut created, mut skipped, mut unmatched, mut refused, mut read) = (0, 0, 0, 0, 0);
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut lines = lines.peekable();
    while lines.peek().is_some() {
        for (n, line) in lines.by_ref().take(CHUNK) {
            read += 1;
            let row = line.map_err(|e| e.to_string()).and_then(|l| {
                if l.trim().is_empty() {
                    Err(String::new())
                } else {
                    columns.row(&l)
                }
            });
            match row {
                Ok(row) => chunk.push((n + 1, row)),
                Err(reason) if reason.is_empty() => {}
                Err(reason) => {
                    refused += 1;
                    eprintln!("line {}: not imported: {reason}", n + 1);
                }
            }
        }
        let rows = std::mem::take(&mut chunk);
        let at = now.clone();
        let outcome = if dry_run {
            // The same work in a transaction that is rolled back: every line read and matched.
            store
                .read(move |db| {
                    db.begin()?;
                    let out = store_rows(db, &rows, &at);
                    db.rollback();
                    out
                })
                .await
        } else {
            store.write(move |db| store_rows(db, &rows, &at)).await
        };
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(error) => {
                eprintln!(
                    "reftrack-collector: the store refused the import after line {read}: {error}"
                );
                return ExitCode::from(1);
            }
        };
        for (line, new, matched) in outcome {
            match (new, matched) {
                (false, _) => {
                    skipped += 1;
                    eprintln!("line {line}: skipped: its key was imported before");
                }
                (true, true) => created += 1,
                (true, false) => {
                    created += 1;
                    unmatched += 1;
                    eprintln!("line {line}: stored, but no customer matches it (credit it with POST /v1/transactions/{{id}}/attribute)");
                }
            }
        }
        if read >= 10 * CHUNK {
            eprintln!("… {read} lines read");
        }
    }
    println!(
        "{}{} lines: {created} created ({unmatched} matching no customer), {skipped} skipped (imported before), {refused} not imported",
        if dry_run { "dry run, nothing stored: " } else { "" },
        read
    );
    ExitCode::SUCCESS
}
