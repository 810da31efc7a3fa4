//! The partner registry: partners the program owner registered (name, email, status), and the
//! keys first seen in a link or a claim, kept as `unregistered`.

use super::engine::{Db, DbError, V};
use crate::domain::credit::PartnerStatus;
use crate::domain::registry::PartnerFields;
use serde_json::{json, Value};

/// One partner of the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    /// The key.
    pub partner_key: String,
    /// The partner's name.
    pub name: Option<String>,
    /// The partner's email.
    pub email: Option<String>,
    /// `active` or `paused`.
    pub status: String,
    /// Registered by the program owner (not only seen in a link or a claim).
    pub registered: bool,
    /// When it was registered or first seen.
    pub created_at: String,
}

impl Partner {
    /// The partner as the API answers it.
    pub fn to_json(&self) -> Value {
        json!({
            "partner_key": self.partner_key,
            "name": self.name,
            "email": self.email,
            "status": self.status,
            "registered": self.registered,
            "created_at": self.created_at,
        })
    }
}

/// The partner `partner_key`, if the registry has it.
pub fn get(db: &mut Db, partner_key: &str) -> Result<Option<Partner>, DbError> {
    let row = db.first(
        "SELECT partner_key, name, email, status, registered, created_at FROM partners
         WHERE partner_key = $1",
        &[partner_key.into()],
    )?;
    Ok(row.map(|row| {
        let mut row = row.into_iter();
        let mut text = || row.next().and_then(V::text);
        let (partner_key, name, email, status) = (text(), text(), text(), text());
        let registered = row.next().and_then(|v| v.int()) == Some(1);
        Partner {
            partner_key: partner_key.unwrap_or_default(),
            name,
            email,
            status: status.unwrap_or_default(),
            registered,
            created_at: row.next().and_then(V::text).unwrap_or_default(),
        }
    }))
}

/// Whether a link or claim naming `partner_key` may credit it. Without `registered_only`, a key
/// seen for the first time joins the registry as an active, unregistered partner.
pub fn on_use(
    db: &mut Db,
    partner_key: &str,
    registered_only: bool,
    at: &str,
) -> Result<PartnerStatus, DbError> {
    let row = lookup(db, partner_key)?;
    known_or_new(db, partner_key, row.as_deref(), registered_only, at)
}

/// [`on_use`] once the partner's registry row (`status`, `registered`) is read.
fn known_or_new(
    db: &mut Db,
    partner_key: &str,
    row: Option<&[V]>,
    registered_only: bool,
    at: &str,
) -> Result<PartnerStatus, DbError> {
    if row.is_some() || registered_only {
        return Ok(status(row, registered_only));
    }
    db.execute(
        "INSERT INTO partners (partner_key, status, registered, created_at)
         VALUES ($1, 'active', 0, $2) ON CONFLICT DO NOTHING",
        &[partner_key.into(), at.into()],
    )?;
    // Another collector may have added it, paused, a moment before.
    let row = lookup(db, partner_key)?;
    Ok(status(row.as_deref(), registered_only))
}

fn lookup(db: &mut Db, partner_key: &str) -> Result<Option<Vec<V>>, DbError> {
    db.first(
        "SELECT status, registered FROM partners WHERE partner_key = $1",
        &[partner_key.into()],
    )
}

/// May a partner with this registry row (`status`, `registered`) be credited?
fn status(row: Option<&[V]>, registered_only: bool) -> PartnerStatus {
    match row {
        Some([status, registered, ..])
            if *status == V::Text("active".into())
                && (!registered_only || registered.int() == Some(1)) =>
        {
            PartnerStatus::Creditable
        }
        _ => PartnerStatus::NotCreditable,
    }
}

/// Whether Partnero's customer API knows `partner_key`: registered, or with a click recorded
/// here (an anonymous claim alone makes no partner known); and if so, whether it may be credited.
pub fn known(
    db: &mut Db,
    partner_key: &str,
    registered_only: bool,
) -> Result<Option<PartnerStatus>, DbError> {
    let row = db.first(
        "SELECT status, registered,
                EXISTS (SELECT 1 FROM clicks WHERE partner_key = $1) AS clicked
         FROM partners WHERE partner_key = $1",
        &[partner_key.into()],
    )?;
    Ok(row.and_then(|row| {
        let registered = row[1].int() == Some(1);
        (registered || row[2].int() == Some(1)).then(|| {
            if row[0] == V::Text("active".into()) && (registered || !registered_only) {
                PartnerStatus::Creditable
            } else {
                PartnerStatus::NotCreditable
            }
        })
    }))
}

/// Registers `partner_key`: a new partner, or one so far only seen in links and claims. `None`
/// when it is registered already.
pub fn register(
    db: &mut Db,
    partner_key: &str,
    fields: &PartnerFields,
    at: &str,
) -> Result<Option<Partner>, DbError> {
    let name = fields.name.clone().flatten();
    let email = fields.email.clone().flatten();
    let status = fields.status.as_deref().unwrap_or("active");
    db.execute(
        "INSERT INTO partners (partner_key, name, email, status, registered, created_at)
         VALUES ($1, $2, $3, $4, 1, $5)
         ON CONFLICT (partner_key) DO UPDATE SET
             name = excluded.name, email = excluded.email, status = excluded.status,
             registered = 1, created_at = excluded.created_at
         WHERE partners.registered = 0",
        &[
            partner_key.into(),
            name.as_deref().into(),
            email.as_deref().into(),
            status.into(),
            at.into(),
        ],
    )
    .and_then(|changed| match changed {
        0 => Ok(None),
        _ => get(db, partner_key),
    })
}

/// Applies `fields` to `partner_key`; `None` when the registry does not have it.
pub fn update(
    db: &mut Db,
    partner_key: &str,
    fields: &PartnerFields,
) -> Result<Option<Partner>, DbError> {
    let Some(mut partner) = get(db, partner_key)? else {
        return Ok(None);
    };
    if let Some(name) = &fields.name {
        partner.name = name.clone();
    }
    if let Some(email) = &fields.email {
        partner.email = email.clone();
    }
    if let Some(status) = &fields.status {
        partner.status = status.clone();
    }
    db.execute(
        "UPDATE partners SET name = $2, email = $3, status = $4 WHERE partner_key = $1",
        &[
            partner_key.into(),
            partner.name.as_deref().into(),
            partner.email.as_deref().into(),
            partner.status.as_str().into(),
        ],
    )?;
    Ok(Some(partner))
}
