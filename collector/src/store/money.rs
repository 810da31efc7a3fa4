//! Money in: sales and refunds from every source, each stored once per source (the database's
//! unique index, on both engines), credited to the partner the credit rule names for the customer
//! at that moment; and the billing systems' customer ids (provider keys) bound to the site's
//! customers.

use super::engine::{first_text, Db, DbError, V};
use super::ledger;
use crate::domain::money::{ApiPayment, Payer};

/// A sale or refund to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTransaction {
    /// `stripe`, `conversion`, `partnerstack`, `partnero`, `import`.
    pub source: &'static str,
    /// The source's own id: unique per source.
    pub source_id: String,
    /// `sale` or `refund`.
    pub kind: &'static str,
    /// Minor units of `currency`; negative for a refund.
    pub amount: i64,
    /// ISO 4217, upper case.
    pub currency: String,
    /// The customer's program, when known.
    pub public_key: Option<String>,
    /// The customer, when one matched.
    pub customer_key: Option<String>,
    /// What the source relates it to (a Stripe charge).
    pub reference: Option<String>,
    /// Why no customer matched, when none did.
    pub unmatched: Option<String>,
    /// When it happened.
    pub occurred_at: String,
    /// The source's details, as JSON.
    pub body: String,
    /// The partner to credit when the source itself names one (a conversion's click); otherwise
    /// the customer's credited partner is taken.
    pub partner_key: Option<String>,
}

/// What recording a transaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The transaction's id.
    pub id: i64,
    /// False when the source sent it before: nothing changed.
    pub created: bool,
    /// The partner credited, if any.
    pub partner_key: Option<String>,
}

/// Stores `t` unless its source stored it before; answers what is stored either way.
pub fn record(db: &mut Db, t: &NewTransaction, received_at: &str) -> Result<Recorded, DbError> {
    let (public_key, customer_key) = (t.public_key.as_deref(), t.customer_key.as_deref());
    let partner_key = match (&t.partner_key, public_key, customer_key) {
        (Some(partner), _, _) => Some(partner.clone()),
        (None, Some(public_key), Some(customer_key)) => credited(db, public_key, customer_key)?,
        _ => None,
    };
    let changed = db.execute(
        "INSERT INTO transactions (source, source_id, kind, amount, currency, public_key,
                                   customer_key, partner_key, reference, unmatched, occurred_at,
                                   received_at, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT DO NOTHING",
        &[
            t.source.into(),
            t.source_id.as_str().into(),
            t.kind.into(),
            t.amount.into(),
            t.currency.as_str().into(),
            public_key.into(),
            customer_key.into(),
            partner_key.as_deref().into(),
            t.reference.as_deref().into(),
            t.unmatched.as_deref().into(),
            t.occurred_at.as_str().into(),
            received_at.into(),
            t.body.as_str().into(),
        ],
    )?;
    let row = db.first(
        "SELECT id, partner_key FROM transactions WHERE source = $1 AND source_id = $2",
        &[t.source.into(), t.source_id.as_str().into()],
    )?;
    let (id, partner_key) = match row.as_deref() {
        Some([V::Int(id), partner]) => (*id, partner.clone().text()),
        _ => return Err(DbError::new("the transaction was not stored")),
    };
    if let (1, Some(partner)) = (changed, &partner_key) {
        let credited = Credited {
            partner_key: partner,
            public_key: public_key.unwrap_or_default(),
            customer_key,
            day: &t.occurred_at[..t.occurred_at.len().min(10)],
            currency: &t.currency,
            amount: t.amount,
        };
        count(db, &credited)?;
    }
    if changed == 1 {
        let payment = ledger::Payment {
            id,
            kind: t.kind.to_owned(),
            amount: t.amount,
            currency: t.currency.clone(),
            source: t.source.to_owned(),
            source_id: t.source_id.clone(),
            reference: t.reference.clone(),
            public_key: t.public_key.clone(),
            customer_key: t.customer_key.clone(),
            partner_key: partner_key.clone(),
            occurred_at: t.occurred_at.clone(),
        };
        ledger::paid(db, &payment, received_at)?;
    }
    Ok(Recorded {
        id,
        created: changed == 1,
        partner_key,
    })
}

