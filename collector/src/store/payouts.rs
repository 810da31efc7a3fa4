//! Payouts, balances and statements: what a partner is owed and was paid, read from the ledger
//! (`store::ledger`) and each partner's balance kept beside it.

use super::engine::{Db, DbError, V};
use super::ledger::{change, day, enter_returning, keep, with_latest, Entry};
use crate::domain::balance::{AsOf, Balance};
use crate::domain::rewards::{Adjustment, NewPayout};
use serde_json::{json, Value};

/// Appends an adjustment, due at once; its entry as the statement shows it.
pub fn adjust(db: &mut Db, a: &Adjustment, at: &str) -> Result<Value, DbError> {
    let id = enter_returning(
        db,
        &Entry {
            partner_key: &a.partner_key,
            public_key: &a.public_key,
            customer_key: None,
            kind: "adjustment",
            event: "adjustment",
            amount: a.amount,
            currency: &a.currency,
            transaction_id: None,
            reverses: None,
            refunded: None,
            rule_id: None,
            note: Some(&a.note),
            occurred_at: at,
            due_on: day(at),
            recorded_at: at,
        },
    )?
    .ok_or_else(|| DbError::new("the adjustment was not stored"))?;
    let mut entries = Vec::new();
    statement_entries(
        db,
        &a.partner_key,
        "",
        &day_end(day(at)),
        day(at),
        Some(id),
        |e| entries.push(e),
    )?;
    entries
        .pop()
        .ok_or_else(|| DbError::new("the adjustment was not stored"))
}

/// What recording a payout did.
#[derive(Debug, Clone, PartialEq)]
pub enum Payout {
    /// Recorded now: the payout.
    Created(Value),
    /// This reference was recorded before with the same partner, amount and currency: that payout.
    Repeated(Value),
    /// This reference was recorded before for another payout.
    Conflict(Value),
    /// More than is due.
    TooMuch {
        /// What is due now.
        due: i64,
    },
    /// The amount falls inside an entry: the amounts that settle whole entries around it.
    Split {
        /// What is due now.
        due: i64,
        /// The largest amount below that settles whole entries.
        below: i64,
        /// The smallest amount above.
        above: i64,
    },
}

fn payout_json(row: Vec<V>) -> Value {
    let names = [
        "id",
        "partner_key",
        "currency",
        "amount",
        "reference",
        "note",
        "paid_at",
        "recorded_at",
        "entries",
    ];
    Value::Object(
        names
            .iter()
            .zip(row)
            .map(|(name, v)| ((*name).to_owned(), value(v)))
            .collect(),
    )
}

fn value(v: V) -> Value {
    match v {
        V::Null => Value::Null,
        V::Int(n) => n.into(),
        V::Text(t) => t.into(),
    }
}

fn stored_payout(db: &mut Db, reference: &str) -> Result<Option<Value>, DbError> {
    let row = db.first(
        "SELECT id, partner_key, currency, amount, reference, note, paid_at, recorded_at, entries
         FROM payouts WHERE reference = $1",
        &[reference.into()],
    )?;
    Ok(row.map(payout_json))
}

