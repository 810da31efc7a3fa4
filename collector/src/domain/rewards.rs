//! Money out, as rules: what a partner earns for a signup or a sale, how much of it a refund takes
//! back, and when it turns due. Pure arithmetic on integers in minor units; the ledger
//! (`store::ledger`) applies it in the transaction that stores each payment.
//!
//! **Rounding.** A percentage of a sale is `amount × basis_points / 10 000`, rounded to the nearest
//! minor unit, halves up. A refund takes back the share of the commission that the sale's refunded
//! total is of the sale, computed on the running total: after each refund the commission reversed
//! so far is `round(commission × refunded so far / sale)`, halves up, and the refund reverses the
//! difference from before it. So refunds of a sale never reverse more than it earned, and a sale
//! refunded in full is reversed to the cent, however many refunds it took.

use super::fields::{object, Fields};
use super::money::is_iso_4217;
use serde_json::{json, Map, Value};

/// The longest holding period, in days (ten years).
pub const MAX_HOLDING_DAYS: i64 = 3650;

/// The holding period when a rule names none, in days: a sale's commission turns due 30 days
/// after the sale, past the usual refund window.
pub const DEFAULT_HOLDING_DAYS: i64 = 30;

/// The longest recurring term, in months (100 years; no term at all is `lifetime`).
pub const MAX_MONTHS: i64 = 1200;

/// The largest flat amount, in minor units (as the payment APIs take).
pub const MAX_FLAT: i64 = 50_000_000_000;

/// What a rule rewards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A customer credited to the partner (once per customer).
    Signup,
    /// A payment of a customer credited to the partner.
    Sale,
}

impl Event {
    /// As the API and the store write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Signup => "signup",
            Event::Sale => "sale",
        }
    }

    /// From the API's or the store's word.
    pub fn parse(text: &str) -> Option<Event> {
        match text {
            "signup" => Some(Event::Signup),
            "sale" => Some(Event::Sale),
            _ => None,
        }
    }
}

/// How much a rule pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reward {
    /// A fixed amount, in minor units of `currency`.
    Flat {
        /// Minor units.
        amount: i64,
        /// ISO 4217.
        currency: String,
    },
    /// A share of the sale, in basis points (1/100 of a percent), in the sale's currency.
    Percent {
        /// 2000 is 20 %.
        basis_points: i64,
    },
    /// Nothing: a partner override that pays nothing, or a program without a reward.
    None,
}

impl Reward {
    /// `flat`, `percent` or `none`.
    pub fn kind(&self) -> &'static str {
        match self {
            Reward::Flat { .. } => "flat",
            Reward::Percent { .. } => "percent",
            Reward::None => "none",
        }
    }
}

/// A reward rule: for one program (`public_key`, empty for every program) and one partner (empty
/// for the program's default), what one event pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The program, or `""`: every program.
    pub public_key: String,
    /// The partner it overrides the default for, or `""`: the default.
    pub partner_key: String,
    /// What it rewards.
    pub on: Event,
    /// How much.
    pub reward: Reward,
    /// For sales: the months after the customer's first payment during which its payments earn;
    /// `None`: the customer's lifetime.
    pub months: Option<i64>,
    /// Days after the payment (or signup) before its commission turns due.
    pub holding_days: i64,
}

/// A field that does not validate: its name and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The field, as the API names it (`body` for the body as a whole).
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> Invalid {
    Invalid {
        field,
        reason: reason.into(),
    }
}

/// The fields a rule takes.
const RULE_FIELDS: [&str; 9] = [
    "public_key",
    "partner_key",
    "on",
    "kind",
    "basis_points",
    "amount",
    "currency",
    "months",
    "holding_days",
];

