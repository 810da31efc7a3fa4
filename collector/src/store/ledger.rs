//! Money out: reward rules, the commission ledger and payouts.
//!
//! The ledger is append-only. Every entry is written in the database transaction that stores
//! what caused it:
//! - *earned*: a sale, or a customer credited to the partner;
//! - *reversed*: a refund, or a customer's credit moving to another partner;
//! - *adjustment*: a correction made by hand, with its note.
//!
//! An entry is never changed. Its state is derived:
//! - *paid* once a payout settled it (`settlements`, an entry at most once by its primary key);
//! - otherwise *due* from its `due_on` day (UTC);
//! - *pending* before that.
//!
//! A refund of a commission already paid is a negative entry that the partner's next payout nets
//! out. Two running sums are kept in the same transactions, so that what is owed is read without
//! summing the ledger:
//! - `unsettled_days`: what is unsettled per partner, currency and due day;
//! - `ledger_totals`: earned, reversed, adjustments and paid per partner and currency.

use super::engine::{Db, DbError, V};
use crate::domain::rewards::{self, Adjustment, Event, NewPayout, Reward, Rule};
use serde_json::{json, Value};
use std::collections::HashMap;

/// A rule as stored: its id and when it was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRule {
    /// Its id: entries name the rule that made them.
    pub id: i64,
    /// The rule.
    pub rule: Rule,
    /// When it was set: it applies to what is recorded after.
    pub set_at: String,
}

impl StoredRule {
    /// As the API shows it.
    pub fn to_json(&self) -> Value {
        let mut out = self.rule.to_json();
        out["id"] = self.id.into();
        out["set_at"] = self.set_at.clone().into();
        out
    }
}

fn stored_rule(row: Vec<V>) -> Option<StoredRule> {
    let mut row = row.into_iter();
    let id = row.next()?.int()?;
    let mut text = || row.next().and_then(V::text);
    let (public_key, partner_key, event, kind) = (text()?, text()?, text()?, text()?);
    let mut int = || row.next().and_then(|v| v.int());
    let (basis_points, amount) = (int(), int());
    let currency = row.next().and_then(V::text);
    let months = row.next().and_then(|v| v.int());
    let holding_days = row.next().and_then(|v| v.int())?;
    let set_at = row.next().and_then(V::text)?;
    let reward = match (kind.as_str(), basis_points, amount, currency) {
        ("percent", Some(basis_points), _, _) => Reward::Percent { basis_points },
        ("flat", _, Some(amount), Some(currency)) => Reward::Flat { amount, currency },
        _ => Reward::None,
    };
    Some(StoredRule {
        id,
        rule: Rule {
            public_key,
            partner_key,
            on: Event::parse(&event)?,
            reward,
            months,
            holding_days,
        },
        set_at,
    })
}

/// Stores `rule` as its slot's (program, partner, event) rule from now on; earlier versions stay,
/// for the entries that name them.
pub fn set_rule(db: &mut Db, rule: &Rule, at: &str) -> Result<StoredRule, DbError> {
    let (basis_points, amount, currency) = match &rule.reward {
        Reward::Percent { basis_points } => (Some(*basis_points), None, None),
        Reward::Flat { amount, currency } => (None, Some(*amount), Some(currency.as_str())),
        Reward::None => (None, None, None),
    };
    let row = db.first(
        "INSERT INTO reward_rules (public_key, partner_key, event, kind, basis_points, amount,
                                   currency, months, holding_days, set_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        &[
            rule.public_key.as_str().into(),
            rule.partner_key.as_str().into(),
            rule.on.as_str().into(),
            rule.reward.kind().into(),
            basis_points.into(),
            amount.into(),
            currency.into(),
            rule.months.into(),
            rule.holding_days.into(),
            at.into(),
        ],
    )?;
    let id = row
        .and_then(|r| r[0].int())
        .ok_or_else(|| DbError::new("the rule was not stored"))?;
    Ok(StoredRule {
        id,
        rule: rule.clone(),
        set_at: at.to_owned(),
    })
}

