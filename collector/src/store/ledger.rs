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
//! out. Each partner's balance per currency (`domain::balance`) is kept in the same transactions,
//! so that what is owed is read without summing the ledger. Payouts, balances and statements are
//! in `store::payouts`.

use super::engine::{Db, DbError, V};
use crate::domain::balance::{item, Balance, COMPACT_AT};
use crate::domain::rewards::{self, Event, Reward, Rule};
use serde_json::Value;

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
pub(super) struct Entry<'a> {
    pub(super) partner_key: &'a str,
    pub(super) public_key: &'a str,
    pub(super) customer_key: Option<&'a str>,
    pub(super) kind: &'static str,
    pub(super) event: &'static str,
    pub(super) amount: i64,
    pub(super) currency: &'a str,
    pub(super) transaction_id: Option<i64>,
    pub(super) reverses: Option<i64>,
    pub(super) refunded: Option<i64>,
    pub(super) rule_id: Option<i64>,
    pub(super) note: Option<&'a str>,
    pub(super) occurred_at: &'a str,
    pub(super) due_on: &'a str,
    pub(super) recorded_at: &'a str,
}

/// The statement that appends an entry, and `$tail` (`RETURNING id`, or nothing).
macro_rules! insert_entry {
    ($tail:literal) => {
        concat!(
            "INSERT INTO commissions (partner_key, public_key, customer_key, kind, event, amount,
                                      currency, transaction_id, reverses, refunded, rule_id, note,
                                      occurred_at, due_on, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
             ON CONFLICT DO NOTHING",
            $tail
        )
    };
}

/// Appends `e` unless the database holds it already (its unique indexes: one earned entry per
/// sale, per customer and partner for a signup; one reversal per refund and entry); keeps the
/// partner's balance. Whether it was new.
pub(super) fn enter(db: &mut Db, e: &Entry<'_>) -> Result<bool, DbError> {
    let new = db.execute(insert_entry!(""), &entry_params(e))? == 1;
    if new {
        account(db, e)?;
    }
    Ok(new)
}

/// [`enter`], answering the new entry's id (`None` when the database held it already).
pub(super) fn enter_returning(db: &mut Db, e: &Entry<'_>) -> Result<Option<i64>, DbError> {
    let row = db.first(insert_entry!(" RETURNING id"), &entry_params(e))?;
    let id = row.and_then(|r| r[0].int());
    if id.is_some() {
        account(db, e)?;
    }
    Ok(id)
}

fn entry_params<'a>(e: &'a Entry<'a>) -> [super::engine::P<'a>; 15] {
    [
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
    ]
}

/// What a transaction adds to one balance: its entries summed, their amounts by due day.
#[derive(Default)]
struct Delta {
    partner_key: String,
    currency: String,
    earned: i64,
    reversed: i64,
    adjustments: i64,
    days: std::collections::BTreeMap<String, i64>,
    /// Whether to look at the schedule's length afterwards, and the day to compact as of.
    look: bool,
    today: String,
}

thread_local! {
    /// The balances this thread's open transaction has deferred writes for: a further entry for
    /// one of them joins its delta. A delta outlives its write only while that write is held.
    static DELTAS: std::cell::RefCell<std::collections::HashMap<String, std::sync::Weak<std::sync::Mutex<Delta>>>> =
        Default::default();
}

