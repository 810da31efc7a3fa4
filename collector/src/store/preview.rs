//! `POST /v1/rewards/preview`: what a proposed rule would have earned over a date range, beside
//! what the ledger holds for the same payments and signups. It reads; it changes nothing.
//!
//! The proposed rule is applied where it would be in force: to the programs and partners it
//! names, unless a more specific rule is set for them. Sales that happened in the range earn by
//! it, refunds in the range reverse their share of those sales' commissions (as the ledger
//! allocates them), and customers credited in the range earn a signup rule's reward.

use super::engine::{Db, DbError, V};
use super::ledger::rule_for;
use crate::domain::rewards::{self, Event, Rule};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// How specific a rule's slot is: a partner's beats a program's, which beats every program's.
fn rank(public_key: &str, partner_key: &str) -> u8 {
    2 * u8::from(!partner_key.is_empty()) + u8::from(!public_key.is_empty())
}

/// Sums per partner and currency.
#[derive(Default)]
struct Sums {
    events: i64,
    earned: i64,
    reversed: i64,
    current: i64,
}

/// What `rule` would have earned from `since` (inclusive) to `end` (exclusive), per partner and
/// currency, beside the ledger's `current` net for the same payments.
pub fn preview(
    db: &mut Db,
    rule: &Rule,
    since: &str,
    end: &str,
    partner: Option<&str>,
) -> Result<Vec<Value>, DbError> {
    db.begin_read()?;
    let proposed = rank(&rule.public_key, &rule.partner_key);
    let mut governed: HashMap<(String, String), bool> = HashMap::new();
    let mut governs = |db: &mut Db, public_key: &str, partner_key: &str| -> Result<bool, DbError> {
        if (!rule.public_key.is_empty() && rule.public_key != public_key)
            || (!rule.partner_key.is_empty() && rule.partner_key != partner_key)
        {
            return Ok(false);
        }
        let key = (public_key.to_owned(), partner_key.to_owned());
        if let Some(&answer) = governed.get(&key) {
            return Ok(answer);
        }
        let current = rule_for(db, rule.on, public_key, partner_key)?;
        let answer =
            current.is_none_or(|c| rank(&c.rule.public_key, &c.rule.partner_key) <= proposed);
        governed.insert(key, answer);
        Ok(answer)
    };
    let partner = partner.or((!rule.partner_key.is_empty()).then_some(rule.partner_key.as_str()));
    let mut sums: BTreeMap<(String, String), Sums> = BTreeMap::new();
    match rule.on {
        Event::Sale => {
            // sale id → (partner, commission currency, commission, sale amount, refunded so far)
            let mut earned: HashMap<i64, (String, String, i64, i64, i64)> = HashMap::new();
            let mut first: HashMap<(String, String), String> = HashMap::new();
            // The sales the proposed rule would govern, earning or not: the ledger's net beside.
            let mut governed_sales: HashMap<i64, String> = HashMap::new();
            let sales = db.query(
                "SELECT id, amount, currency, COALESCE(public_key, ''), customer_key, partner_key,
                        occurred_at
                 FROM transactions
                 WHERE kind = 'sale' AND partner_key IS NOT NULL AND amount > 0
                   AND occurred_at >= $1 AND occurred_at < $2
                   AND (CAST($3 AS TEXT) IS NULL OR partner_key = $3)
                 ORDER BY occurred_at, id",
                &[since.into(), end.into(), partner.into()],
            )?;
            for row in sales {
                let mut row = row.into_iter();
                let (Some(id), Some(amount)) = (
                    row.next().and_then(|v| v.int()),
                    row.next().and_then(|v| v.int()),
                ) else {
                    continue;
                };
                let mut text = || row.next().and_then(V::text);
                let (currency, public_key, customer_key, partner_key, at) =
                    (text(), text(), text(), text(), text());
                let (Some(currency), Some(public_key), Some(partner_key), Some(at)) =
                    (currency, public_key, partner_key, at)
                else {
                    continue;
                };
                if !governs(db, &public_key, &partner_key)? {
                    continue;
                }
                governed_sales.insert(id, partner_key.clone());
                if rule.months.is_some() {
                    let start = match &customer_key {
                        Some(customer_key) => {
                            let key = (public_key.clone(), customer_key.clone());
                            match first.get(&key) {
                                Some(day) => day.clone(),
                                None => {
                                    let day = first_sale(db, &public_key, customer_key)?
                                        .unwrap_or_else(|| at.clone());
                                    first.insert(key, day.clone());
                                    day
                                }
                            }
                        }
                        None => at.clone(),
                    };
                    if !rule.in_term(&start, &at) {
                        continue;
                    }
                }
                let Some((commission, in_currency)) = rule.earns(amount, &currency) else {
                    continue;
                };
                let s = sums
                    .entry((partner_key.clone(), in_currency.clone()))
                    .or_default();
                s.events += 1;
                s.earned += commission;
                earned.insert(id, (partner_key, in_currency, commission, amount, 0));
            }
            // Refunds in the range, as the ledger allocated them to sales.
            let mut refunds = HashSet::new();
            let allocations = db.query(
                "SELECT a.sale_id, a.amount, a.refund_id FROM refund_allocations a
                 JOIN transactions t ON t.id = a.refund_id
                 WHERE t.occurred_at >= $1 AND t.occurred_at < $2
                 ORDER BY t.occurred_at, t.id",
                &[since.into(), end.into()],
            )?;
            for row in allocations {
                let (Some(sale), Some(take), Some(refund)) =
                    (row[0].int(), row[1].int(), row[2].int())
                else {
                    continue;
                };
                refunds.insert(refund);
                if let Some((partner_key, currency, commission, amount, before)) =
                    earned.get_mut(&sale)
                {
                    let reversed = rewards::reversal(*commission, *amount, *before, take);
                    *before += take;
                    let s = sums
                        .entry((partner_key.clone(), currency.clone()))
                        .or_default();
                    s.reversed += reversed;
                }
            }
            // What the ledger holds for the same sales and refunds.
            for row in db.query(
                "SELECT e.transaction_id, c.transaction_id, c.kind, c.amount, c.currency
                 FROM commissions c JOIN commissions e ON e.id = COALESCE(c.reverses, c.id)
                 WHERE e.kind = 'earned' AND e.event = 'sale' AND c.event IN ('sale', 'refund')
                   AND e.occurred_at >= $1 AND e.occurred_at < $2",
                &[since.into(), end.into()],
            )? {
                let mut row = row.into_iter();
                let (Some(sale), Some(by), Some(kind), Some(amount), Some(currency)) = (
                    row.next().and_then(|v| v.int()),
                    row.next().and_then(|v| v.int()),
                    row.next().and_then(V::text),
                    row.next().and_then(|v| v.int()),
                    row.next().and_then(V::text),
                ) else {
                    continue;
                };
                let Some(partner_key) = governed_sales.get(&sale) else {
                    continue;
                };
                if kind == "earned" || refunds.contains(&by) {
                    sums.entry((partner_key.clone(), currency))
                        .or_default()
                        .current += amount;
                }
            }
        }
        Event::Signup => {
            for row in db.query(
                "SELECT public_key, partner_key FROM customers
                 WHERE partner_key IS NOT NULL AND credited_at >= $1 AND credited_at < $2
                   AND (CAST($3 AS TEXT) IS NULL OR partner_key = $3)",
                &[since.into(), end.into(), partner.into()],
            )? {
                let mut row = row.into_iter();
                let (Some(public_key), Some(partner_key)) =
                    (row.next().and_then(V::text), row.next().and_then(V::text))
                else {
                    continue;
                };
                if !governs(db, &public_key, &partner_key)? {
                    continue;
                }
                if let Some((amount, currency)) = rule.earns(0, "") {
                    let s = sums.entry((partner_key, currency)).or_default();
                    s.events += 1;
                    s.earned += amount;
                }
            }
            for row in db.query(
                "SELECT public_key, partner_key, amount, currency FROM commissions
                 WHERE event = 'signup' AND occurred_at >= $1 AND occurred_at < $2
                   AND (CAST($3 AS TEXT) IS NULL OR partner_key = $3)",
                &[since.into(), end.into(), partner.into()],
            )? {
                let mut row = row.into_iter();
                let (Some(public_key), Some(partner_key), Some(amount), Some(currency)) = (
                    row.next().and_then(V::text),
                    row.next().and_then(V::text),
                    row.next().and_then(|v| v.int()),
                    row.next().and_then(V::text),
                ) else {
                    continue;
                };
                if governs(db, &public_key, &partner_key)? {
                    sums.entry((partner_key, currency)).or_default().current += amount;
                }
            }
        }
    }
    db.rollback();
    Ok(sums
        .into_iter()
        .map(|((partner_key, currency), s)| {
            json!({
                "partner_key": partner_key, "currency": currency,
                "events": s.events, "earned": s.earned, "reversed": s.reversed,
                "net": s.earned - s.reversed, "current_net": s.current,
            })
        })
        .collect())
}

/// The day of a customer's first sale.
fn first_sale(
    db: &mut Db,
    public_key: &str,
    customer_key: &str,
) -> Result<Option<String>, DbError> {
    let row = db.first(
        "SELECT MIN(occurred_at) FROM transactions
         WHERE public_key = $1 AND customer_key = $2 AND kind = 'sale'",
        &[public_key.into(), customer_key.into()],
    )?;
    Ok(row.and_then(|r| r.into_iter().next()?.text()))
}