/// Reads a rule: `{ public_key?, partner_key?, on: "signup" | "sale", kind: "flat" | "percent" |
/// "none", basis_points?, amount?, currency?, months?, holding_days? }`. `extra` names further
/// fields the caller reads itself (a preview's range); any other is refused.
pub fn rule(map: &Map<String, Value>, extra: &[&str]) -> Result<Rule, Invalid> {
    if let Some(other) = map
        .keys()
        .find(|k| !RULE_FIELDS.contains(&k.as_str()) && !extra.contains(&k.as_str()))
    {
        return Err(invalid(
            "body",
            format!("{other} is not a rule field: {}", RULE_FIELDS.join(", ")),
        ));
    }
    let f = Fields(map);
    let public_key = program(&f)?;
    let partner_key = f
        .key("partner_key", 256)
        .map_err(|e| invalid("partner_key", e))?
        .unwrap_or_default();
    if !partner_key.is_empty() && !super::fields::is_token(&partner_key) {
        return Err(invalid(
            "partner_key",
            format!("{partner_key} is not a partner key"),
        ));
    }
    let on = match map.get("on") {
        Some(Value::String(s)) => Event::parse(s)
            .ok_or_else(|| invalid("on", format!("on {s:?} is unknown: \"signup\" or \"sale\"")))?,
        _ => return Err(invalid("on", "on is required: \"signup\" or \"sale\"")),
    };
    let integer = |name: &'static str| -> Result<Option<i64>, Invalid> {
        match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
            Some(_) => Err(invalid(name, format!("{name} must be a whole number"))),
        }
    };
    let kind = match map.get("kind") {
        Some(Value::String(s)) => s.as_str(),
        _ => {
            return Err(invalid(
                "kind",
                "kind is required: \"flat\", \"percent\" or \"none\"",
            ))
        }
    };
    let reward = match (kind, on) {
        ("flat", _) => {
            let amount = integer("amount")?.ok_or_else(|| {
                invalid(
                    "amount",
                    "amount (minor units) is required for a flat reward",
                )
            })?;
            if !(0..=MAX_FLAT).contains(&amount) {
                return Err(invalid(
                    "amount",
                    format!("amount must be 0 to {MAX_FLAT} minor units"),
                ));
            }
            Reward::Flat {
                amount,
                currency: currency(map)?,
            }
        }
        ("percent", Event::Sale) => {
            let basis_points = integer("basis_points")?.ok_or_else(|| {
                invalid(
                    "basis_points",
                    "basis_points is required for a percentage (2000 is 20 %)",
                )
            })?;
            if basis_points < 0 {
                return Err(invalid("basis_points", "basis_points must not be negative"));
            }
            if basis_points > 10_000 {
                return Err(invalid(
                    "basis_points",
                    format!("basis_points {basis_points} is over 100 % (10000)"),
                ));
            }
            Reward::Percent { basis_points }
        }
        ("percent", Event::Signup) => {
            return Err(invalid(
                "kind",
                "a signup has no amount to take a percentage of: kind \"flat\" or \"none\"",
            ))
        }
        ("none", _) => Reward::None,
        (other, _) => {
            return Err(invalid(
                "kind",
                format!("kind {other:?} is unknown: \"flat\", \"percent\" or \"none\""),
            ))
        }
    };
    for (name, applies) in [
        ("basis_points", matches!(reward, Reward::Percent { .. })),
        ("amount", matches!(reward, Reward::Flat { .. })),
        ("currency", matches!(reward, Reward::Flat { .. })),
    ] {
        if !applies && map.get(name).is_some_and(|v| !v.is_null()) {
            return Err(invalid(
                name,
                format!("{name} does not apply to kind {kind:?}"),
            ));
        }
    }
    let months = match (map.get("months"), on) {
        (None | Some(Value::Null), _) => None,
        (Some(Value::String(s)), _) if s == "lifetime" => None,
        (Some(_), Event::Signup) => {
            return Err(invalid("months", "months applies to sales only"));
        }
        (Some(Value::Number(n)), Event::Sale)
            if n.as_i64().is_some_and(|m| (1..=MAX_MONTHS).contains(&m)) =>
        {
            n.as_i64()
        }
        (Some(_), Event::Sale) => {
            return Err(invalid(
                "months",
                format!("months must be 1 to {MAX_MONTHS}, or \"lifetime\""),
            ))
        }
    };
    let holding_days = integer("holding_days")?.unwrap_or(DEFAULT_HOLDING_DAYS);
    if !(0..=MAX_HOLDING_DAYS).contains(&holding_days) {
        return Err(invalid(
            "holding_days",
            format!("holding_days must be 0 to {MAX_HOLDING_DAYS}"),
        ));
    }
    Ok(Rule {
        public_key,
        partner_key,
        on,
        reward,
        months,
        holding_days,
    })
}

/// A rule from a request body.
pub fn rule_body(body: &[u8]) -> Result<Rule, Invalid> {
    let map = object(body).map_err(|e| invalid("body", e))?;
    rule(&map, &[])
}

/// A preview's body: a rule's fields, with `since` and `until` (`YYYY-MM-DD`, optional).
pub fn preview_body(body: &[u8]) -> Result<(Rule, Option<String>, Option<String>), Invalid> {
    let map = object(body).map_err(|e| invalid("body", e))?;
    let rule = rule(&map, &["since", "until"])?;
    let day = |name: &'static str| match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(d)) if super::time::is_day(d) => Ok(Some(d.clone())),
        Some(_) => Err(invalid(name, format!("{name} must be a date, YYYY-MM-DD"))),
    };
    Ok((rule, day("since")?, day("until")?))
}

