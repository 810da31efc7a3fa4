//! A partner's balance in one currency, as a running sum of the ledger: what was earned, reversed,
//! adjusted and paid, and what is unsettled, split into what is due and a schedule of what turns
//! due on later days. It is kept beside the ledger, in the transactions that write it, so that
//! what 100,000 partners are owed is read as one row each.
//!
//! The schedule is folded as time passes: the days up to today move into `due` whenever the
//! balance is written, so it only ever holds days still ahead of its last write.

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
    /// Unsettled, due on or before `due_through`.
    pub due: i64,
    /// The last day folded into `due` (`YYYY-MM-DD`; empty before the first write).
    pub due_through: String,
    /// Unsettled, due after `due_through`: per day, soonest first, no zero amounts.
    pub schedule: Vec<(String, i64)>,
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

impl AsOf {
    /// What a stored balance (`due` and its schedule's text) comes to on `today`, read straight
    /// from the text; `days`: with every day something turns due.
    pub fn of_text(due: i64, schedule: &str, today: &str, days: bool) -> AsOf {
        let mut out = AsOf {
            due,
            ..AsOf::default()
        };
        for item in schedule.split(';') {
            let Some((day, amount)) = item.split_once(' ') else {
                continue;
            };
            let amount: i64 = amount.parse().unwrap_or(0);
            if day <= today {
                out.due += amount;
                continue;
            }
            out.pending += amount;
            if out.next_due_on.is_none() {
                out.next_due_on = Some(day.to_owned());
            }
            if days {
                out.turns_due.push((day.to_owned(), amount));
            }
        }
        out
    }
}

impl Balance {
    /// Moves the days up to `today` into `due`.
    pub fn fold(&mut self, today: &str) {
        if today <= self.due_through.as_str() {
            return;
        }
        let ahead = self
            .schedule
            .iter()
            .position(|(day, _)| day.as_str() > today);
        let passed: Vec<_> = self
            .schedule
            .drain(..ahead.unwrap_or(self.schedule.len()))
            .collect();
        self.due += passed.iter().map(|(_, amount)| amount).sum::<i64>();
        self.due_through = today.to_owned();
    }

    /// Adds a ledger entry of `kind` (`earned`, `reversed`, `adjustment`) due on `due_on`,
    /// written on `today`.
    pub fn enter(&mut self, kind: &str, amount: i64, due_on: &str, today: &str) {
        self.fold(today);
        match kind {
            "earned" => self.earned += amount,
            "reversed" => self.reversed -= amount,
            _ => self.adjustments += amount,
        }
        if due_on <= self.due_through.as_str() {
            self.due += amount;
            return;
        }
        match self
            .schedule
            .binary_search_by(|(day, _)| day.as_str().cmp(due_on))
        {
            Ok(i) => {
                self.schedule[i].1 += amount;
                if self.schedule[i].1 == 0 {
                    self.schedule.remove(i);
                }
            }
            Err(i) if amount != 0 => self.schedule.insert(i, (due_on.to_owned(), amount)),
            Err(_) => {}
        }
    }

    /// Settles `amount` of what is due (a payout on `today`).
    pub fn settle(&mut self, amount: i64, today: &str) {
        self.fold(today);
        self.due -= amount;
        self.paid += amount;
    }

    /// What is due and pending on `today`, with every day something turns due.
    pub fn as_of(&self, today: &str) -> AsOf {
        AsOf::of_text(self.due, &self.schedule_text(), today, true)
    }

    /// The schedule as stored: `2026-12-22 980;2027-01-01 -294`.
    pub fn schedule_text(&self) -> String {
        self.schedule
            .iter()
            .map(|(day, amount)| format!("{day} {amount}"))
            .collect::<Vec<_>>()
            .join(";")
    }

    /// The schedule from its stored text (what does not read is left out).
    pub fn parse_schedule(text: &str) -> Vec<(String, i64)> {
        text.split(';')
            .filter_map(|item| {
                let (day, amount) = item.split_once(' ')?;
                Some((day.to_owned(), amount.parse().ok()?))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_scheduled_then_fall_due_and_payouts_settle_what_is_due() {
        let mut b = Balance::default();
        b.enter("earned", 2000, "2026-12-18", "2026-11-18");
        b.enter("reversed", -600, "2026-12-18", "2026-11-20");
        b.enter("earned", 1000, "2026-12-01", "2026-11-20");
        assert_eq!(
            b.schedule,
            vec![("2026-12-01".into(), 1000), ("2026-12-18".into(), 1400)]
        );
        let on = b.as_of("2026-12-05");
        assert_eq!((on.due, on.pending), (1000, 1400));
        assert_eq!(on.next_due_on.as_deref(), Some("2026-12-18"));
        assert_eq!(on.turns_due, vec![("2026-12-18".into(), 1400)]);
        b.settle(1000, "2026-12-05");
        assert_eq!(
            (b.due, b.paid, b.due_through.as_str()),
            (0, 1000, "2026-12-05")
        );
        // An adjustment due today goes straight to what is due; a clawback too.
        b.enter("adjustment", -150, "2026-12-05", "2026-12-05");
        assert_eq!(b.as_of("2026-12-05").due, -150);
        assert_eq!(b.as_of("2026-12-18").due, 1250);
        let text = b.schedule_text();
        assert_eq!(text, "2026-12-18 1400");
        assert_eq!(Balance::parse_schedule(&text), b.schedule);
        assert_eq!(Balance::parse_schedule(""), vec![]);
        // An entry cancelling a day removes the day.
        b.enter("reversed", -1400, "2026-12-18", "2026-12-06");
        assert!(b.schedule.is_empty());
        assert_eq!(b.earned - b.reversed + b.adjustments, b.paid + b.due);
    }
}