/// The rules in force: the newest of each slot, by program, partner and event.
pub fn rules(db: &mut Db) -> Result<Vec<StoredRule>, DbError> {
    let rows = db.query(
        "SELECT id, public_key, partner_key, event, kind, basis_points, amount, currency, months,
                holding_days, set_at
         FROM reward_rules r
         WHERE id = (SELECT MAX(id) FROM reward_rules n WHERE n.event = r.event
                     AND n.public_key = r.public_key AND n.partner_key = r.partner_key)
         ORDER BY public_key, partner_key, event",
        &[],
    )?;
    Ok(rows.into_iter().filter_map(stored_rule).collect())
}

/// The rule that applies to `on` for `partner_key` in `public_key` now, the most specific first:
/// the partner's in the program, the partner's in every program, the program's default, the
/// default of every program.
pub fn rule_for(
    db: &mut Db,
    on: Event,
    public_key: &str,
    partner_key: &str,
) -> Result<Option<StoredRule>, DbError> {
    let row = db.first(
        "SELECT id, public_key, partner_key, event, kind, basis_points, amount, currency, months,
                holding_days, set_at
         FROM reward_rules
         WHERE event = $1 AND public_key IN ($2, '') AND partner_key IN ($3, '')
         ORDER BY CASE WHEN partner_key = '' THEN 1 ELSE 0 END,
                  CASE WHEN public_key = '' THEN 1 ELSE 0 END, id DESC
         LIMIT 1",
        &[on.as_str().into(), public_key.into(), partner_key.into()],
    )?;
    Ok(row.and_then(stored_rule))
}

/// One ledger entry to write.
struct Entry<'a> {
    partner_key: &'a str,
    public_key: &'a str,
    customer_key: Option<&'a str>,
    kind: &'static str,
    event: &'static str,
    amount: i64,
    currency: &'a str,
    transaction_id: Option<i64>,
    reverses: Option<i64>,
    refunded: Option<i64>,
    rule_id: Option<i64>,
    note: Option<&'a str>,
    occurred_at: &'a str,
    due_on: &'a str,
    recorded_at: &'a str,
}

/// Appends `e` unless the database holds it already (its unique indexes: one earned entry per
/// sale, per customer and partner for a signup; one reversal per refund and entry); keeps the
/// running sums. The new entry's id, or `None`.
fn enter(db: &mut Db, e: &Entry<'_>) -> Result<Option<i64>, DbError> {
    let row = db.first(
        "INSERT INTO commissions (partner_key, public_key, customer_key, kind, event, amount,
                                  currency, transaction_id, reverses, refunded, rule_id, note,
                                  occurred_at, due_on, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         ON CONFLICT DO NOTHING RETURNING id",
        &[
            e.partner_key.into(),
            e.public_key.into(),
            e.customer_key.into(),
            e.kind.into(),
            e.event.into(),
            e.amount.into(),
            e.currency.into(),
            e.transaction_id.into(),
            e.reverses.into(),
            e.refunded.into(),
            e.rule_id.into(),
            e.note.into(),
            e.occurred_at.into(),
            e.due_on.into(),
            e.recorded_at.into(),
        ],
    )?;
    let Some(id) = row.and_then(|r| r[0].int()) else {
        return Ok(None);
    };
    unsettled(db, e.partner_key, e.currency, e.due_on, e.amount, 1)?;
    let (earned, reversed, adjustments) = match e.kind {
        "earned" => (e.amount, 0, 0),
        "reversed" => (0, -e.amount, 0),
        _ => (0, 0, e.amount),
    };
    db.execute(
        "INSERT INTO ledger_totals (partner_key, currency, earned, reversed, adjustments, paid)
         VALUES ($1, $2, $3, $4, $5, 0)
         ON CONFLICT (partner_key, currency) DO UPDATE SET
             earned = ledger_totals.earned + excluded.earned,
             reversed = ledger_totals.reversed + excluded.reversed,
             adjustments = ledger_totals.adjustments + excluded.adjustments",
        &[
            e.partner_key.into(),
            e.currency.into(),
            earned.into(),
            reversed.into(),
            adjustments.into(),
        ],
    )?;
    Ok(Some(id))
}

