//! Customers and their claims: after every new claim, the customer's credit is decided anew by
//! the rule (`domain::credit`) from all of its claims, in the transaction that stored the claim.

use super::engine::{Db, DbError, V};
use super::ledger;
use crate::domain::credit::{self, Claim, Credit, Standing};

/// After a new claim (`id`, its partner and standing, `received_at`): the customer's first claim
/// decides alone, stored in one statement; a later one decides anew from all of them
/// ([`recompute`]). The signup rewards follow the decision, in the same transaction, when the
/// credited claim is confirmed by the site's server. Two first claims at once cannot both be first: the second waits on the first's
/// row (the primary key) and then recomputes under the lock.
pub fn claimed(
    db: &mut Db,
    public_key: &str,
    customer_key: &str,
    claim: Claim,
    received_at: &str,
) -> Result<Credit, DbError> {
    let credit = credit::decide(std::slice::from_ref(&claim));
    let first = db.execute(
        "INSERT INTO customers
             (public_key, customer_key, record_id, partner_key, standing, contested, credited_at)
         VALUES ($1, $2, $3, $4, $5, 0, $6)
         ON CONFLICT DO NOTHING",
        &[
            public_key.into(),
            customer_key.into(),
            credit.claim.into(),
            credit.partner_key.as_deref().into(),
            credit.standing.as_str().into(),
            received_at.into(),
        ],
    )?;
    let credit = if first == 1 {
        credit
    } else {
        recompute(db, public_key, customer_key)?
    };
    // Money follows only a credit the site's server vouched for: an anonymous claim, however
    // it stands, earns no partner a signup reward.
    let vouched = credit
        .partner_key
        .as_deref()
        .filter(|_| credit.standing == Standing::Confirmed);
    ledger::credited(
        db,
        public_key,
        customer_key,
        vouched,
        first == 1,
        received_at,
    )?;
    Ok(credit)
}

/// Decides `customer_key`'s credit in `public_key` from all of its claims and stores the answer.
/// Collectors sharing a database take turns per customer, so each decision sees every claim
/// committed before it.
pub fn recompute(db: &mut Db, public_key: &str, customer_key: &str) -> Result<Credit, DbError> {
    db.lock(&format!("customer\n{public_key}\n{customer_key}"))?;
    let rows = db.query(
        "SELECT id, partner_key, standing, received_at FROM records
         WHERE kind = 'signup' AND public_key = $1 AND customer_key = $2
         ORDER BY id",
        &[public_key.into(), customer_key.into()],
    )?;
    let mut received = Vec::with_capacity(rows.len());
    let claims: Vec<Claim> = rows
        .into_iter()
        .map(|row| {
            let mut row = row.into_iter();
            let id = row.next().and_then(|v| v.int()).unwrap_or(0);
            let partner_key = row.next().and_then(V::text);
            let standing = Standing::parse(&row.next().and_then(V::text).unwrap_or_default());
            received.push((id, row.next().and_then(V::text).unwrap_or_default()));
            Claim {
                id,
                partner_key,
                standing,
            }
        })
        .collect();
    let credit = credit::decide(&claims);
    // A customer counts from its credited claim, or (when none credits) from its first claim.
    let credited_at = received
        .iter()
        .find(|(id, _)| Some(*id) == credit.claim)
        .or(received.first())
        .map(|(_, at)| at.clone())
        .unwrap_or_default();
    db.execute(
        "INSERT INTO customers
             (public_key, customer_key, record_id, partner_key, standing, contested, credited_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (public_key, customer_key) DO UPDATE SET
             record_id = excluded.record_id, partner_key = excluded.partner_key,
             standing = excluded.standing, contested = excluded.contested,
             credited_at = excluded.credited_at",
        &[
            public_key.into(),
            customer_key.into(),
            credit.claim.into(),
            credit.partner_key.as_deref().into(),
            credit.standing.as_str().into(),
            i64::from(credit.contested).into(),
            credited_at.as_str().into(),
        ],
    )?;
    Ok(credit)
}

/// Decides every customer's credit anew (the migration that introduced claims).
pub fn recompute_all(db: &mut Db) -> Result<(), DbError> {
    let customers = db.query(
        "SELECT DISTINCT public_key, customer_key FROM records
         WHERE kind = 'signup' AND public_key IS NOT NULL",
        &[],
    )?;
    for row in customers {
        let mut row = row.into_iter();
        let (Some(public_key), Some(customer_key)) =
            (row.next().and_then(V::text), row.next().and_then(V::text))
        else {
            continue;
        };
        recompute(db, &public_key, &customer_key)?;
    }
    Ok(())
}