/// A transaction credited to a partner, as the report's running sums count it.
struct Credited<'a> {
    partner_key: &'a str,
    public_key: &'a str,
    customer_key: Option<&'a str>,
    day: &'a str,
    currency: &'a str,
    amount: i64,
}

/// Adds a credited transaction to the report's sums, in the transaction that stores it: the
/// day's sales or refunds of its partner, and for a sale, the customer as paying (from its first
/// paying day). The report reads these, not every transaction. Rows many transactions write,
/// one deferred write each, to the commit on PostgreSQL ([`Db::defer`]).
fn count(db: &mut Db, c: &Credited<'_>) -> Result<(), DbError> {
    let (sales, refunds) = if c.amount >= 0 {
        (c.amount, 0)
    } else {
        (0, -c.amount)
    };
    let (partner_key, public_key, day, currency) = (
        c.partner_key.to_owned(),
        c.public_key.to_owned(),
        c.day.to_owned(),
        c.currency.to_owned(),
    );
    let paying = match (c.customer_key, c.amount > 0) {
        (Some(customer_key), true) => Some(customer_key.to_owned()),
        _ => None,
    };
    let key = format!("revenue\n{partner_key}\n{public_key}\n{day}\n{currency}");
    let row = (
        partner_key.clone(),
        public_key.clone(),
        day.clone(),
        currency.clone(),
    );
    db.defer(
        key,
        Box::new(move |db: &mut Db| {
            let (partner_key, public_key, day, currency) = row;
            db.execute(
                "INSERT INTO revenue_days (partner_key, public_key, day, currency, sales, refunds)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (partner_key, public_key, day, currency) DO UPDATE SET
                     sales = revenue_days.sales + excluded.sales,
                     refunds = revenue_days.refunds + excluded.refunds",
                &[
                    partner_key.as_str().into(),
                    public_key.as_str().into(),
                    day.as_str().into(),
                    currency.as_str().into(),
                    sales.into(),
                    refunds.into(),
                ],
            )
            .map(drop)
        }),
    )?;
    let Some(customer_key) = paying else {
        return Ok(());
    };
    let key = format!("paying\n{partner_key}\n{currency}\n{public_key}\n{customer_key}");
    db.defer(
        key,
        Box::new(move |db: &mut Db| {
            db.execute(
                "INSERT INTO paying_customers (partner_key, currency, public_key, customer_key,
                                               first_day)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (partner_key, currency, public_key, customer_key) DO UPDATE SET
                     first_day = CASE WHEN excluded.first_day < paying_customers.first_day
                                      THEN excluded.first_day ELSE paying_customers.first_day END",
                &[
                    partner_key.as_str().into(),
                    currency.as_str().into(),
                    public_key.as_str().into(),
                    customer_key.as_str().into(),
                    day.as_str().into(),
                ],
            )
            .map(drop)
        }),
    )
}

/// Records a payment an API or a file gave (`source`, its `key` unique per source), matched to
/// its customer by key or email. One that matches none is kept with why, unless `create_in`
/// names the program to take its key as a customer's all the same (Partnero's
/// `create_customer`). Answers what was recorded, and whether a customer matched.
pub fn pay(
    db: &mut Db,
    source: &'static str,
    payment: &ApiPayment,
    create_in: Option<&str>,
    occurred_at: &str,
    received_at: &str,
) -> Result<(Recorded, bool), DbError> {
    let found = match &payment.payer {
        Payer::Key(key) => customer_by_key(db, None, key)?,
        Payer::Email(email) => customer_by_email(db, email)?,
    };
    let matched = found.is_some();
    let (customer, unmatched) = match (found, &payment.payer, create_in) {
        (Some(customer), _, _) => (Some(customer), None),
        (None, Payer::Key(key), Some(program)) => (Some((program.to_owned(), key.clone())), None),
        (None, Payer::Key(key), None) => (None, Some(format!("no customer {key} here"))),
        (None, Payer::Email(email), _) => (None, Some(format!("no customer signed up as {email}"))),
    };
    let recorded = record(
        db,
        &NewTransaction {
            source,
            source_id: payment.key.clone(),
            kind: if payment.amount < 0 { "refund" } else { "sale" },
            amount: payment.amount,
            currency: payment.currency.clone(),
            public_key: customer.as_ref().map(|c| c.0.clone()),
            customer_key: customer.map(|c| c.1),
            reference: None,
            unmatched,
            occurred_at: occurred_at.to_owned(),
            body: serde_json::Value::Object(payment.details.clone()).to_string(),
            partner_key: None,
        },
        received_at,
    )?;
    Ok((recorded, matched))
}