/// Adds `amount` and `entries` to what is unsettled for a partner, currency and due day; a day
/// left with no entry is removed.
fn unsettled(
    db: &mut Db,
    partner_key: &str,
    currency: &str,
    due_on: &str,
    amount: i64,
    entries: i64,
) -> Result<(), DbError> {
    db.execute(
        "INSERT INTO unsettled_days (partner_key, currency, due_on, amount, entries)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (partner_key, currency, due_on) DO UPDATE SET
             amount = unsettled_days.amount + excluded.amount,
             entries = unsettled_days.entries + excluded.entries",
        &[
            partner_key.into(),
            currency.into(),
            due_on.into(),
            amount.into(),
            entries.into(),
        ],
    )?;
    if entries < 0 {
        db.execute(
            "DELETE FROM unsettled_days
             WHERE partner_key = $1 AND currency = $2 AND due_on = $3 AND entries <= 0",
            &[partner_key.into(), currency.into(), due_on.into()],
        )?;
    }
    Ok(())
}

/// A stored payment, as the ledger needs it.
#[derive(Debug, Clone)]
pub struct Payment {
    /// The transaction's id.
    pub id: i64,
    /// `sale` or `refund`.
    pub kind: String,
    /// Minor units; negative for a refund.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    /// Its source, and what the source relates it to (the charge a refund refunds).
    pub source: String,
    /// The source's own id.
    pub source_id: String,
    /// What the source relates it to.
    pub reference: Option<String>,
    /// The customer's program and key.
    pub public_key: Option<String>,
    /// The customer.
    pub customer_key: Option<String>,
    /// The partner credited.
    pub partner_key: Option<String>,
    /// When it happened.
    pub occurred_at: String,
}

/// A stored payment by id.
pub fn payment(db: &mut Db, id: i64) -> Result<Option<Payment>, DbError> {
    let row = db.first(
        "SELECT kind, amount, currency, source, source_id, reference, public_key, customer_key,
                partner_key, occurred_at
         FROM transactions WHERE id = $1",
        &[id.into()],
    )?;
    Ok(row.map(|row| {
        let mut row = row.into_iter();
        let kind = row.next().and_then(V::text).unwrap_or_default();
        let amount = row.next().and_then(|v| v.int()).unwrap_or(0);
        let mut text = || row.next().and_then(V::text);
        Payment {
            id,
            kind,
            amount,
            currency: text().unwrap_or_default(),
            source: text().unwrap_or_default(),
            source_id: text().unwrap_or_default(),
            reference: text(),
            public_key: text(),
            customer_key: text(),
            partner_key: text(),
            occurred_at: text().unwrap_or_default(),
        }
    }))
}

/// The day of a timestamp.
fn day(at: &str) -> &str {
    at.get(..10).unwrap_or(at)
}

/// The commission entries a new payment makes, in the transaction that stores it: a sale earns
/// by the rule in force for its partner; a refund reverses, of each sale it refunds, the share
/// of that sale's commission it refunds.
pub fn paid(db: &mut Db, p: &Payment, recorded_at: &str) -> Result<(), DbError> {
    match p.kind.as_str() {
        "sale" if p.amount > 0 => earn_sale(db, p, recorded_at),
        "refund" if p.amount < 0 => refund(db, p, recorded_at),
        _ => Ok(()),
    }
}

fn earn_sale(db: &mut Db, p: &Payment, recorded_at: &str) -> Result<(), DbError> {
    let Some(partner_key) = p.partner_key.as_deref() else {
        return Ok(());
    };
    let public_key = p.public_key.as_deref().unwrap_or("");
    let Some(stored) = rule_for(db, Event::Sale, public_key, partner_key)? else {
        return Ok(());
    };
    let Some((amount, currency)) = stored.rule.earns(p.amount, &p.currency) else {
        return Ok(());
    };
    if stored.rule.months.is_some() {
        let first = first_payment(db, p)?;
        if !stored.rule.in_term(&first, &p.occurred_at) {
            return Ok(());
        }
    }
    let due_on = stored.rule.due_on(&p.occurred_at);
    enter(
        db,
        &Entry {
            partner_key,
            public_key,
            customer_key: p.customer_key.as_deref(),
            kind: "earned",
            event: "sale",
            amount,
            currency: &currency,
            transaction_id: Some(p.id),
            reverses: None,
            refunded: None,
            rule_id: Some(stored.id),
            note: None,
            occurred_at: &p.occurred_at,
            due_on: &due_on,
            recorded_at,
        },
    )
    .map(drop)
}