/// Adds an entry to its partner's balance, without reading the row first: the totals, and the
/// amount by the day it turns due — added to the latest due day's amount when it is that day
/// (most of a day's entries are), or else that day moved into the schedule. Deferred to the
/// commit on PostgreSQL ([`Db::defer`]), where a transaction's entries for one balance are
/// written in one statement; the schedule is compacted when it has grown long (its length looked
/// at for one payment in 16, and every other entry).
fn account(db: &mut Db, e: &Entry<'_>) -> Result<(), DbError> {
    let key = format!("balance\n{}\n{}", e.partner_key, e.currency);
    let add = |d: &mut Delta| {
        match e.kind {
            "earned" => d.earned += e.amount,
            "reversed" => d.reversed -= e.amount,
            _ => d.adjustments += e.amount,
        }
        *d.days.entry(e.due_on.to_owned()).or_default() += e.amount;
        d.look |= e.transaction_id.is_none_or(|id| id % 16 == 0);
        d.today = d.today.clone().max(day(e.recorded_at).to_owned());
    };
    let held = DELTAS.with(|deltas| deltas.borrow().get(&key).and_then(std::sync::Weak::upgrade));
    if let Some(delta) = held {
        add(&mut delta.lock().unwrap_or_else(|p| p.into_inner()));
        return Ok(());
    }
    let mut delta = Delta {
        partner_key: e.partner_key.to_owned(),
        currency: e.currency.to_owned(),
        ..Delta::default()
    };
    add(&mut delta);
    let delta = std::sync::Arc::new(std::sync::Mutex::new(delta));
    DELTAS.with(|deltas| {
        let mut deltas = deltas.borrow_mut();
        deltas.retain(|_, d| d.strong_count() > 0);
        deltas.insert(key.clone(), std::sync::Arc::downgrade(&delta));
    });
    db.defer(
        key.clone(),
        Box::new(move |db: &mut Db| {
            DELTAS.with(|deltas| deltas.borrow_mut().remove(&key));
            let delta = std::mem::take(&mut *delta.lock().unwrap_or_else(|p| p.into_inner()));
            write_delta(db, delta)
        }),
    )
}

/// Writes a balance's delta in one statement: the latest of its days becomes the latest day's
/// amount (added to it when it is the same day), the others join the schedule.
fn write_delta(db: &mut Db, d: Delta) -> Result<(), DbError> {
    let Some((latest_on, latest)) = d.days.iter().next_back().map(|(k, v)| (k.clone(), *v)) else {
        return Ok(());
    };
    let others: String = d
        .days
        .iter()
        .filter(|(day, _)| **day != latest_on)
        .map(|(day, amount)| format!(";{}", item(day, *amount)))
        .collect();
    db.execute(
        "INSERT INTO ledger_totals (partner_key, currency, earned, reversed, adjustments,
                                    paid, due, schedule, latest_on, latest)
         VALUES ($1, $2, $3, $4, $5, 0, 0, $8, $6, $7)
         ON CONFLICT (partner_key, currency) DO UPDATE SET
             earned = ledger_totals.earned + excluded.earned,
             reversed = ledger_totals.reversed + excluded.reversed,
             adjustments = ledger_totals.adjustments + excluded.adjustments,
             schedule = ledger_totals.schedule
                 || CASE WHEN ledger_totals.latest_on IN ('', excluded.latest_on) THEN ''
                         ELSE ';' || ledger_totals.latest_on || ' '
                              || CAST(ledger_totals.latest AS TEXT) END
                 || $8,
             latest = CASE WHEN ledger_totals.latest_on = excluded.latest_on
                           THEN ledger_totals.latest + excluded.latest
                           ELSE excluded.latest END,
             latest_on = excluded.latest_on",
        &[
            d.partner_key.as_str().into(),
            d.currency.as_str().into(),
            d.earned.into(),
            d.reversed.into(),
            d.adjustments.into(),
            latest_on.as_str().into(),
            latest.into(),
            others.as_str().into(),
        ],
    )?;
    if !d.look {
        return Ok(());
    }
    let length = db
        .first(
            "SELECT length(schedule) FROM ledger_totals WHERE partner_key = $1 AND currency = $2",
            &[d.partner_key.as_str().into(), d.currency.as_str().into()],
        )?
        .and_then(|row| row[0].int())
        .unwrap_or(0);
    if length > COMPACT_AT {
        change(db, &d.partner_key, &d.currency, |b| b.compact(&d.today))?;
    }
    Ok(())
}