/// The partner the credit rule names for a customer now.
pub fn credited(
    db: &mut Db,
    public_key: &str,
    customer_key: &str,
) -> Result<Option<String>, DbError> {
    db.first(
        "SELECT partner_key FROM customers WHERE public_key = $1 AND customer_key = $2",
        &[public_key.into(), customer_key.into()],
    )
    .map(first_text)
}

/// A customer by key: in `public_key`'s program, or, without one, the only program that has it.
pub fn customer_by_key(
    db: &mut Db,
    public_key: Option<&str>,
    customer_key: &str,
) -> Result<Option<(String, String)>, DbError> {
    let rows = db.query(
        "SELECT public_key FROM customers
         WHERE customer_key = $1 AND (CAST($2 AS TEXT) IS NULL OR public_key = $2) LIMIT 2",
        &[customer_key.into(), public_key.into()],
    )?;
    Ok(match rows.as_slice() {
        [row] => row[0].clone().text().map(|p| (p, customer_key.to_owned())),
        _ => None,
    })
}

/// The customer whose earliest claim carried `email` (any case).
pub fn customer_by_email(db: &mut Db, email: &str) -> Result<Option<(String, String)>, DbError> {
    let row = db.first(
        "SELECT public_key, customer_key FROM records
         WHERE kind = 'signup' AND email = $1 AND public_key IS NOT NULL ORDER BY id LIMIT 1",
        &[email.to_ascii_lowercase().as_str().into()],
    )?;
    Ok(row.and_then(|row| {
        let mut row = row.into_iter();
        Some((row.next()?.text()?, row.next()?.text()?))
    }))
}

/// Binds a billing system's customer id to a customer (a later binding replaces it).
pub fn bind(
    db: &mut Db,
    provider: &str,
    provider_key: &str,
    customer: &(String, String),
) -> Result<(), DbError> {
    db.execute(
        "INSERT INTO provider_keys (provider, provider_key, public_key, customer_key)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (provider, provider_key) DO UPDATE
             SET public_key = excluded.public_key, customer_key = excluded.customer_key",
        &[
            provider.into(),
            provider_key.into(),
            customer.0.as_str().into(),
            customer.1.as_str().into(),
        ],
    )
    .map(drop)
}

/// The customer a billing system's customer id is bound to.
pub fn bound(
    db: &mut Db,
    provider: &str,
    provider_key: &str,
) -> Result<Option<(String, String)>, DbError> {
    let row = db.first(
        "SELECT public_key, customer_key FROM provider_keys
         WHERE provider = $1 AND provider_key = $2",
        &[provider.into(), provider_key.into()],
    )?;
    Ok(row.and_then(|row| {
        let mut row = row.into_iter();
        Some((row.next()?.text()?, row.next()?.text()?))
    }))
}

/// How much of `reference` (a charge) is refunded so far, in minor units (a positive number).
pub fn refunded(db: &mut Db, source: &str, reference: &str) -> Result<i64, DbError> {
    let row = db.first(
        "SELECT CAST(COALESCE(SUM(-amount), 0) AS BIGINT) FROM transactions
         WHERE source = $1 AND reference = $2 AND kind = 'refund'",
        &[source.into(), reference.into()],
    )?;
    Ok(row.and_then(|r| r[0].int()).unwrap_or(0))
}