/// The day of the customer's first payment (this one's, for a payment without a customer).
fn first_payment(db: &mut Db, p: &Payment) -> Result<String, DbError> {
    let (Some(public_key), Some(customer_key)) = (&p.public_key, &p.customer_key) else {
        return Ok(day(&p.occurred_at).to_owned());
    };
    let row = db.first(
        "SELECT MIN(occurred_at) FROM transactions
         WHERE public_key = $1 AND customer_key = $2 AND kind = 'sale'",
        &[public_key.as_str().into(), customer_key.as_str().into()],
    )?;
    let first = row
        .and_then(|r| r.into_iter().next()?.text())
        .unwrap_or_else(|| p.occurred_at.clone());
    Ok(day(first.min(p.occurred_at.clone()).as_str()).to_owned())
}

/// A sale a refund may refund: its id, amount and what is refunded of it so far.
struct Refundable {
    id: i64,
    amount: i64,
    refunded: i64,
}

/// Allocates a refund to the sales it refunds, newest first: the sale it names (Stripe's charge,
/// a reversed sale's key), else the customer's sales in its currency. Each allocation reverses
/// its share of that sale's commission.
fn refund(db: &mut Db, p: &Payment, recorded_at: &str) -> Result<(), DbError> {
    let mut sales = match &p.reference {
        Some(reference) => db.query(
            "SELECT id, amount FROM transactions
             WHERE kind = 'sale' AND source = $1 AND currency = $3
               AND (source_id = $2 OR reference = $2)
             ORDER BY occurred_at DESC, id DESC",
            &[
                p.source.as_str().into(),
                reference.as_str().into(),
                p.currency.as_str().into(),
            ],
        )?,
        None => Vec::new(),
    };
    if sales.is_empty() {
        if let (Some(public_key), Some(customer_key)) = (&p.public_key, &p.customer_key) {
            sales = db.query(
                "SELECT id, amount FROM transactions
                 WHERE public_key = $1 AND customer_key = $2 AND kind = 'sale' AND currency = $3
                 ORDER BY occurred_at DESC, id DESC",
                &[
                    public_key.as_str().into(),
                    customer_key.as_str().into(),
                    p.currency.as_str().into(),
                ],
            )?;
        }
    }
    let mut left = -p.amount;
    for row in sales {
        if left <= 0 {
            break;
        }
        let (Some(id), Some(amount)) = (row[0].int(), row[1].int()) else {
            continue;
        };
        let refunded = db
            .first(
                "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM refund_allocations
                 WHERE sale_id = $1",
                &[id.into()],
            )?
            .and_then(|r| r[0].int())
            .unwrap_or(0);
        let sale = Refundable {
            id,
            amount,
            refunded,
        };
        let take = left.min(sale.amount - sale.refunded);
        if take <= 0 {
            continue;
        }
        left -= take;
        db.execute(
            "INSERT INTO refund_allocations (refund_id, sale_id, amount) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[p.id.into(), sale.id.into(), take.into()],
        )?;
        reverse_sale(db, p, &sale, take, recorded_at)?;
    }
    Ok(())
}

/// Reverses the share `take` of `sale` that refund `p` refunds, of the sale's commission.
fn reverse_sale(
    db: &mut Db,
    p: &Payment,
    sale: &Refundable,
    take: i64,
    recorded_at: &str,
) -> Result<(), DbError> {
    let row = db.first(
        "SELECT id, partner_key, public_key, customer_key, amount, currency, due_on
         FROM commissions WHERE transaction_id = $1 AND kind = 'earned' AND event = 'sale'",
        &[sale.id.into()],
    )?;
    let Some(row) = row else {
        return Ok(());
    };
    let mut row = row.into_iter();
    let earned_id = row.next().and_then(|v| v.int()).unwrap_or(0);
    let mut text = || row.next().and_then(V::text);
    let (partner_key, public_key, customer_key) = (text(), text(), text());
    let commission = row.next().and_then(|v| v.int()).unwrap_or(0);
    let mut text = || row.next().and_then(V::text);
    let (currency, earned_due) = (text().unwrap_or_default(), text().unwrap_or_default());
    let amount = rewards::reversal(commission, sale.amount, sale.refunded, take);
    if amount <= 0 {
        return Ok(());
    }
    // A refund of a commission still pending nets out with it when both turn due; of one due or
    // paid, it is due at once, and the next payout nets it out.
    let due_on = earned_due.max(day(recorded_at).to_owned());
    enter(
        db,
        &Entry {
            partner_key: partner_key.as_deref().unwrap_or_default(),
            public_key: public_key.as_deref().unwrap_or_default(),
            customer_key: customer_key.as_deref(),
            kind: "reversed",
            event: "refund",
            amount: -amount,
            currency: &currency,
            transaction_id: Some(p.id),
            reverses: Some(earned_id),
            refunded: Some(take),
            rule_id: None,
            note: None,
            occurred_at: &p.occurred_at,
            due_on: &due_on,
            recorded_at,
        },
    )
    .map(drop)
}

