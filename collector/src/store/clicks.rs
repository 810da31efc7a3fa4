//! Partner-link clicks: one per visitor and hour, recorded under a per-visitor lock.

use super::engine::{first_text, Db, DbError};

/// One click of a partner link.
#[derive(Debug, Clone)]
pub struct Click {
    /// The partner.
    pub partner_key: String,
    /// Where the link sends the visitor.
    pub destination: String,
    /// The `Referer` of the click.
    pub referrer: Option<String>,
    /// The visitor's user agent.
    pub user_agent: String,
    /// The visitor's address, truncated.
    pub ip_prefix: String,
    /// When, in ms since the epoch.
    pub at_ms: i64,
    /// The same time as ISO 8601 text.
    pub at: String,
}

/// How long the same visitor clicking the same partner's link counts as one click.
pub const CLICK_WINDOW_MS: i64 = 60 * 60 * 1000;

/// Records a click, unless the same visitor (truncated address and user agent) clicked the same
/// partner's link within [`CLICK_WINDOW_MS`]: then that click's id comes back and no row is added
/// (a reload is not a click). `new_id` is the id a new click gets. Collectors sharing a database
/// take turns per visitor, so two of them cannot both record the same visitor's click.
pub fn click(db: &mut Db, click: &Click, new_id: &str) -> Result<(String, bool), DbError> {
    db.lock(&format!(
        "click\n{}\n{}\n{}",
        click.partner_key, click.ip_prefix, click.user_agent
    ))?;
    let recent = db.first(
        "SELECT xid FROM clicks
         WHERE partner_key = $1 AND ip_prefix = $2 AND user_agent = $3 AND at_ms > $4
         ORDER BY at_ms DESC LIMIT 1",
        &[
            click.partner_key.as_str().into(),
            click.ip_prefix.as_str().into(),
            click.user_agent.as_str().into(),
            (click.at_ms - CLICK_WINDOW_MS).into(),
        ],
    )?;
    if let Some(xid) = first_text(recent) {
        return Ok((xid, false));
    }
    db.execute(
        "INSERT INTO clicks (xid, partner_key, at, at_ms, destination, referrer, user_agent,
                             ip_prefix)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            new_id.into(),
            click.partner_key.as_str().into(),
            click.at.as_str().into(),
            click.at_ms.into(),
            click.destination.as_str().into(),
            click.referrer.as_deref().into(),
            click.user_agent.as_str().into(),
            click.ip_prefix.as_str().into(),
        ],
    )?;
    Ok((new_id.to_owned(), true))
}

/// The partner of click `xid`, if it was recorded here.
pub fn click_partner(db: &mut Db, xid: &str) -> Result<Option<String>, DbError> {
    db.first(
        "SELECT partner_key FROM clicks WHERE xid = $1",
        &[xid.into()],
    )
    .map(first_text)
}