impl Rule {
    /// The rule as the API shows it (with its id and when it was set, when stored).
    pub fn to_json(&self) -> Value {
        let mut out = json!({
            "public_key": (!self.public_key.is_empty()).then_some(&self.public_key),
            "partner_key": (!self.partner_key.is_empty()).then_some(&self.partner_key),
            "on": self.on.as_str(),
            "kind": self.reward.kind(),
            "holding_days": self.holding_days,
        });
        match &self.reward {
            Reward::Flat { amount, currency } => {
                out["amount"] = (*amount).into();
                out["currency"] = currency.clone().into();
            }
            Reward::Percent { basis_points } => out["basis_points"] = (*basis_points).into(),
            Reward::None => {}
        }
        if self.on == Event::Sale {
            out["months"] = self.months.map_or("lifetime".into(), Value::from);
        }
        out
    }

    /// What a sale of `amount` minor units of `currency` earns (amount, currency), `None` for
    /// nothing.
    pub fn earns(&self, amount: i64, currency: &str) -> Option<(i64, String)> {
        let earned = match &self.reward {
            Reward::Flat { amount, currency } => (*amount, currency.clone()),
            Reward::Percent { basis_points } => {
                (share(amount, *basis_points, 10_000), currency.to_owned())
            }
            Reward::None => return None,
        };
        (earned.0 > 0).then_some(earned)
    }

    /// Whether a payment on `day` still earns, the customer's first payment being on `first`.
    pub fn in_term(&self, first: &str, day: &str) -> bool {
        match self.months {
            None => true,
            Some(months) => super::time::add_months(first, months)
                .is_some_and(|end| day.get(..10).is_some_and(|day| day < end.as_str())),
        }
    }

    /// The day a commission of a payment on `day` turns due.
    pub fn due_on(&self, day: &str) -> String {
        super::time::add_days(day, self.holding_days).unwrap_or_else(|| day.to_owned())
    }
}

/// `value × numerator / denominator`, rounded to the nearest integer, halves up; exact (in 128
/// bits) for every amount the APIs take.
pub fn share(value: i64, numerator: i64, denominator: i64) -> i64 {
    if denominator == 0 {
        return 0;
    }
    let (n, d) = (
        i128::from(value) * i128::from(numerator),
        i128::from(denominator),
    );
    let (n, d) = if d < 0 { (-n, -d) } else { (n, d) };
    let rounded = (2 * n + d).div_euclid(2 * d);
    i64::try_from(rounded).unwrap_or(if rounded < 0 { i64::MIN } else { i64::MAX })
}

/// What a refund reverses of a sale's `commission`: the sale was `sale` minor units, `before` of
/// it refunded already, and the refund takes `refund` more (both clipped to the sale). A positive
/// number, to be entered negative.
pub fn reversal(commission: i64, sale: i64, before: i64, refund: i64) -> i64 {
    if sale <= 0 {
        return 0;
    }
    let before = before.clamp(0, sale);
    let after = before.saturating_add(refund.max(0)).min(sale);
    share(commission, after, sale) - share(commission, before, sale)
}

/// A correction by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    /// The partner.
    pub partner_key: String,
    /// The program, or `""`.
    pub public_key: String,
    /// Minor units, positive or negative, not zero.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    /// Why.
    pub note: String,
}

/// A payout to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayout {
    /// The partner paid.
    pub partner_key: String,
    /// ISO 4217.
    pub currency: String,
    /// Minor units, more than zero.
    pub amount: i64,
    /// The transfer's own reference (unique: the same reference again is the same payout).
    pub reference: String,
    /// A note.
    pub note: Option<String>,
    /// When the money was sent (default: when recorded).
    pub paid_at: Option<String>,
}

/// The longest payout reference and note, in bytes.
pub const MAX_NOTE: usize = 500;

