//! `reftrack-collector import transactions FILE.csv`: payments from a spreadsheet or another
//! platform's export. Columns are found by their header names; a line that does not read is
//! reported with its number and stops nothing but itself.

use super::money::{currency, minor_units, ApiPayment, Payer};
use super::time::parse_iso8601;
use reftrack::core::signup::is_email;
use serde_json::{Map, Value};

/// Where each column is, from the header line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    customer_key: Option<usize>,
    email: Option<usize>,
    amount: usize,
    /// Whether `amount` is in minor units (`amount_minor`, `amount_cents`) or major (`amount`).
    minor: bool,
    currency: usize,
    key: usize,
    date: Option<usize>,
}

/// One line read: the payment, and when it happened (ms since the epoch), if the file says.
pub type Row = (ApiPayment, Option<i64>);

impl Columns {
    /// Reads the header: `customer_key` and/or `email` (or `customer_email`), `amount` (major units,
    /// `49.00`) or `amount_minor` / `amount_cents` (minor units, `4900`), `currency`, `key`
    /// (the transaction's own id), and `date` (optional).
    pub fn from_header(line: &str) -> Result<Columns, String> {
        let names: Vec<String> = fields(line)?
            .into_iter()
            .map(|n| n.trim().to_ascii_lowercase())
            .collect();
        let find = |wanted: &[&str]| names.iter().position(|n| wanted.contains(&n.as_str()));
        let (amount, minor) = match (find(&["amount"]), find(&["amount_minor", "amount_cents"])) {
            (_, Some(i)) => (i, true),
            (Some(i), None) => (i, false),
            (None, None) => {
                return Err("the header names no amount (or amount_minor) column".into())
            }
        };
        let columns = Columns {
            customer_key: find(&["customer_key"]),
            email: find(&["email", "customer_email"]),
            amount,
            minor,
            currency: find(&["currency"]).ok_or("the header names no currency column")?,
            key: find(&["key", "transaction_key"]).ok_or("the header names no key column")?,
            date: find(&["date", "created_at"]),
        };
        if columns.customer_key.is_none() && columns.email.is_none() {
            return Err("the header names neither customer_key nor email".into());
        }
        Ok(columns)
    }

    /// Reads one line.
    pub fn row(&self, line: &str) -> Result<Row, String> {
        let cells = fields(line)?;
        let cell = |i: usize| cells.get(i).map(|c| c.trim()).filter(|c| !c.is_empty());
        let payer = match (self.customer_key.and_then(cell), self.email.and_then(cell)) {
            (Some(key), _) => Payer::Key(key.to_owned()),
            (None, Some(email)) if is_email(email) => Payer::Email(email.to_owned()),
            (None, Some(email)) => return Err(format!("{email:?} is not an email address")),
            (None, None) => return Err("no customer_key or email".into()),
        };
        let currency = currency(cell(self.currency).ok_or("no currency")?)?;
        let text = cell(self.amount).ok_or("no amount")?;
        let amount = if self.minor {
            text.parse::<i64>()
                .map_err(|_| format!("amount_minor {text:?} is not a whole number"))?
        } else {
            let number: f64 = text
                .parse()
                .map_err(|_| format!("amount {text:?} is not a number"))?;
            minor_units(&Value::from(number), &currency)?
        };
        let key = cell(self.key).ok_or("no key")?.to_owned();
        let date = match self.date.and_then(cell) {
            Some(date) => Some(parse_iso8601(date).ok_or_else(|| {
                format!("date {date:?} is not 2026-11-22 or 2026-11-22T10:00:00Z")
            })?),
            None => None,
        };
        Ok((
            ApiPayment {
                key,
                payer,
                amount,
                currency,
                details: Map::new(),
                create_customer: false,
            },
            date,
        ))
    }
}

/// The fields of one CSV line (RFC 4180: commas, fields in double quotes with `""` for a quote).
pub fn fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.trim_end_matches(['\r', '\n']).chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => out.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed".into());
    }
    out.push(field);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_by_their_header() {
        let c = Columns::from_header("key,email,amount,currency,date").unwrap();
        let (p, date) = c
            .row(r#"ord_1,"Jane@Example.com",49.90,eur,2026-11-22"#)
            .unwrap();
        assert_eq!(
            (p.amount, p.currency.as_str(), p.payer),
            (4990, "EUR", Payer::Email("Jane@Example.com".into()))
        );
        assert_eq!(date, Some(1_795_305_600_000));
        let minor = Columns::from_header("customer_key,amount_minor,currency,key").unwrap();
        assert_eq!(minor.row("cus_1,-500,usd,r1").unwrap().0.amount, -500);
        assert!(minor
            .row("cus_1,5.5,usd,r1")
            .unwrap_err()
            .contains("whole number"));
        assert!(c
            .row("ord_2,nope,1,eur,")
            .unwrap_err()
            .contains("not an email"));
        assert!(c
            .row("ord_3,a@b.co,1.999,eur,")
            .unwrap_err()
            .contains("more decimals"));
        assert!(Columns::from_header("key,amount,currency")
            .unwrap_err()
            .contains("neither"));
        assert_eq!(fields(r#"a,"b,""c""",d"#).unwrap(), ["a", "b,\"c\"", "d"]);
        assert!(fields(r#"a,"b"#).is_err());
    }
}