/// Records that a partner was paid, settling exactly the due entries the amount covers: every
/// negative one (clawbacks, netted first), then the positive ones oldest due first. A payout of
/// everything due settles all of them; a smaller one must end on a whole entry.
pub fn pay(db: &mut Db, p: &NewPayout, at: &str) -> Result<Payout, DbError> {
    db.lock(&format!("payout reference\n{}", p.reference))?;
    db.lock(&format!("payout\n{}\n{}", p.partner_key, p.currency))?;
    if let Some(stored) = stored_payout(db, &p.reference)? {
        let same = stored["partner_key"] == p.partner_key.as_str()
            && stored["currency"] == p.currency.as_str()
            && stored["amount"] == p.amount;
        return Ok(if same {
            Payout::Repeated(stored)
        } else {
            Payout::Conflict(stored)
        });
    }
    let today = day(at).to_owned();
    let rows = db.query(
        "SELECT c.id, c.amount, c.due_on FROM commissions c
         WHERE c.partner_key = $1 AND c.currency = $2 AND c.due_on <= $3
           AND NOT EXISTS (SELECT 1 FROM settlements s WHERE s.entry_id = c.id)
         ORDER BY CASE WHEN c.amount < 0 THEN 0 ELSE 1 END, c.due_on, c.id",
        &[
            p.partner_key.as_str().into(),
            p.currency.as_str().into(),
            today.as_str().into(),
        ],
    )?;
    let entries: Vec<(i64, i64, String)> = rows
        .into_iter()
        .filter_map(|r| {
            let mut r = r.into_iter();
            Some((r.next()?.int()?, r.next()?.int()?, r.next()?.text()?))
        })
        .collect();
    let due: i64 = entries.iter().map(|e| e.1).sum();
    if p.amount > due {
        return Ok(Payout::TooMuch { due });
    }
    let mut total = 0;
    let mut settled = 0;
    for (i, entry) in entries.iter().enumerate() {
        if total == p.amount && entry.1 >= 0 {
            break;
        }
        if entry.1 > 0 && total + entry.1 > p.amount {
            return Ok(Payout::Split {
                due,
                below: total.max(0),
                above: total + entry.1,
            });
        }
        total += entry.1;
        settled = i + 1;
    }
    if total != p.amount {
        return Ok(Payout::TooMuch { due });
    }
    let entries = &entries[..settled];
    let paid_at = p.paid_at.clone().unwrap_or_else(|| at.to_owned());
    let id = db
        .first(
            "INSERT INTO payouts (partner_key, currency, amount, reference, note, paid_at,
                                  recorded_at, entries)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            &[
                p.partner_key.as_str().into(),
                p.currency.as_str().into(),
                p.amount.into(),
                p.reference.as_str().into(),
                p.note.as_deref().into(),
                paid_at.as_str().into(),
                at.into(),
                (entries.len() as i64).into(),
            ],
        )?
        .and_then(|r| r[0].int())
        .ok_or_else(|| DbError::new("the payout was not stored"))?;
    for (entry, _, _) in entries {
        db.execute(
            "INSERT INTO settlements (entry_id, payout_id) VALUES ($1, $2)",
            &[(*entry).into(), id.into()],
        )?;
    }
    change(db, &p.partner_key, &p.currency, |b| {
        b.settle(p.amount, &today)
    })?;
    Ok(Payout::Created(
        stored_payout(db, &p.reference)?.unwrap_or_default(),
    ))
}

/// What one partner is owed in one currency on a day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owed {
    /// The partner.
    pub partner_key: String,
    /// ISO 4217.
    pub currency: String,
    /// Its balance's totals (its schedule is read into `as_of`).
    pub balance: Balance,
    /// What of it is due and pending that day.
    pub as_of: AsOf,
}

impl Owed {
    /// As the API shows it, written straight into `out` (a list of 100,000 partners is answered
    /// without building a tree of values first); `schedule`: with every day something turns due.
    pub fn write_json(&self, out: &mut String, days: bool) {
        use std::fmt::Write;
        let b = &self.balance;
        let _ = write!(
            out,
            "{{\"partner_key\":{},\"currency\":{},\"earned\":{},\"reversed\":{},\
             \"adjustments\":{},\"paid\":{},\"due\":{},\"pending\":{},\"next_due_on\":{}",
            Text(&self.partner_key),
            Text(&self.currency),
            b.earned,
            b.reversed,
            b.adjustments,
            b.paid,
            self.as_of.due,
            self.as_of.pending,
            Nullable(self.as_of.next_due_on.as_deref()),
        );
        if days {
            out.push_str(",\"turns_due\":[");
            for (i, (on, amount)) in self.as_of.turns_due.iter().enumerate() {
                let comma = if i > 0 { "," } else { "" };
                let _ = write!(out, "{comma}{{\"on\":{},\"amount\":{amount}}}", Text(on));
            }
            out.push(']');
        }
        out.push('}');
    }
}

/// A JSON string, written without an intermediate value.
struct Text<'a>(&'a str);

impl std::fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

/// A JSON string or `null`.
struct Nullable<'a>(Option<&'a str>);

impl std::fmt::Display for Nullable<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(text) => Text(text).fmt(f),
            None => f.write_str("null"),
        }
    }
}

/// What every partner (or one, with every day something turns due) is owed per currency on
/// `today`: one row per partner and currency, ordered by partner and currency.
pub fn owed(db: &mut Db, today: &str, partner_key: Option<&str>) -> Result<Vec<Owed>, DbError> {
    let rows = db.query(
        "SELECT partner_key, currency, earned, reversed, adjustments, paid, due, schedule,
                latest_on, latest
         FROM ledger_totals
         WHERE CAST($1 AS TEXT) IS NULL OR partner_key = $1",
        &[partner_key.into()],
    )?;
    let days = partner_key.is_some();
    let mut owed: Vec<Owed> = rows
        .into_iter()
        .filter_map(|row| {
            let mut row = row.into_iter();
            let partner_key = row.next()?.text()?;
            let currency = row.next()?.text()?;
            let mut int = || row.next().and_then(|v| v.int()).unwrap_or(0);
            let (earned, reversed, adjustments, paid, due) = (int(), int(), int(), int(), int());
            let schedule = row.next().and_then(V::text).unwrap_or_default();
            let latest_on = row.next().and_then(V::text).unwrap_or_default();
            let latest = row.next().and_then(|v| v.int()).unwrap_or(0);
            let schedule = with_latest(schedule, &latest_on, latest);
            Some(Owed {
                partner_key,
                currency,
                balance: Balance {
                    earned,
                    reversed,
                    adjustments,
                    paid,
                    due,
                    ..Balance::default()
                },
                as_of: AsOf::of_text(due, &schedule, today, days),
            })
        })
        .collect();
    owed.sort_unstable_by(|a, b| (&a.partner_key, &a.currency).cmp(&(&b.partner_key, &b.currency)));
    Ok(owed)
}