/// A payout to record, read from `POST /v1/payouts`: `{ partner_key, amount, currency, reference,
/// note?, paid_at? }`.
pub fn payout_body(body: &[u8]) -> Result<NewPayout, Invalid> {
    let map = object(body).map_err(|e| invalid("body", e))?;
    only(
        &map,
        &[
            "partner_key",
            "amount",
            "currency",
            "reference",
            "note",
            "paid_at",
        ],
    )?;
    let f = Fields(&map);
    let partner_key = partner(&f)?;
    let amount = amount(&map)?;
    if amount <= 0 {
        return Err(invalid(
            "amount",
            "amount must be more than zero (minor units)",
        ));
    }
    let reference = f
        .required("reference", 255)
        .map_err(|e| invalid("reference", e))?;
    let note = f.text("note", MAX_NOTE).map_err(|e| invalid("note", e))?;
    let paid_at = match f.key("paid_at", 64).map_err(|e| invalid("paid_at", e))? {
        None => None,
        Some(text) => {
            let ms = super::time::parse_iso8601(&text).ok_or_else(|| {
                invalid(
                    "paid_at",
                    "paid_at must be a UTC time: 2026-12-01T10:00:00Z or 2026-12-01",
                )
            })?;
            let ms = u64::try_from(ms).map_err(|_| invalid("paid_at", "paid_at is before 1970"))?;
            Some(super::time::iso8601(
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms),
            ))
        }
    };
    Ok(NewPayout {
        partner_key,
        currency: currency(&map)?,
        amount,
        reference,
        note,
        paid_at,
    })
}

/// An adjustment, read from `POST /v1/partners/{key}/adjustments`: `{ amount, currency, note,
/// public_key? }`.
pub fn adjustment_body(partner_key: &str, body: &[u8]) -> Result<Adjustment, Invalid> {
    let map = object(body).map_err(|e| invalid("body", e))?;
    only(&map, &["amount", "currency", "note", "public_key"])?;
    let f = Fields(&map);
    let amount = amount(&map)?;
    if amount == 0 {
        return Err(invalid(
            "amount",
            "amount must not be zero (minor units; negative to take back)",
        ));
    }
    let note = f.required("note", MAX_NOTE).map_err(|_| {
        invalid(
            "note",
            format!("note is required: why, in at most {MAX_NOTE} bytes"),
        )
    })?;
    let public_key = program(&f)?;
    Ok(Adjustment {
        partner_key: partner_key.to_owned(),
        public_key,
        amount,
        currency: currency(&map)?,
        note,
    })
}

/// `public_key`, a program's key, or `""` (every program) when absent.
fn program(f: &Fields<'_>) -> Result<String, Invalid> {
    let public_key = f
        .key("public_key", 128)
        .map_err(|e| invalid("public_key", e))?
        .unwrap_or_default();
    if !public_key.is_empty() && !reftrack::core::config::is_public_key(&public_key) {
        return Err(invalid(
            "public_key",
            format!(
                "public_key must be {}",
                reftrack::core::config::PUBLIC_KEY_RULE
            ),
        ));
    }
    Ok(public_key)
}

fn only(map: &Map<String, Value>, fields: &[&str]) -> Result<(), Invalid> {
    match map.keys().find(|k| !fields.contains(&k.as_str())) {
        Some(other) => Err(invalid(
            "body",
            format!("{other} is not a field here: {}", fields.join(", ")),
        )),
        None => Ok(()),
    }
}

fn partner(f: &Fields<'_>) -> Result<String, Invalid> {
    let key = f
        .required("partner_key", 256)
        .map_err(|e| invalid("partner_key", e))?;
    if super::fields::is_token(&key) {
        Ok(key)
    } else {
        Err(invalid(
            "partner_key",
            format!("{key} is not a partner key"),
        ))
    }
}

fn amount(map: &Map<String, Value>) -> Result<i64, Invalid> {
    match map.get("amount") {
        Some(Value::Number(n)) if n.as_i64().is_some_and(|a| a.abs() <= MAX_FLAT) => {
            Ok(n.as_i64().unwrap_or(0))
        }
        _ => Err(invalid(
            "amount",
            format!("amount must be a whole number of minor units, at most {MAX_FLAT}"),
        )),
    }
}

