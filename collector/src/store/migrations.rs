//! The schema, as one list of migrations for both engines, and the step that brings a database
//! to the newest version at start.

use super::engine::{Db, DbError};

/// The schema: entry `i` takes a database from version `i` to `i + 1`. `{id}` is the row id
/// column, `{body_partner_key}` and `{body_email}` read those fields out of the JSON body, in
/// each dialect, and `{without_rowid}` lays a table keyed by its primary key out in that key's
/// order on SQLite (running sums read in that order).
const MIGRATIONS: [&str; 6] = [
    // Version 1, as the first collector wrote it (before `schema_version` existed).
    "
CREATE TABLE IF NOT EXISTS records (
    id           {id},
    event_id     TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    public_key   TEXT,
    customer_key TEXT NOT NULL,
    xid          TEXT,
    body         TEXT NOT NULL,
    received_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS signup_per_customer
    ON records (public_key, customer_key) WHERE kind = 'signup';
CREATE UNIQUE INDEX IF NOT EXISTS conversion_per_customer
    ON records (xid, customer_key) WHERE kind = 'conversion';
",
    // Version 2: partner-link clicks, and records resolved to the partner they credit.
    "
CREATE TABLE clicks (
    xid         TEXT PRIMARY KEY,
    partner_key TEXT NOT NULL,
    at          TEXT NOT NULL,
    at_ms       BIGINT NOT NULL,
    destination TEXT NOT NULL,
    referrer    TEXT,
    user_agent  TEXT NOT NULL,
    ip_prefix   TEXT NOT NULL
);
CREATE INDEX clicks_by_visitor ON clicks (partner_key, ip_prefix, user_agent, at_ms);
ALTER TABLE records ADD COLUMN partner_key TEXT;
ALTER TABLE records ADD COLUMN claimed_partner_key TEXT;
ALTER TABLE records ADD COLUMN verified BIGINT NOT NULL DEFAULT 1;
ALTER TABLE records ADD COLUMN amount BIGINT;
ALTER TABLE records ADD COLUMN currency TEXT;
ALTER TABLE records ADD COLUMN transaction_key TEXT;
UPDATE records SET partner_key = {body_partner_key};
CREATE UNIQUE INDEX conversion_per_transaction
    ON records (transaction_key) WHERE kind = 'conversion' AND transaction_key IS NOT NULL;
",
    // Version 3: one row that `GET /healthz` rewrites, so that health is a real write.
    "
CREATE TABLE health (id BIGINT PRIMARY KEY, probed_at TEXT NOT NULL);
INSERT INTO health (id, probed_at) VALUES (1, '');
",
    // Version 4: credit decided by evidence. A signup is a claim, and a customer may have many:
    // the one-signup-per-customer index goes, and each claim keeps its standing (what backs it).
    // `customers` holds the rule's answer per customer; `partners` the registry; clicks say
    // where they came from, and the clicks held back per partner and day are counted.
    "
DROP INDEX signup_per_customer;
ALTER TABLE records ADD COLUMN standing TEXT NOT NULL DEFAULT 'claimed';
ALTER TABLE records ADD COLUMN via TEXT NOT NULL DEFAULT 'browser';
CREATE INDEX claims_by_customer ON records (public_key, customer_key) WHERE kind = 'signup';
CREATE INDEX confirmed_xids ON records (xid) WHERE standing = 'confirmed' AND xid IS NOT NULL;
UPDATE records SET via = 's2s', standing = 'confirmed' WHERE kind = 'conversion';
UPDATE records SET via = 'api', standing = 'confirmed'
    WHERE kind = 'signup' AND body LIKE '%\"source\":\"partnero-api\"%';
UPDATE records SET standing = 'clicked'
    WHERE kind = 'signup' AND standing = 'claimed'
      AND EXISTS (SELECT 1 FROM clicks
                  WHERE clicks.xid = records.xid AND clicks.partner_key = records.partner_key);
UPDATE records SET standing = 'unverified' WHERE kind = 'signup' AND verified = 0;
UPDATE records SET standing = 'unattributed' WHERE kind = 'signup' AND partner_key IS NULL;
CREATE UNIQUE INDEX customer_per_api_call
    ON records (public_key, customer_key) WHERE kind = 'signup' AND via = 'api';
CREATE TABLE customers (
    public_key    TEXT NOT NULL,
    customer_key  TEXT NOT NULL,
    record_id     BIGINT,
    partner_key   TEXT,
    standing      TEXT NOT NULL,
    contested     BIGINT NOT NULL,
    credited_at   TEXT NOT NULL,
    PRIMARY KEY (public_key, customer_key)
);
CREATE TABLE partners (
    partner_key TEXT PRIMARY KEY,
    name        TEXT,
    email       TEXT,
    status      TEXT NOT NULL,
    registered  BIGINT NOT NULL,
    created_at  TEXT NOT NULL
);
INSERT INTO partners (partner_key, status, registered, created_at)
    SELECT partner_key, 'active', 0, MIN(at) FROM
        (SELECT partner_key, at FROM clicks
         UNION ALL
         SELECT partner_key, received_at FROM records WHERE partner_key IS NOT NULL) AS seen
    GROUP BY partner_key;
ALTER TABLE clicks ADD COLUMN source TEXT NOT NULL DEFAULT 'link';
ALTER TABLE clicks ADD COLUMN public_key TEXT;
CREATE INDEX clicks_by_network ON clicks (partner_key, ip_prefix, at_ms);
CREATE TABLE suppressed_clicks (
    partner_key TEXT NOT NULL,
    day         TEXT NOT NULL,
    clicks      BIGINT NOT NULL,
    PRIMARY KEY (partner_key, day)
);
",
    // Version 5: money in. Every sale and refund from every source, unique per source in the
    // database; the billing systems' customer ids bound to the site's customers; a signup's email
    // kept in a column to bind them by; a conversion per transaction_key (a renewal is a new one).
    "
CREATE TABLE transactions (
    id           {id},
    source       TEXT NOT NULL,
    source_id    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    amount       BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    public_key   TEXT,
    customer_key TEXT,
    partner_key  TEXT,
    reference    TEXT,
    unmatched    TEXT,
    occurred_at  TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    body         TEXT NOT NULL
);
CREATE UNIQUE INDEX transaction_per_source ON transactions (source, source_id);
CREATE INDEX transactions_by_partner ON transactions (partner_key, occurred_at);
CREATE INDEX transactions_by_reference ON transactions (source, reference) WHERE reference IS NOT NULL;
CREATE TABLE provider_keys (
    provider     TEXT NOT NULL,
    provider_key TEXT NOT NULL,
    public_key   TEXT NOT NULL,
    customer_key TEXT NOT NULL,
    PRIMARY KEY (provider, provider_key)
);
CREATE TABLE stripe_charges (charge TEXT PRIMARY KEY, provider_key TEXT NOT NULL);
ALTER TABLE records ADD COLUMN email TEXT;
UPDATE records SET email = lower({body_email}) WHERE kind = 'signup';
CREATE INDEX records_by_email ON records (email) WHERE email IS NOT NULL;
DROP INDEX conversion_per_customer;
CREATE UNIQUE INDEX conversion_per_customer
    ON records (xid, customer_key) WHERE kind = 'conversion' AND transaction_key IS NULL;
INSERT INTO transactions (source, source_id, kind, amount, currency, customer_key, partner_key,
                          occurred_at, received_at, body)
    SELECT 'conversion', COALESCE(transaction_key, event_id), 'sale', amount, currency,
           customer_key, partner_key, received_at, received_at, '{}'
    FROM records WHERE kind = 'conversion' AND amount IS NOT NULL AND amount > 0;
CREATE INDEX unmatched_transactions ON transactions (occurred_at) WHERE unmatched IS NOT NULL;
CREATE TABLE revenue_days (
    partner_key TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    day         TEXT NOT NULL,
    currency    TEXT NOT NULL,
    sales       BIGINT NOT NULL,
    refunds     BIGINT NOT NULL,
    PRIMARY KEY (partner_key, public_key, day, currency)
);
CREATE TABLE paying_customers (
    partner_key  TEXT NOT NULL,
    currency     TEXT NOT NULL,
    public_key   TEXT NOT NULL,
    customer_key TEXT NOT NULL,
    first_day    TEXT NOT NULL,
    PRIMARY KEY (partner_key, currency, public_key, customer_key)
);
INSERT INTO revenue_days (partner_key, public_key, day, currency, sales, refunds)
    SELECT partner_key, COALESCE(public_key, ''), substr(occurred_at, 1, 10), currency,
           SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END),
           SUM(CASE WHEN amount < 0 THEN -amount ELSE 0 END)
    FROM transactions WHERE partner_key IS NOT NULL
    GROUP BY partner_key, COALESCE(public_key, ''), substr(occurred_at, 1, 10), currency;
INSERT INTO paying_customers (partner_key, currency, public_key, customer_key, first_day)
    SELECT partner_key, currency, COALESCE(public_key, ''), customer_key,
           MIN(substr(occurred_at, 1, 10))
    FROM transactions
    WHERE partner_key IS NOT NULL AND customer_key IS NOT NULL AND amount > 0
    GROUP BY partner_key, currency, COALESCE(public_key, ''), customer_key;
",
    // Version 6: money out. Reward rules (every version kept: a rule applies to what is recorded
    // after it), the append-only commission ledger, refunds allocated to the sales they refund,
    // payouts and the entries each settled (an entry once: the primary key), and each partner's
    // balance per currency (`domain::balance`), kept in the transactions that change it.
    "
CREATE TABLE reward_rules (
    id           {id},
    public_key   TEXT NOT NULL,
    partner_key  TEXT NOT NULL,
    event        TEXT NOT NULL,
    kind         TEXT NOT NULL,
    basis_points BIGINT,
    amount       BIGINT,
    currency     TEXT,
    months       BIGINT,
    holding_days BIGINT NOT NULL,
    set_at       TEXT NOT NULL
);
CREATE INDEX reward_rules_by_slot ON reward_rules (event, public_key, partner_key, id);
CREATE TABLE commissions (
    id             {id},
    partner_key    TEXT NOT NULL,
    public_key     TEXT NOT NULL,
    customer_key   TEXT,
    kind           TEXT NOT NULL,
    event          TEXT NOT NULL,
    amount         BIGINT NOT NULL,
    currency       TEXT NOT NULL,
    transaction_id BIGINT,
    reverses       BIGINT,
    refunded       BIGINT,
    rule_id        BIGINT,
    note           TEXT,
    occurred_at    TEXT NOT NULL,
    due_on         TEXT NOT NULL,
    recorded_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX earned_per_sale ON commissions (transaction_id)
    WHERE kind = 'earned' AND event = 'sale';
CREATE UNIQUE INDEX earned_per_signup ON commissions (public_key, customer_key, partner_key)
    WHERE kind = 'earned' AND event = 'signup';
CREATE UNIQUE INDEX reversed_per_refund ON commissions (reverses, transaction_id)
    WHERE kind = 'reversed' AND event = 'refund';
CREATE UNIQUE INDEX reversed_signup ON commissions (reverses)
    WHERE kind = 'reversed' AND event = 'signup';
CREATE INDEX commissions_by_recorded ON commissions (partner_key, recorded_at);
CREATE INDEX commissions_by_customer ON commissions (public_key, customer_key)
    WHERE event = 'signup';
CREATE TABLE refund_allocations (
    refund_id BIGINT NOT NULL,
    sale_id   BIGINT NOT NULL,
    amount    BIGINT NOT NULL,
    PRIMARY KEY (refund_id, sale_id)
);
CREATE INDEX refunds_by_sale ON refund_allocations (sale_id);
CREATE INDEX sales_by_customer ON transactions (public_key, customer_key, occurred_at)
    WHERE kind = 'sale';
CREATE TABLE payouts (
    id          {id},
    partner_key TEXT NOT NULL,
    currency    TEXT NOT NULL,
    amount      BIGINT NOT NULL,
    reference   TEXT NOT NULL UNIQUE,
    note        TEXT,
    paid_at     TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    entries     BIGINT NOT NULL
);
CREATE INDEX payouts_by_partner ON payouts (partner_key, recorded_at);
CREATE TABLE settlements (
    entry_id  BIGINT PRIMARY KEY,
    payout_id BIGINT NOT NULL
);
CREATE INDEX settlements_by_payout ON settlements (payout_id);
CREATE TABLE ledger_totals (
    partner_key TEXT NOT NULL,
    currency    TEXT NOT NULL,
    earned      BIGINT NOT NULL,
    reversed    BIGINT NOT NULL,
    adjustments BIGINT NOT NULL,
    paid        BIGINT NOT NULL,
    due         BIGINT NOT NULL,
    schedule    TEXT NOT NULL,
    latest_on   TEXT NOT NULL,
    latest      BIGINT NOT NULL,
    PRIMARY KEY (partner_key, currency)
){without_rowid};
",
];

/// The version after which every customer's credit is computed anew by the rule (`customers`
/// is first filled then, from the claims a version-3 database held).
const CLAIMS_VERSION: usize = 4;

impl Db {
    /// Brings the schema to the newest version, each step in one transaction. Collectors starting
    /// together on one PostgreSQL take turns (an advisory lock). An SQLite file written before
    /// `schema_version` existed is version 1 when it has the `records` table.
    pub(super) fn migrate(&mut self) -> Result<(), DbError> {
        const LOCK: &str = "reftrack schema";
        let postgres = matches!(self, Db::Postgres(_));
        if postgres {
            self.execute(
                "SELECT pg_advisory_lock(hashtextextended($1, 0))",
                &[LOCK.into()],
            )?;
        }
        let migrated = self.migrate_steps();
        if postgres {
            self.execute(
                "SELECT pg_advisory_unlock(hashtextextended($1, 0))",
                &[LOCK.into()],
            )?;
        }
        migrated
    }

    fn migrate_steps(&mut self) -> Result<(), DbError> {
        self.batch("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
        let recorded = self
            .first("SELECT MAX(version) FROM schema_version", &[])?
            .and_then(|row| row[0].int());
        let version = match (recorded, &*self) {
            (Some(version), _) => version,
            (None, Db::Sqlite(_)) => self
                .first(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'records'",
                    &[],
                )?
                .and_then(|row| row[0].int())
                .unwrap_or(0),
            (None, Db::Postgres(_)) => 0,
        };
        let (id, body_partner_key, body_email, without_rowid) = match self {
            Db::Sqlite(_) => (
                "INTEGER PRIMARY KEY",
                "json_extract(body, '$.partner_key')",
                "json_extract(body, '$.email')",
                " WITHOUT ROWID",
            ),
            Db::Postgres(_) => (
                "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
                "(body::jsonb ->> 'partner_key')",
                "(body::jsonb ->> 'email')",
                "",
            ),
        };
        for (step, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            let sql = sql
                .replace("{id}", id)
                .replace("{body_partner_key}", body_partner_key)
                .replace("{body_email}", body_email)
                .replace("{without_rowid}", without_rowid);
            let next = step + 1;
            self.begin()
                .and_then(|()| {
                    self.batch(&format!(
                        "{sql}; DELETE FROM schema_version; INSERT INTO schema_version VALUES ({next});"
                    ))
                })
                .and_then(|()| match next {
                    CLAIMS_VERSION => super::claims::recompute_all(self),
                    _ => Ok(()),
                })
                .and_then(|()| self.commit())
                .inspect_err(|_| self.rollback())?;
        }
        Ok(())
    }
}
