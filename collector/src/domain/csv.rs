//! CSV written for spreadsheets: every cell quoted, and text a spreadsheet would read as a
//! formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) kept as text with a
//! leading `'`, so that a visitor's name such as `=HYPERLINK(…)` never runs in the owner's
//! spreadsheet. Numbers stay numbers.

use serde_json::Value;

/// The columns of the records export, in order.
pub const RECORD_COLUMNS: [&str; 17] = [
    "received_at",
    "type",
    "event_id",
    "public_key",
    "customer_key",
    "email",
    "name",
    "partner_key",
    "xid",
    "verified",
    "credited",
    "standing",
    "contested",
    "amount",
    "currency",
    "transaction_key",
    "page_url",
];

/// The columns of a partner's statement, in order.
pub const STATEMENT_COLUMNS: [&str; 22] = [
    "recorded_at",
    "type",
    "id",
    "kind",
    "on",
    "amount",
    "currency",
    "balance",
    "state",
    "due_on",
    "payout_reference",
    "transaction_id",
    "source",
    "source_id",
    "transaction_kind",
    "transaction_amount",
    "occurred_at",
    "public_key",
    "customer_key",
    "rule_id",
    "reverses",
    "note",
];

/// One line of a statement (as `GET /v1/partners/{key}/statement` shows it) as CSV, with its
/// line break: an entry with its transaction, or a payout (kind `payout`, its reference).
pub fn statement_line(line: &Value) -> String {
    let payout = line["type"] == "payout";
    let value = |column: &str| match column {
        "kind" if payout => Value::from("payout"),
        "payout_reference" if payout => line["reference"].clone(),
        "payout_reference" => line["payout"]["reference"].clone(),
        "transaction_id" => line["transaction"]["id"].clone(),
        "source" | "source_id" => line["transaction"][column].clone(),
        "transaction_kind" => line["transaction"]["kind"].clone(),
        "transaction_amount" => line["transaction"]["amount"].clone(),
        "state" if payout => Value::from("paid"),
        "occurred_at" if payout => line["paid_at"].clone(),
        other => line[other].clone(),
    };
    let mut text = STATEMENT_COLUMNS
        .iter()
        .map(|c| cell(&value(c)))
        .collect::<Vec<_>>()
        .join(",");
    text.push_str("\r\n");
    text
}

/// One cell: empty for null, the number as written for a number, quoted text otherwise.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => {
            let risky = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
            format!(
                "\"{}{}\"",
                if risky { "'" } else { "" },
                s.replace('"', "\"\"")
            )
        }
        other => format!("\"{}\"", other.to_string().replace('"', "\"\"")),
    }
}

/// A listed record (as `GET /v1/signups` shows it) as one CSV line, with its line break.
pub fn record_line(record: &Value) -> String {
    let value = |column: &str| match column {
        "verified" => Value::Bool(record["verified"] != Value::Bool(false)),
        "credited" | "standing" | "contested" => record["credit"][column].clone(),
        other => record[other].clone(),
    };
    let mut line = RECORD_COLUMNS
        .iter()
        .map(|c| cell(&value(c)))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formulas_stay_text_and_numbers_stay_numbers() {
        assert_eq!(
            cell(&json!("=HYPERLINK(\"http://evil\",\"x\")")),
            "\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\""
        );
        for risky in ["+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert!(cell(&json!(risky)).starts_with("\"'"), "{risky}");
        }
        assert_eq!(cell(&json!(-500)), "-500");
        assert_eq!(cell(&json!("Jane")), "\"Jane\"");
        assert_eq!(cell(&Value::Null), "");
        let line =
            record_line(&json!({"type": "signup", "name": "=1+1", "credit": {"credited": true}}));
        assert!(
            line.contains("\"'=1+1\"") && line.contains(",true,") && line.ends_with("\r\n"),
            "{line}"
        );
    }
}