/// Computes every partner's balance afresh from the ledger and the payouts, as if written on
/// `today`, and stores them in place of the running ones; answers how many. For a ledger
/// written by other means than the collector (the benchmark's), or to check the running sums.
pub fn rebuild_balances(db: &mut Db, today: &str) -> Result<usize, DbError> {
    let mut balances: std::collections::BTreeMap<(String, String), Balance> = Default::default();
    for row in db.query(
        "SELECT partner_key, currency, kind, amount, due_on FROM commissions",
        &[],
    )? {
        let mut row = row.into_iter();
        let (Some(partner), Some(currency), Some(kind), Some(amount), Some(due_on)) = (
            row.next().and_then(V::text),
            row.next().and_then(V::text),
            row.next().and_then(V::text),
            row.next().and_then(|v| v.int()),
            row.next().and_then(V::text),
        ) else {
            continue;
        };
        balances
            .entry((partner, currency))
            .or_default()
            .enter(&kind, amount, &due_on);
    }
    for row in db.query(
        "SELECT partner_key, currency, CAST(SUM(amount) AS BIGINT) FROM payouts
         GROUP BY partner_key, currency",
        &[],
    )? {
        let mut row = row.into_iter();
        if let (Some(partner), Some(currency), Some(amount)) = (
            row.next().and_then(V::text),
            row.next().and_then(V::text),
            row.next().and_then(|v| v.int()),
        ) {
            balances
                .entry((partner, currency))
                .or_default()
                .settle(amount, today);
        }
    }
    db.execute("DELETE FROM ledger_totals", &[])?;
    for ((partner, currency), balance) in &mut balances {
        balance.compact(today);
        keep(db, partner, currency, balance)?;
    }
    Ok(balances.len())
}

/// Calls `each` with the partner's entries recorded from `since` (inclusive) to `until`
/// (exclusive), oldest first, each with its transaction and its state as of `today`; only entry
/// `only` when given.
fn statement_entries(
    db: &mut Db,
    partner_key: &str,
    since: &str,
    until: &str,
    today: &str,
    only: Option<i64>,
    mut each: impl FnMut(Value),
) -> Result<(), DbError> {
    db.for_each(
        "SELECT c.id, c.recorded_at, c.kind, c.event, c.amount, c.currency, c.due_on,
                p.id, p.reference, c.public_key, c.customer_key, c.rule_id, c.reverses, c.note,
                c.occurred_at, t.id, t.source, t.source_id, t.kind, t.amount, t.currency,
                t.occurred_at, c.refunded
         FROM commissions c
         LEFT JOIN settlements s ON s.entry_id = c.id
         LEFT JOIN payouts p ON p.id = s.payout_id
         LEFT JOIN transactions t ON t.id = c.transaction_id
         WHERE c.partner_key = $1 AND c.recorded_at >= $2 AND c.recorded_at < $3
           AND (CAST($4 AS BIGINT) IS NULL OR c.id = $4)
         ORDER BY c.recorded_at, c.id",
        &[partner_key.into(), since.into(), until.into(), only.into()],
        |row| {
            let v: Vec<Value> = row.into_iter().map(value).collect();
            let state = if !v[7].is_null() {
                "paid"
            } else if v[6].as_str().is_some_and(|d| d <= today) {
                "due"
            } else {
                "pending"
            };
            let transaction = (!v[15].is_null()).then(|| {
                json!({ "id": v[15], "source": v[16], "source_id": v[17], "kind": v[18],
                        "amount": v[19], "currency": v[20], "occurred_at": v[21] })
            });
            each(json!({
                "type": "entry",
                "id": v[0], "recorded_at": v[1], "kind": v[2], "on": v[3], "amount": v[4],
                "currency": v[5], "due_on": v[6], "state": state,
                "payout": (!v[7].is_null()).then(|| json!({ "id": v[7], "reference": v[8] })),
                "public_key": v[9], "customer_key": v[10], "rule_id": v[11], "reverses": v[12],
                "note": v[13], "occurred_at": v[14], "refunded": v[22],
                "transaction": transaction,
            }));
            true
        },
    )
}

