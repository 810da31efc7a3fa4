//! Partner-link clicks and landings: counted per visitor, at most a few visitors per partner and
//! network an hour, under a lock per partner and network.

use super::engine::{first_text, Db, DbError};
use crate::domain::credit::PartnerStatus;
use crate::domain::imports::ImportedXid;

/// One click of a partner link, or one landing the SDK reported.
#[derive(Debug, Clone)]
pub struct Click {
    /// The partner.
    pub partner_key: String,
    /// Where the link sent the visitor, or the page it landed on.
    pub destination: String,
    /// The `Referer` of the click, or the landing page's referrer.
    pub referrer: Option<String>,
    /// The visitor's user agent.
    pub user_agent: String,
    /// The visitor's address, truncated.
    pub ip_prefix: String,
    /// When, in ms since the epoch.
    pub at_ms: i64,
    /// The same time as ISO 8601 text.
    pub at: String,
    /// `link` (`GET /r/…`), `visit` (`POST /v1/clicks`) or `import` (`--import-xids`).
    pub source: &'static str,
    /// The program, when a landing named it.
    pub public_key: Option<String>,
}

/// How long clicks from one network for one partner are counted together.
pub const CLICK_WINDOW_MS: i64 = 60 * 60 * 1000;

/// What became of a click.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clicked {
    /// A new click, with its new id.
    New(String),
    /// The same visitor (network and user agent) clicked the same partner within the hour: a
    /// reload, not a click. Its earlier click id.
    Again(String),
    /// The network has brought the partner its `--clicks-per-address` visitors this hour: counted
    /// as suppressed, not as a click. The visitor gets the network's latest click id for the
    /// partner, so a signup it makes is still backed by a click.
    Suppressed(String),
}

impl Clicked {
    /// The click id the visitor carries on.
    pub fn xid(&self) -> &str {
        match self {
            Clicked::New(xid) | Clicked::Again(xid) | Clicked::Suppressed(xid) => xid,
        }
    }
}

/// A click or landing of a partner the registry allows to be credited ([`click`]); `None`, and
/// nothing recorded, for a paused partner or, with `registered_only`, an unregistered one.
pub fn counted(
    db: &mut Db,
    visit: &Click,
    new_id: &str,
    per_network: u32,
    registered_only: bool,
) -> Result<Option<Clicked>, DbError> {
    match super::partners::on_use(db, &visit.partner_key, registered_only, &visit.at)? {
        PartnerStatus::NotCreditable => Ok(None),
        PartnerStatus::Creditable => click(db, visit, new_id, per_network).map(Some),
    }
}

/// Records a click, unless the same visitor clicked the same partner within [`CLICK_WINDOW_MS`],
/// or `per_network` other visitors from its network did. `new_id` is the id a new click gets.
/// Collectors sharing a database take turns per partner and network, so that neither can record
/// a click the other would have counted.
pub fn click(
    db: &mut Db,
    click: &Click,
    new_id: &str,
    per_network: u32,
) -> Result<Clicked, DbError> {
    db.lock(&format!(
        "click\n{}\n{}",
        click.partner_key, click.ip_prefix
    ))?;
    let since = click.at_ms - CLICK_WINDOW_MS;
    let recent = db.first(
        "SELECT xid FROM clicks
         WHERE partner_key = $1 AND ip_prefix = $2 AND user_agent = $3 AND at_ms > $4
         ORDER BY at_ms DESC LIMIT 1",
        &[
            click.partner_key.as_str().into(),
            click.ip_prefix.as_str().into(),
            click.user_agent.as_str().into(),
            since.into(),
        ],
    )?;
    if let Some(xid) = first_text(recent) {
        return Ok(Clicked::Again(xid));
    }
    let visitors = db
        .first(
            "SELECT COUNT(*) FROM clicks
             WHERE partner_key = $1 AND ip_prefix = $2 AND at_ms > $3",
            &[
                click.partner_key.as_str().into(),
                click.ip_prefix.as_str().into(),
                since.into(),
            ],
        )?
        .and_then(|row| row[0].int())
        .unwrap_or(0);
    if visitors >= i64::from(per_network) {
        db.execute(
            "INSERT INTO suppressed_clicks (partner_key, day, clicks) VALUES ($1, $2, 1)
             ON CONFLICT (partner_key, day) DO UPDATE
                 SET clicks = suppressed_clicks.clicks + 1",
            &[click.partner_key.as_str().into(), click.at[..10].into()],
        )?;
        let latest = db.first(
            "SELECT xid FROM clicks WHERE partner_key = $1 AND ip_prefix = $2 AND at_ms > $3
             ORDER BY at_ms DESC LIMIT 1",
            &[
                click.partner_key.as_str().into(),
                click.ip_prefix.as_str().into(),
                since.into(),
            ],
        )?;
        return Ok(Clicked::Suppressed(
            first_text(latest).unwrap_or_else(|| new_id.to_owned()),
        ));
    }
    insert(db, click, new_id)?;
    Ok(Clicked::New(new_id.to_owned()))
}

/// Stores a click as it is; an xid stored already is left as it was. Answers whether it was new.
pub fn insert(db: &mut Db, click: &Click, xid: &str) -> Result<bool, DbError> {
    let changed = db.execute(
        "INSERT INTO clicks (xid, partner_key, at, at_ms, destination, referrer, user_agent,
                             ip_prefix, source, public_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT DO NOTHING",
        &[
            xid.into(),
            click.partner_key.as_str().into(),
            click.at.as_str().into(),
            click.at_ms.into(),
            click.destination.as_str().into(),
            click.referrer.as_deref().into(),
            click.user_agent.as_str().into(),
            click.ip_prefix.as_str().into(),
            click.source.into(),
            click.public_key.as_deref().into(),
        ],
    )?;
    Ok(changed == 1)
}

/// Stores a click id issued elsewhere (`--import-xids`), its partner joining the registry as
/// unregistered if new. One stored already is left as it was; answers whether it was new.
pub fn import(db: &mut Db, imported: &ImportedXid) -> Result<bool, DbError> {
    super::partners::on_use(db, &imported.partner_key, false, &imported.at)?;
    let click = Click {
        partner_key: imported.partner_key.clone(),
        destination: String::new(),
        referrer: None,
        user_agent: String::new(),
        ip_prefix: String::new(),
        at_ms: imported.at_ms,
        at: imported.at.clone(),
        source: "import",
        public_key: None,
    };
    insert(db, &click, &imported.xid)
}

/// The partner of click `xid`, if it was recorded here.
pub fn click_partner(db: &mut Db, xid: &str) -> Result<Option<String>, DbError> {
    db.first(
        "SELECT partner_key FROM clicks WHERE xid = $1",
        &[xid.into()],
    )
    .map(first_text)
}