/// Reverses `source`'s sale `source_id` with a refund of its amount (`{source_id}/reversed`),
/// once: `None` when the source has no such sale (a refund is not reversed).
pub fn reverse(
    db: &mut Db,
    source: &'static str,
    source_id: &str,
    received_at: &str,
) -> Result<Option<Recorded>, DbError> {
    let row = db.first(
        "SELECT amount, currency, public_key, customer_key, partner_key, unmatched
         FROM transactions WHERE source = $1 AND source_id = $2 AND kind = 'sale'",
        &[source.into(), source_id.into()],
    )?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut row = row.into_iter();
    let amount = row.next().and_then(|v| v.int()).unwrap_or(0);
    let mut text = || row.next().and_then(V::text);
    let (currency, public_key, customer_key, partner_key, unmatched) =
        (text(), text(), text(), text(), text());
    record(
        db,
        &NewTransaction {
            source,
            source_id: format!("{source_id}/reversed"),
            kind: "refund",
            amount: -amount,
            currency: currency.unwrap_or_default(),
            public_key,
            customer_key,
            reference: Some(source_id.to_owned()),
            unmatched,
            occurred_at: received_at.to_owned(),
            body: "{}".into(),
            partner_key,
        },
        received_at,
    )
    .map(Some)
}

/// Credits an unmatched transaction to `customer` (by hand, at `at`), with its commission:
/// `None` when there is no such transaction; `Some(false)` when it was matched already (nothing
/// changes).
pub fn attribute(
    db: &mut Db,
    id: i64,
    customer: &(String, String),
    at: &str,
) -> Result<Option<bool>, DbError> {
    let exists = db.first(
        "SELECT unmatched FROM transactions WHERE id = $1",
        &[id.into()],
    )?;
    let Some(row) = exists else {
        return Ok(None);
    };
    if row[0] == V::Null {
        return Ok(Some(false));
    }
    let partner = credited(db, &customer.0, &customer.1)?;
    let row = db
        .first(
            "SELECT amount, currency, occurred_at FROM transactions WHERE id = $1",
            &[id.into()],
        )?
        .unwrap_or_default();
    if let (Some(partner), [V::Int(amount), V::Text(currency), V::Text(at)]) =
        (&partner, row.as_slice())
    {
        let credited = Credited {
            partner_key: partner,
            public_key: &customer.0,
            customer_key: Some(&customer.1),
            day: &at[..at.len().min(10)],
            currency,
            amount: *amount,
        };
        count(db, &credited)?;
    }
    db.execute(
        "UPDATE transactions SET public_key = $2, customer_key = $3, partner_key = $4,
                                 unmatched = NULL
         WHERE id = $1 AND unmatched IS NOT NULL",
        &[
            id.into(),
            customer.0.as_str().into(),
            customer.1.as_str().into(),
            partner.as_deref().into(),
        ],
    )?;
    // Its commission, by the rule in force now.
    if let Some(payment) = ledger::payment(db, id)? {
        ledger::paid(db, &payment, at)?;
    }
    Ok(Some(true))
}

/// One transaction as the API shows it.
pub fn get(db: &mut Db, id: i64) -> Result<Option<serde_json::Value>, DbError> {
    let row = db.first(
        "SELECT id, source, source_id, kind, amount, currency, public_key, customer_key,
                partner_key, unmatched, occurred_at, received_at
         FROM transactions WHERE id = $1",
        &[id.into()],
    )?;
    Ok(row.map(|row| {
        let json = |v: &V| match v {
            V::Null => serde_json::Value::Null,
            V::Int(n) => (*n).into(),
            V::Text(t) => t.clone().into(),
        };
        let names = [
            "id",
            "source",
            "source_id",
            "kind",
            "amount",
            "currency",
            "public_key",
            "customer_key",
            "partner_key",
            "unmatched",
            "occurred_at",
            "received_at",
        ];
        serde_json::Value::Object(
            names
                .iter()
                .zip(&row)
                .map(|(name, value)| ((*name).to_owned(), json(value)))
                .collect(),
        )
    }))
}