/// A partner's statement: per currency, the balance before `since`, what was earned, reversed,
/// adjusted and paid in the range and the balance after; and every line (entries and payouts)
/// recorded in the range, oldest first, each with the running balance of its currency (what is
/// owed after it: an entry adds its amount, a payout takes its amount off). Days are UTC, both
/// included.
pub fn statement(
    db: &mut Db,
    partner_key: &str,
    since: &str,
    until: &str,
    today: &str,
) -> Result<Value, DbError> {
    let end = day_end(until);
    db.begin_read()?;
    let mut lines = Vec::new();
    statement_entries(db, partner_key, since, &end, today, None, |e| lines.push(e))?;
    db.for_each(
        "SELECT id, partner_key, currency, amount, reference, note, paid_at, recorded_at, entries
         FROM payouts WHERE partner_key = $1 AND recorded_at >= $2 AND recorded_at < $3
         ORDER BY recorded_at, id",
        &[partner_key.into(), since.into(), end.as_str().into()],
        |row| {
            let mut payout = payout_json(row);
            payout["type"] = "payout".into();
            lines.push(payout);
            true
        },
    )?;
    lines.sort_by(|a, b| {
        let key = |v: &Value| {
            (
                v["recorded_at"].as_str().unwrap_or("").to_owned(),
                v["type"] == "payout",
            )
        };
        key(a).cmp(&key(b))
    });
    let mut totals: Vec<(String, [i64; 6])> = Vec::new();
    let slot = |totals: &mut Vec<(String, [i64; 6])>, currency: &str| -> usize {
        match totals.iter().position(|(c, _)| c == currency) {
            Some(i) => i,
            None => {
                totals.push((currency.to_owned(), [0; 6]));
                totals.len() - 1
            }
        }
    };
    for row in db.query(
        "SELECT currency, CAST(SUM(amount) AS BIGINT) FROM commissions
         WHERE partner_key = $1 AND recorded_at < $2 GROUP BY currency",
        &[partner_key.into(), since.into()],
    )? {
        if let (Some(V::Text(currency)), Some(sum)) = (row.first(), row.get(1).and_then(V::int)) {
            let i = slot(&mut totals, currency);
            totals[i].1[0] += sum;
        }
    }
    for row in db.query(
        "SELECT currency, CAST(SUM(amount) AS BIGINT) FROM payouts
         WHERE partner_key = $1 AND recorded_at < $2 GROUP BY currency",
        &[partner_key.into(), since.into()],
    )? {
        if let (Some(V::Text(currency)), Some(sum)) = (row.first(), row.get(1).and_then(V::int)) {
            let i = slot(&mut totals, currency);
            totals[i].1[0] -= sum;
        }
    }
    db.rollback();
    // [opening, earned, reversed, adjustments, paid, balance]
    for t in &mut totals {
        t.1[5] = t.1[0];
    }
    for line in &mut lines {
        let currency = line["currency"].as_str().unwrap_or_default().to_owned();
        let amount = line["amount"].as_i64().unwrap_or(0);
        let i = slot(&mut totals, &currency);
        let column = match (line["type"].as_str(), line["kind"].as_str()) {
            (Some("payout"), _) => 4,
            (_, Some("earned")) => 1,
            (_, Some("reversed")) => 2,
            _ => 3,
        };
        totals[i].1[column] += if column == 2 { -amount } else { amount };
        totals[i].1[5] += if column == 4 { -amount } else { amount };
        line["balance"] = totals[i].1[5].into();
    }
    totals.sort();
    let totals: Vec<Value> = totals
        .into_iter()
        .map(
            |(currency, [opening, earned, reversed, adjustments, paid, _])| {
                json!({
                    "currency": currency, "opening": opening, "earned": earned,
                    "reversed": reversed, "adjustments": adjustments, "paid": paid,
                    "closing": opening + earned - reversed + adjustments - paid,
                })
            },
        )
        .collect();
    Ok(json!({
        "partner_key": partner_key, "since": since, "until": until,
        "totals": totals, "lines": lines,
    }))
}

/// Past every time of day `until` (`YYYY-MM-DD`), as recorded times compare (as the report's).
fn day_end(until: &str) -> String {
    format!("{until}~")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_written_as_json_strings_are() {
        for text in ["partner_1", "a\"b\\c", "line\nbreak\u{1}", "é ✓"] {
            let written = Text(text).to_string();
            assert_eq!(
                serde_json::from_str::<String>(&written).unwrap(),
                text,
                "{written}"
            );
        }
        assert_eq!(Nullable(None).to_string(), "null");
    }
}
