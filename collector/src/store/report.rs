//! The partner report: clicks, signups and conversions per partner and per day.

use super::engine::{Db, DbError, V};

/// One partner's line of the report.
pub struct PartnerRow {
    /// The partner.
    pub partner_key: String,
    /// Clicks of the partner's links.
    pub clicks: i64,
    /// Signups credited to the partner (verified ones, with `--verified-clicks`).
    pub signups: i64,
    /// Conversions credited to the partner.
    pub conversions: i64,
    /// The time of the latest of them.
    pub last_activity: String,
}

/// One day of the report.
pub struct DayRow {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Clicks that day.
    pub clicks: i64,
    /// Signups that day.
    pub signups: i64,
    /// Conversions that day.
    pub conversions: i64,
}

/// Per partner, over the days `since` to `until` (`YYYY-MM-DD`, both included): clicks, verified
/// signups, conversions, and the last activity; and per day, clicks and signups. Both read one
/// snapshot.
pub fn report(
    db: &mut Db,
    since: &str,
    until: &str,
) -> Result<(Vec<PartnerRow>, Vec<DayRow>), DbError> {
    db.begin_read()?;
    let partners = db.query(
        "SELECT partner_key, SUM(clicks), SUM(signups), SUM(conversions), MAX(at)
         FROM (SELECT partner_key, 1 AS clicks, 0 AS signups, 0 AS conversions, at FROM clicks
               UNION ALL
               SELECT partner_key, 0, 1, 0, received_at FROM records
                   WHERE kind = 'signup' AND verified = 1 AND partner_key IS NOT NULL
               UNION ALL
               SELECT partner_key, 0, 0, 1, received_at FROM records
                   WHERE kind = 'conversion' AND partner_key IS NOT NULL) AS events
         WHERE substr(at, 1, 10) BETWEEN $1 AND $2
         GROUP BY partner_key ORDER BY partner_key",
        &[since.into(), until.into()],
    )?;
    let days = db.query(
        "SELECT substr(at, 1, 10) AS day, SUM(clicks), SUM(signups), SUM(conversions)
         FROM (SELECT 1 AS clicks, 0 AS signups, 0 AS conversions, at FROM clicks
               UNION ALL
               SELECT 0, 1, 0, received_at FROM records
                   WHERE kind = 'signup' AND verified = 1 AND partner_key IS NOT NULL
               UNION ALL
               SELECT 0, 0, 1, received_at FROM records
                   WHERE kind = 'conversion' AND partner_key IS NOT NULL) AS events
         WHERE substr(at, 1, 10) BETWEEN $1 AND $2
         GROUP BY day ORDER BY day",
        &[since.into(), until.into()],
    )?;
    db.rollback();
    let int = |v: &V| v.int().unwrap_or(0);
    let partners = partners
        .into_iter()
        .map(|row| PartnerRow {
            partner_key: row[0].clone().text().unwrap_or_default(),
            clicks: int(&row[1]),
            signups: int(&row[2]),
            conversions: int(&row[3]),
            last_activity: row[4].clone().text().unwrap_or_default(),
        })
        .collect();
    let days = days
        .into_iter()
        .map(|row| DayRow {
            day: row[0].clone().text().unwrap_or_default(),
            clicks: int(&row[1]),
            signups: int(&row[2]),
            conversions: int(&row[3]),
        })
        .collect();
    Ok((partners, days))
}