fn currency(map: &Map<String, Value>) -> Result<String, Invalid> {
    match map.get("currency") {
        Some(Value::String(c)) if is_iso_4217(c) => Ok(c.clone()),
        Some(Value::String(c)) => Err(invalid(
            "currency",
            format!("currency {c:?} is not an ISO 4217 code (upper case, as USD)"),
        )),
        _ => Err(invalid("currency", "currency (ISO 4217) is required")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(body: Value) -> Result<Rule, Invalid> {
        rule(body.as_object().unwrap(), &[])
    }

    #[test]
    fn a_percentage_rounds_halves_up_and_refunds_reverse_it_to_the_cent() {
        assert_eq!(share(4999, 2000, 10_000), 1000); // 999.8
        assert_eq!(share(4975, 2000, 10_000), 995);
        assert_eq!(share(25, 2000, 10_000), 5);
        assert_eq!(share(1, 5000, 10_000), 1); // 0.5 rounds up
        assert_eq!(share(3, 1000, 10_000), 0); // 0.3
                                               // A 30 % refund of a 100.00 sale that earned 20.00 reverses 6.00.
        assert_eq!(reversal(2000, 10_000, 0, 3000), 600);
        // Three refunds of a third each reverse exactly what was earned: 333 + 334 + 333.
        let parts = [
            reversal(1000, 9999, 0, 3333),
            reversal(1000, 9999, 3333, 3333),
            reversal(1000, 9999, 6666, 3333),
        ];
        assert_eq!(parts, [333, 334, 333]);
        assert_eq!(parts.iter().sum::<i64>(), 1000);
        // A refund past the sale reverses no more than is left.
        assert_eq!(reversal(1000, 5000, 4000, 9000), 200);
        assert_eq!(reversal(1000, 5000, 5000, 100), 0);
    }

    #[test]
    fn reversals_sum_to_the_commission_for_any_split() {
        for (commission, sale) in [(1, 3), (997, 10_001), (2000, 10_000), (123_457, 99)] {
            for step in [1, 2, 7, 33, 1000] {
                let (mut before, mut total) = (0, 0);
                while before < sale {
                    total += reversal(commission, sale, before, step);
                    before += step;
                }
                assert_eq!(total, commission, "{commission} over {sale} by {step}");
            }
        }
    }

    #[test]
    fn rules_are_read_and_mistakes_named_by_field() {
        let r = parsed(
            json!({"on": "sale", "kind": "percent", "basis_points": 2000, "months": 12,
                              "holding_days": 30, "public_key": "pk_live"}),
        )
        .unwrap();
        assert_eq!(r.reward, Reward::Percent { basis_points: 2000 });
        assert_eq!((r.months, r.holding_days), (Some(12), 30));
        assert_eq!(r.earns(4999, "EUR"), Some((1000, "EUR".into())));
        let flat =
            parsed(json!({"on": "signup", "kind": "flat", "amount": 500, "currency": "USD"}))
                .unwrap();
        assert_eq!(flat.holding_days, DEFAULT_HOLDING_DAYS);
        assert_eq!(flat.earns(0, "JPY"), Some((500, "USD".into())));
        let field = |body: Value| parsed(body).unwrap_err().field;
        assert_eq!(field(json!({"on": "sale", "kind": "bonus"})), "kind");
        assert_eq!(
            field(json!({"on": "sale", "kind": "percent", "basis_points": -1})),
            "basis_points"
        );
        assert_eq!(
            field(json!({"on": "sale", "kind": "percent", "basis_points": 10_001})),
            "basis_points"
        );
        assert_eq!(
            field(json!({"on": "sale", "kind": "flat", "amount": 5, "currency": "XYZ"})),
            "currency"
        );
        assert_eq!(
            field(json!({"on": "sale", "kind": "flat", "amount": 5, "currency": "usd"})),
            "currency"
        );
        assert_eq!(
            field(json!({"on": "sale", "kind": "none", "holding_days": 3651})),
            "holding_days"
        );
        assert_eq!(
            field(json!({"on": "sale", "kind": "none", "holding_days": -1})),
            "holding_days"
        );
        assert_eq!(field(json!({"on": "click", "kind": "none"})), "on");
        assert_eq!(
            field(json!({"on": "signup", "kind": "percent", "basis_points": 5})),
            "kind"
        );
        assert_eq!(
            field(json!({"on": "sale", "kind": "none", "months": 0})),
            "months"
        );
        assert_eq!(
            field(json!({"on": "sale", "kind": "none", "amount": 5})),
            "amount"
        );
        assert_eq!(
            field(json!({"on": "sale", "kind": "none", "bonus": 5})),
            "body"
        );
        assert!(parsed(json!({"on": "sale", "kind": "none", "holding_days": 3650})).is_ok());
    }

    #[test]
    fn recurring_terms_count_calendar_months_from_the_first_payment() {
        let r = parsed(json!({"on": "sale", "kind": "percent", "basis_points": 1000, "months": 3}))
            .unwrap();
        assert!(r.in_term("2026-01-31", "2026-01-31"));
        assert!(r.in_term("2026-01-31", "2026-04-29T23:59:59Z"));
        assert!(!r.in_term("2026-01-31", "2026-04-30"));
        let lifetime = parsed(
            json!({"on": "sale", "kind": "percent", "basis_points": 1000,
                                     "months": "lifetime"}),
        )
        .unwrap();
        assert!(lifetime.in_term("2000-01-01", "2099-01-01"));
        assert_eq!(r.due_on("2026-12-07T10:00:00.000Z"), "2027-01-06");
    }
}