/// After a customer's credit is decided (`first`: by its first claim): a partner that held it
/// and no longer does has its signup reward reversed; the partner now credited earns its signup
/// reward by the rule in force, once per customer.
pub fn credited(
    db: &mut Db,
    public_key: &str,
    customer_key: &str,
    partner_key: Option<&str>,
    first: bool,
    at: &str,
) -> Result<(), DbError> {
    if !first {
        let held = db.query(
            "SELECT c.id, c.partner_key, c.amount, c.currency, c.due_on FROM commissions c
             WHERE c.public_key = $1 AND c.customer_key = $2 AND c.event = 'signup'
               AND c.kind = 'earned'
               AND NOT EXISTS (SELECT 1 FROM commissions r
                               WHERE r.reverses = c.id AND r.kind = 'reversed'
                                 AND r.event = 'signup')",
            &[public_key.into(), customer_key.into()],
        )?;
        for row in held {
            let mut row = row.into_iter();
            let id = row.next().and_then(|v| v.int()).unwrap_or(0);
            let holder = row.next().and_then(V::text).unwrap_or_default();
            if Some(holder.as_str()) == partner_key {
                return Ok(());
            }
            let amount = row.next().and_then(|v| v.int()).unwrap_or(0);
            let currency = row.next().and_then(V::text).unwrap_or_default();
            let due_on = row
                .next()
                .and_then(V::text)
                .unwrap_or_default()
                .max(day(at).to_owned());
            enter(
                db,
                &Entry {
                    partner_key: &holder,
                    public_key,
                    customer_key: Some(customer_key),
                    kind: "reversed",
                    event: "signup",
                    amount: -amount,
                    currency: &currency,
                    transaction_id: None,
                    reverses: Some(id),
                    refunded: None,
                    rule_id: None,
                    note: Some("the customer is credited to another partner"),
                    occurred_at: at,
                    due_on: &due_on,
                    recorded_at: at,
                },
            )?;
        }
    }
    let Some(partner_key) = partner_key else {
        return Ok(());
    };
    let Some(stored) = rule_for(db, Event::Signup, public_key, partner_key)? else {
        return Ok(());
    };
    let Some((amount, currency)) = stored.rule.earns(0, "") else {
        return Ok(());
    };
    let due_on = stored.rule.due_on(at);
    enter(
        db,
        &Entry {
            partner_key,
            public_key,
            customer_key: Some(customer_key),
            kind: "earned",
            event: "signup",
            amount,
            currency: &currency,
            transaction_id: None,
            reverses: None,
            refunded: None,
            rule_id: Some(stored.id),
            note: None,
            occurred_at: at,
            due_on: &due_on,
            recorded_at: at,
        },
    )
    .map(drop)
}

