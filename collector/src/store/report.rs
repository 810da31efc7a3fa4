//! The partner report: per partner and per day, clicks (and those held back), the customers each
//! partner is credited with, the contested ones, and conversions.

use super::engine::{Db, DbError, V};

/// One partner's line of the report.
pub struct PartnerRow {
    /// The partner.
    pub partner_key: String,
    /// Clicks of the partner's links and landings reported by the SDK.
    pub clicks: i64,
    /// Clicks not counted: past `--clicks-per-address` visitors from one network in an hour.
    pub suppressed_clicks: i64,
    /// Customers credited to the partner by the credit rule.
    pub signups: i64,
    /// Customers the partner claims (credited or not) that another partner claims too.
    pub contested: i64,
    /// Conversions credited to the partner.
    pub conversions: i64,
    /// The time of the latest of them; `None` for a partner with none in the range.
    pub last_activity: Option<String>,
    /// Money credited to the partner, per currency.
    pub revenue: Vec<Revenue>,
    /// `active` or `paused`; `None` for a key the registry never had.
    pub status: Option<String>,
    /// Registered by the program owner (not only seen in links and claims).
    pub registered: bool,
}

/// A partner's money in one currency (minor units).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revenue {
    /// ISO 4217.
    pub currency: String,
    /// Sales.
    pub sales: i64,
    /// Refunds (a positive number).
    pub refunds: i64,
    /// Customers whose first payment credited to the partner (in this currency) falls in the
    /// range.
    pub paying_customers: i64,
}

/// Payments that matched no customer, per currency: counted, not credited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmatched {
    /// ISO 4217.
    pub currency: String,
    /// How many.
    pub transactions: i64,
    /// Their sum, in minor units.
    pub amount: i64,
}

/// The whole report.
pub struct Report {
    /// Per partner.
    pub partners: Vec<PartnerRow>,
    /// Per day.
    pub days: Vec<DayRow>,
    /// Payments no customer matched.
    pub unmatched: Vec<Unmatched>,
}

/// One day of the report.
pub struct DayRow {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Clicks that day.
    pub clicks: i64,
    /// Customers credited that day.
    pub signups: i64,
    /// Conversions that day.
    pub conversions: i64,
    /// Net money credited to partners that day, per currency.
    pub revenue: Vec<(String, i64)>,
}