/// Changes a partner's balance in a currency by `f`: read, changed, and written back only if no
/// one appended to it meanwhile (compare and swap; tried again otherwise).
pub(super) fn change(
    db: &mut Db,
    partner_key: &str,
    currency: &str,
    mut f: impl FnMut(&mut Balance),
) -> Result<(), DbError> {
    for _attempt in 0..16 {
        let row = db.first(
            "SELECT earned, reversed, adjustments, paid, due, schedule, latest_on, latest
             FROM ledger_totals WHERE partner_key = $1 AND currency = $2",
            &[partner_key.into(), currency.into()],
        )?;
        let stored = row.clone().map(|r| r[5..].to_vec()).unwrap_or_default();
        let before = row.map(balance_of).unwrap_or_default();
        let mut after = before.clone();
        f(&mut after);
        let text = |i: usize| stored.get(i).cloned().and_then(V::text).unwrap_or_default();
        let (schedule, latest_on) = (text(0), text(1));
        let latest = stored.get(2).and_then(V::int).unwrap_or(0);
        let changed = db.execute(
            "INSERT INTO ledger_totals (partner_key, currency, earned, reversed, adjustments,
                                        paid, due, schedule, latest_on, latest)
             VALUES ($1, $2, 0, 0, 0, $3, $4, $5, '', 0)
             ON CONFLICT (partner_key, currency) DO UPDATE SET
                 paid = excluded.paid, due = excluded.due, schedule = excluded.schedule,
                 latest_on = '', latest = 0
             WHERE ledger_totals.paid = $6 AND ledger_totals.due = $7
               AND ledger_totals.schedule = $8 AND ledger_totals.latest_on = $9
               AND ledger_totals.latest = $10",
            &[
                partner_key.into(),
                currency.into(),
                after.paid.into(),
                after.due.into(),
                after.schedule.as_str().into(),
                before.paid.into(),
                before.due.into(),
                schedule.as_str().into(),
                latest_on.as_str().into(),
                latest.into(),
            ],
        )?;
        if changed == 1 {
            return Ok(());
        }
    }
    Err(DbError::new(format!(
        "the balance of {partner_key} in {currency} kept changing"
    )))
}

/// A balance from its row (`earned, reversed, adjustments, paid, due, schedule, latest_on,
/// latest`): the latest day's amount is one more item of its schedule.
fn balance_of(row: Vec<V>) -> Balance {
    let mut row = row.into_iter();
    let mut int = || row.next().and_then(|v| v.int()).unwrap_or(0);
    let (earned, reversed, adjustments, paid, due) = (int(), int(), int(), int(), int());
    let schedule = row.next().and_then(V::text).unwrap_or_default();
    let latest_on = row.next().and_then(V::text).unwrap_or_default();
    let latest = row.next().and_then(|v| v.int()).unwrap_or(0);
    Balance {
        earned,
        reversed,
        adjustments,
        paid,
        due,
        schedule: with_latest(schedule, &latest_on, latest),
    }
}

/// Schedule text with the latest day's amount as its last item.
pub(super) fn with_latest(mut schedule: String, latest_on: &str, latest: i64) -> String {
    if !latest_on.is_empty() {
        if !schedule.is_empty() {
            schedule.push(';');
        }
        schedule.push_str(&item(latest_on, latest));
    }
    schedule
}

/// Stores a partner's balance in a currency in place of the one stored.
pub(super) fn keep(
    db: &mut Db,
    partner_key: &str,
    currency: &str,
    b: &Balance,
) -> Result<(), DbError> {
    db.execute(
        "INSERT INTO ledger_totals (partner_key, currency, earned, reversed, adjustments, paid,
                                    due, schedule, latest_on, latest)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', 0)
         ON CONFLICT (partner_key, currency) DO UPDATE SET
             earned = excluded.earned, reversed = excluded.reversed,
             adjustments = excluded.adjustments, paid = excluded.paid, due = excluded.due,
             schedule = excluded.schedule, latest_on = '', latest = 0",
        &[
            partner_key.into(),
            currency.into(),
            b.earned.into(),
            b.reversed.into(),
            b.adjustments.into(),
            b.paid.into(),
            b.due.into(),
            b.schedule.as_str().into(),
        ],
    )
    .map(drop)
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
pub(super) fn day(at: &str) -> &str {
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

/// After a customer's credit is decided (`first`: by its first claim), with the partner whose
/// credit is confirmed by the site's server (`None` when none is): a partner that held the
/// customer's signup reward and no longer does has it reversed; the partner credited earns its
/// signup reward by the rule in force, once per customer.
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