/// Appends an adjustment, due at once; its entry as the statement shows it.
pub fn adjust(db: &mut Db, a: &Adjustment, at: &str) -> Result<Value, DbError> {
    let id = enter(
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
    statement_entries(db, &a.partner_key, "", &day_end(day(at)), day(at), Some(id), |e| {
        entries.push(e)
    })?;
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
    let mut by_day: HashMap<&str, (i64, i64)> = HashMap::new();
    for (entry, amount, due_on) in entries {
        db.execute(
            "INSERT INTO settlements (entry_id, payout_id) VALUES ($1, $2)",
            &[(*entry).into(), id.into()],
        )?;
        let sum = by_day.entry(due_on.as_str()).or_default();
        *sum = (sum.0 + amount, sum.1 + 1);
    }
    for (due_on, (amount, count)) in by_day {
        unsettled(db, &p.partner_key, &p.currency, due_on, -amount, -count)?;
    }
    db.execute(
        "INSERT INTO ledger_totals (partner_key, currency, earned, reversed, adjustments, paid)
         VALUES ($1, $2, 0, 0, 0, $3)
         ON CONFLICT (partner_key, currency) DO UPDATE SET
             paid = ledger_totals.paid + excluded.paid",
        &[
            p.partner_key.as_str().into(),
            p.currency.as_str().into(),
            p.amount.into(),
        ],
    )?;
    Ok(Payout::Created(stored_payout(db, &p.reference)?.unwrap_or_default()))
}

/// What one partner is owed in one currency: the ledger's totals, and what of it is unsettled,
/// due now and pending by the day it turns due.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owed {
    /// The partner.
    pub partner_key: String,
    /// ISO 4217.
    pub currency: String,
    /// Commissions earned.
    pub earned: i64,
    /// Commissions reversed (a positive number).
    pub reversed: i64,
    /// Adjustments, net.
    pub adjustments: i64,
    /// Paid out.
    pub paid: i64,
    /// Due now (negative when clawbacks exceed what is due).
    pub due: i64,
    /// Not due yet.
    pub pending: i64,
    /// What turns due when: `(day, amount)`, soonest first.
    pub turns_due: Vec<(String, i64)>,
}

impl Owed {
    /// As the API shows it.
    pub fn to_json(&self) -> Value {
        json!({
            "partner_key": self.partner_key,
            "currency": self.currency,
            "earned": self.earned,
            "reversed": self.reversed,
            "adjustments": self.adjustments,
            "paid": self.paid,
            "due": self.due,
            "pending": self.pending,
            "turns_due": self.turns_due.iter()
                .map(|(on, amount)| json!({ "on": on, "amount": amount }))
                .collect::<Vec<_>>(),
        })
    }
}

/// What every partner (or one) is owed per currency as of `today`, read from the running sums.
pub fn owed(db: &mut Db, today: &str, partner_key: Option<&str>) -> Result<Vec<Owed>, DbError> {
    let mut owed: Vec<Owed> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    db.for_each(
        "SELECT partner_key, currency, earned, reversed, adjustments, paid FROM ledger_totals
         WHERE CAST($1 AS TEXT) IS NULL OR partner_key = $1
         ORDER BY partner_key, currency",
        &[partner_key.into()],
        |row| {
            let mut row = row.into_iter();
            let (Some(partner_key), Some(currency)) =
                (row.next().and_then(V::text), row.next().and_then(V::text))
            else {
                return true;
            };
            let mut int = || row.next().and_then(|v| v.int()).unwrap_or(0);
            let (earned, reversed, adjustments, paid) = (int(), int(), int(), int());
            index.insert((partner_key.clone(), currency.clone()), owed.len());
            owed.push(Owed {
                partner_key,
                currency,
                earned,
                reversed,
                adjustments,
                paid,
                ..Owed::default()
            });
            true
        },
    )?;
    db.for_each(
        "SELECT partner_key, currency, due_on, amount FROM unsettled_days
         WHERE CAST($1 AS TEXT) IS NULL OR partner_key = $1
         ORDER BY partner_key, currency, due_on",
        &[partner_key.into()],
        |row| {
            let mut row = row.into_iter();
            let (Some(partner_key), Some(currency), Some(due_on), Some(amount)) = (
                row.next().and_then(V::text),
                row.next().and_then(V::text),
                row.next().and_then(V::text),
                row.next().and_then(|v| v.int()),
            ) else {
                return true;
            };
            if let Some(&i) = index.get(&(partner_key, currency)) {
                let o = &mut owed[i];
                if due_on.as_str() <= today {
                    o.due += amount;
                } else {
                    o.pending += amount;
                    o.turns_due.push((due_on, amount));
                }
            }
            true
        },
    )?;
    Ok(owed)
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
        &[
            partner_key.into(),
            since.into(),
            until.into(),
            only.into(),
        ],
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
        let key = |v: &Value| (v["recorded_at"].as_str().unwrap_or("").to_owned(), v["type"] == "payout");
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
        .map(|(currency, [opening, earned, reversed, adjustments, paid, _])| {
            json!({
                "currency": currency, "opening": opening, "earned": earned,
                "reversed": reversed, "adjustments": adjustments, "paid": paid,
                "closing": opening + earned - reversed + adjustments - paid,
            })
        })
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