/// Per partner of the registry or with activity, over the days `since` to `until` (`YYYY-MM-DD`, both included), of one program
/// (`public_key`) or of all: clicks, suppressed clicks, credited customers, contested customers,
/// conversions and the last activity; and per day, clicks, customers and conversions. A partner
/// link belongs to no program: its clicks count in every program's report. Both read one snapshot.
pub fn report(
    db: &mut Db,
    since: &str,
    until: &str,
    public_key: Option<&str>,
) -> Result<Report, DbError> {
    db.begin_read()?;
    let range = [since.into(), until.into(), public_key.into()];
    let partners = db.query(
        "SELECT e.partner_key, CAST(SUM(e.clicks) AS BIGINT), CAST(SUM(e.suppressed) AS BIGINT), CAST(SUM(e.signups) AS BIGINT),
                CAST(SUM(e.contested) AS BIGINT), CAST(SUM(e.conversions) AS BIGINT), MAX(e.at), p.status, p.registered
         FROM (SELECT partner_key, 1 AS clicks, 0 AS suppressed, 0 AS signups, 0 AS contested,
                      0 AS conversions, at
               FROM clicks WHERE (CAST($3 AS TEXT) IS NULL OR public_key IS NULL OR public_key = $3)
               UNION ALL
               SELECT partner_key, 0, 0, 0, 0, 0, NULL FROM partners
               UNION ALL
               SELECT partner_key, 0, clicks, 0, 0, 0, day || 'T00:00:00.000Z' FROM suppressed_clicks
               UNION ALL
               SELECT partner_key, 0, 0, 1, 0, 0, credited_at FROM customers
                   WHERE partner_key IS NOT NULL AND (CAST($3 AS TEXT) IS NULL OR public_key = $3)
               UNION ALL
               SELECT contested.partner_key, 0, 0, 0, 1, 0, contested.at FROM
                   (SELECT DISTINCT r.partner_key, r.public_key, r.customer_key,
                           c.credited_at AS at
                    FROM customers c JOIN records r
                        ON r.kind = 'signup' AND r.public_key = c.public_key
                       AND r.customer_key = c.customer_key
                    WHERE c.contested = 1 AND r.partner_key IS NOT NULL
                      AND (CAST($3 AS TEXT) IS NULL OR c.public_key = $3)) AS contested
               UNION ALL
               SELECT partner_key, 0, 0, 0, 0, 1, received_at FROM records r
                   WHERE kind = 'conversion' AND partner_key IS NOT NULL
                     AND (CAST($3 AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM customers c
                          WHERE c.public_key = $3 AND c.customer_key = r.customer_key))) AS e
         LEFT JOIN partners p ON p.partner_key = e.partner_key
         WHERE e.at IS NULL OR substr(e.at, 1, 10) BETWEEN $1 AND $2
         GROUP BY e.partner_key, p.status, p.registered ORDER BY e.partner_key",
        &range,
    )?;
    let days = db.query(
        "SELECT substr(at, 1, 10) AS day, CAST(SUM(clicks) AS BIGINT), CAST(SUM(signups) AS BIGINT), CAST(SUM(conversions) AS BIGINT)
         FROM (SELECT 1 AS clicks, 0 AS signups, 0 AS conversions, at FROM clicks
                   WHERE (CAST($3 AS TEXT) IS NULL OR public_key IS NULL OR public_key = $3)
               UNION ALL
               SELECT 0, 1, 0, credited_at FROM customers
                   WHERE partner_key IS NOT NULL AND (CAST($3 AS TEXT) IS NULL OR public_key = $3)
               UNION ALL
               SELECT 0, 0, 1, received_at FROM records r
                   WHERE kind = 'conversion' AND partner_key IS NOT NULL
                     AND (CAST($3 AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM customers c
                          WHERE c.public_key = $3 AND c.customer_key = r.customer_key))) AS events
         WHERE substr(at, 1, 10) BETWEEN $1 AND $2
         GROUP BY day ORDER BY day",
        &range,
    )?;
    // Money from the running sums kept as transactions are stored: a read of their size, not of
    // every transaction.
    let money = db.query(
        "SELECT partner_key, currency, CAST(SUM(sales) AS BIGINT), CAST(SUM(refunds) AS BIGINT)
         FROM revenue_days
         WHERE day BETWEEN $1 AND $2 AND (CAST($3 AS TEXT) IS NULL OR public_key = $3)
         GROUP BY partner_key, currency ORDER BY partner_key, currency",
        &range,
    )?;
    let paying = db.query(
        "SELECT partner_key, currency, COUNT(*) FROM paying_customers
         WHERE first_day BETWEEN $1 AND $2 AND (CAST($3 AS TEXT) IS NULL OR public_key = $3)
         GROUP BY partner_key, currency",
        &range,
    )?;
    let money_days = db.query(
        "SELECT day, currency, CAST(SUM(sales - refunds) AS BIGINT) FROM revenue_days
         WHERE day BETWEEN $1 AND $2 AND (CAST($3 AS TEXT) IS NULL OR public_key = $3)
         GROUP BY day, currency ORDER BY day, currency",
        &range,
    )?;
    let unmatched = db.query(
        "SELECT currency, COUNT(*), CAST(SUM(amount) AS BIGINT) FROM transactions
         WHERE unmatched IS NOT NULL AND occurred_at >= $1 AND occurred_at < $2
         GROUP BY currency ORDER BY currency",
        &[since.into(), format!("{until}~").as_str().into()],
    )?;
    db.rollback();
    let int = |v: &V| v.int().unwrap_or(0);
    let partners = partners
        .into_iter()
        .map(|row| PartnerRow {
            partner_key: row[0].clone().text().unwrap_or_default(),
            clicks: int(&row[1]),
            suppressed_clicks: int(&row[2]),
            signups: int(&row[3]),
            contested: int(&row[4]),
            conversions: int(&row[5]),
            last_activity: row[6].clone().text(),
            status: row[7].clone().text(),
            registered: int(&row[8]) == 1,
            revenue: Vec::new(),
        })
        .collect::<Vec<_>>();
    let mut partners = partners;
    let paying: std::collections::HashMap<(String, String), i64> = paying
        .into_iter()
        .map(|row| {
            let key = (
                row[0].clone().text().unwrap_or_default(),
                row[1].clone().text().unwrap_or_default(),
            );
            (key, int(&row[2]))
        })
        .collect();
    for row in money {
        let key = row[0].clone().text().unwrap_or_default();
        let currency = row[1].clone().text().unwrap_or_default();
        let revenue = Revenue {
            paying_customers: paying
                .get(&(key.clone(), currency.clone()))
                .copied()
                .unwrap_or(0),
            currency,
            sales: int(&row[2]),
            refunds: int(&row[3]),
        };
        match partners.iter_mut().find(|p| p.partner_key == key) {
            Some(partner) => partner.revenue.push(revenue),
            None => partners.push(PartnerRow {
                partner_key: key,
                clicks: 0,
                suppressed_clicks: 0,
                signups: 0,
                contested: 0,
                conversions: 0,
                last_activity: None,
                status: None,
                registered: false,
                revenue: vec![revenue],
            }),
        }
    }
    partners.sort_by(|a, b| a.partner_key.cmp(&b.partner_key));
    let mut days: std::collections::BTreeMap<String, DayRow> = days
        .into_iter()
        .map(|row| {
            let day = row[0].clone().text().unwrap_or_default();
            let counts = DayRow {
                day: day.clone(),
                clicks: int(&row[1]),
                signups: int(&row[2]),
                conversions: int(&row[3]),
                revenue: Vec::new(),
            };
            (day, counts)
        })
        .collect();
    for row in money_days {
        let day = row[0].clone().text().unwrap_or_default();
        let entry = days.entry(day.clone()).or_insert_with(|| DayRow {
            day,
            clicks: 0,
            signups: 0,
            conversions: 0,
            revenue: Vec::new(),
        });
        entry
            .revenue
            .push((row[1].clone().text().unwrap_or_default(), int(&row[2])));
    }
    let unmatched = unmatched
        .into_iter()
        .map(|row| Unmatched {
            currency: row[0].clone().text().unwrap_or_default(),
            transactions: int(&row[1]),
            amount: int(&row[2]),
        })
        .collect();
    Ok(Report {
        partners,
        days: days.into_values().collect(),
        unmatched,
    })
}
