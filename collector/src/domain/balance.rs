//! A partner's balance in one currency, as a running sum of the ledger: what was earned, reversed,
//! adjusted and paid, and what is unsettled, split into what is due and a schedule of amounts by
//! the day they turn due. It is kept beside the ledger, in the transactions that write it, so that
//! what 100,000 partners are owed is read as one row each.
//!
//! The schedule is stored as text, `2026-12-22 980;2027-01-01 -294`, beside the latest due day's
//! amount: a new entry joins that amount when it turns due the same day (most of a day's entries
//! do), or else moves it into the text, in the same statement that adds the entry to the totals,
//! without reading the row first. The text is compacted (days merged, days passed folded into
//! `due`) once it grows past [`COMPACT_AT`] bytes, and when a payout settles. Reading it sums the
//! items as they are, so a balance is the same before and after compaction.

use std::collections::BTreeMap;

/// The length of schedule text past which it is compacted.
pub const COMPACT_AT: i64 = 512;

/// A partner's balance in one currency.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Balance {
    /// Commissions earned.
    pub earned: i64,
    /// Commissions reversed (a positive number).
    pub reversed: i64,
    /// Adjustments, net.
    pub adjustments: i64,
    /// Paid out.
    pub paid: i64,
    /// Unsettled and due, apart from the schedule.
    pub due: i64,
    /// Unsettled amounts by the day they turn due.
    pub schedule: String,
}

/// What a balance comes to on a given day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AsOf {
    /// Due now (negative when clawbacks exceed it).
    pub due: i64,
    /// Not due yet.
    pub pending: i64,
    /// The soonest day some of `pending` turns due.
    pub next_due_on: Option<String>,
    /// What turns due when, soonest first (when asked for).
    pub turns_due: Vec<(String, i64)>,
}

/// The items of schedule text, as written (a day may come more than once, in any order).
fn items(schedule: &str) -> impl Iterator<Item = (&str, i64)> {
    schedule.split(';').filter_map(|item| {
        let (day, amount) = item.split_once(' ')?;
        Some((day, amount.parse().ok()?))
    })
}

/// One schedule item as text.
pub fn item(due_on: &str, amount: i64) -> String {
    format!("{due_on} {amount}")
}

impl AsOf {
    /// What a stored balance (`due` and its schedule's text) comes to on `today`, read straight
    /// from the text; `days`: with every day something turns due.
    pub fn of_text(due: i64, schedule: &str, today: &str, days: bool) -> AsOf {
        let mut out = AsOf {
            due,
            ..AsOf::default()
        };
        let mut ahead: BTreeMap<&str, i64> = BTreeMap::new();
        for (day, amount) in items(schedule) {
            if day <= today {
                out.due += amount;
                continue;
            }
            out.pending += amount;
            if days {
                *ahead.entry(day).or_default() += amount;
            } else if out.next_due_on.as_deref().is_none_or(|next| day < next) {
                out.next_due_on = Some(day.to_owned());
            }
        }
        if days {
            out.turns_due = ahead
                .into_iter()
                .filter(|(_, amount)| *amount != 0)
                .map(|(day, amount)| (day.to_owned(), amount))
                .collect();
            out.next_due_on = out.turns_due.first().map(|(day, _)| day.clone());
        }
        out
    }
}

impl Balance {
    /// Adds a ledger entry of `kind` (`earned`, `reversed`, `adjustment`) due on `due_on`.
    pub fn enter(&mut self, kind: &str, amount: i64, due_on: &str) {
        match kind {
            "earned" => self.earned += amount,
            "reversed" => self.reversed -= amount,
            _ => self.adjustments += amount,
        }
        if !self.schedule.is_empty() {
            self.schedule.push(';');
        }
        self.schedule.push_str(&item(due_on, amount));
    }

    /// Merges the schedule's days, drops what nets to zero, and folds the days up to `today`
    /// into `due`.
    pub fn compact(&mut self, today: &str) {
        let mut days: BTreeMap<String, i64> = BTreeMap::new();
        for (day, amount) in items(&self.schedule) {
            if day <= today {
                self.due += amount;
            } else {
                *days.entry(day.to_owned()).or_default() += amount;
            }
        }
        self.schedule = days
            .into_iter()
            .filter(|(_, amount)| *amount != 0)
            .map(|(day, amount)| item(&day, amount))
            .collect::<Vec<_>>()
            .join(";");
    }

    /// Settles `amount` of what is due (a payout on `today`).
    pub fn settle(&mut self, amount: i64, today: &str) {
        self.compact(today);
        self.due -= amount;
        self.paid += amount;
    }

    /// What is due and pending on `today`, with every day something turns due.
    pub fn as_of(&self, today: &str) -> AsOf {
        AsOf::of_text(self.due, &self.schedule, today, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_scheduled_then_fall_due_and_payouts_settle_what_is_due() {
        let mut b = Balance::default();
        b.enter("earned", 2000, "2026-12-18");
        b.enter("reversed", -600, "2026-12-18");
        b.enter("earned", 1000, "2026-12-01");
        assert_eq!(
            b.schedule,
            "2026-12-18 2000;2026-12-18 -600;2026-12-01 1000"
        );
        let on = b.as_of("2026-12-05");
        assert_eq!((on.due, on.pending), (1000, 1400));
        assert_eq!(on.next_due_on.as_deref(), Some("2026-12-18"));
        assert_eq!(on.turns_due, vec![("2026-12-18".into(), 1400)]);
        let quick = AsOf::of_text(b.due, &b.schedule, "2026-11-30", false);
        assert_eq!((quick.due, quick.pending), (0, 2400));
        assert_eq!(quick.next_due_on.as_deref(), Some("2026-12-01"));
        // Compacting changes how it is written, not what it comes to.
        let before = b.as_of("2026-12-05");
        b.compact("2026-12-05");
        assert_eq!((b.due, b.schedule.as_str()), (1000, "2026-12-18 1400"));
        assert_eq!(b.as_of("2026-12-05"), before);
        b.settle(1000, "2026-12-05");
        assert_eq!((b.due, b.paid), (0, 1000));
        // An adjustment due today is due at once; a day netting to zero goes.
        b.enter("adjustment", -150, "2026-12-05");
        assert_eq!(b.as_of("2026-12-05").due, -150);
        assert_eq!(b.as_of("2026-12-18").due, 1250);
        b.enter("reversed", -1400, "2026-12-18");
        b.compact("2026-12-06");
        assert_eq!((b.due, b.schedule.as_str()), (-150, ""));
        assert_eq!(b.earned - b.reversed + b.adjustments, b.paid + b.due);
        assert_eq!(AsOf::of_text(0, "", "2026-12-06", true), AsOf::default());
    }
}
