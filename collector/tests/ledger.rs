//! The commission ledger's properties, over random sequences of sales, partial and full refunds,
//! reversals, rule changes, adjustments, payouts (some refused), days passing and redelivered
//! payments, on the store itself (SQLite, or PostgreSQL under `scripts/test.sh`):
//!
//! - for every partner and currency, paid + due + pending = earned − reversed + adjustments, in
//!   the running sums the API reads and in the ledger summed afresh, and both agree;
//! - no entry is ever changed, and none is settled twice;
//! - what a sale's refunds reverse is its commission's share of the refunded total, rounded
//!   halves up, whatever the steps: never more than it earned, and all of it when refunded in
//!   full;
//! - a redelivered payment changes nothing.

mod common;

use proptest::prelude::*;
use reftrack_collector::domain::rewards::{share, Adjustment, Event, NewPayout, Reward, Rule};
use reftrack_collector::store::engine::{Db, Target, V};
use reftrack_collector::store::ledger;
use reftrack_collector::store::money::{self, NewTransaction};
use reftrack_collector::store::payouts::{self, Payout};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

const DAY: i64 = 86_400_000;
/// 2026-11-18T11:06:40Z.
const T0: i64 = 1_795_000_000_000;

#[derive(Debug, Clone)]
enum Op {
    Sale {
        customer: usize,
        amount: i64,
        euro: bool,
    },
    /// Many sales in a row: a balance's schedule grows long enough to be compacted.
    Burst {
        sales: usize,
        day_apart: bool,
    },
    Refund {
        customer: usize,
        amount: i64,
        euro: bool,
    },
    Reverse {
        sale: usize,
    },
    Rule {
        partner: Option<usize>,
        reward: u8,
        value: i64,
        months: Option<i64>,
        holding: i64,
    },
    Adjust {
        partner: usize,
        amount: i64,
    },
    Pay {
        partner: usize,
        percent: i64,
        euro: bool,
    },
    Wait {
        days: i64,
    },
    Redeliver {
        op: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, prop_oneof![1..1_000i64, 1..200_000i64], any::<bool>())
            .prop_map(|(customer, amount, euro)| Op::Sale { customer, amount, euro }),
        3 => (0..3usize, prop_oneof![1..700i64, 1..120_000i64], any::<bool>())
            .prop_map(|(customer, amount, euro)| Op::Refund { customer, amount, euro }),
        1 => (0..20usize).prop_map(|sale| Op::Reverse { sale }),
        1 => (110..140usize, any::<bool>()).prop_map(|(sales, day_apart)| Op::Burst { sales, day_apart }),
        1 => (
            proptest::option::of(0..2usize),
            0..3u8,
            0..=10_000i64,
            proptest::option::of(1..4i64),
            0..45i64,
        )
            .prop_map(|(partner, reward, value, months, holding)| Op::Rule {
                partner, reward, value, months, holding,
            }),
        1 => (0..2usize, -5_000..5_000i64)
            .prop_map(|(partner, amount)| Op::Adjust { partner, amount }),
        2 => (0..2usize, 0..=130i64, any::<bool>())
            .prop_map(|(partner, percent, euro)| Op::Pay { partner, percent, euro }),
        2 => (0..40i64).prop_map(|days| Op::Wait { days }),
        1 => (0..40usize).prop_map(|op| Op::Redeliver { op }),
    ]
}

/// One database for the whole run (a fresh one per case would make PostgreSQL the test's cost);
/// each case names its own program, partners, customers and references.
fn db() -> &'static Mutex<Db> {
    static DB: std::sync::OnceLock<Mutex<Db>> = std::sync::OnceLock::new();
    DB.get_or_init(|| {
        let path = common::temp_dir().join("ledger.db");
        let target = Target::parse(&common::database(&path));
        Mutex::new(Db::open(&target, Duration::from_secs(30)).expect("the test database opens"))
    })
}

fn iso(ms: i64) -> String {
    reftrack_collector::domain::time::iso8601(
        std::time::UNIX_EPOCH + Duration::from_millis(ms as u64),
    )
}

/// Rows of the case's partners (`$1` to `$2`: every key that starts with the case's name).
fn rows(db: &mut Db, sql: &'static str, case: &str) -> Vec<Vec<V>> {
    let (from, to) = (format!("{case}-"), format!("{case}-~"));
    db.query(sql, &[from.as_str().into(), to.as_str().into()])
        .unwrap()
}

/// Every entry of the case's partners, in id order.
fn entries(db: &mut Db, case: &str) -> Vec<Vec<V>> {
    rows(
        db,
        "SELECT id, partner_key, public_key, customer_key, kind, event, amount, currency,
                transaction_id, reverses, refunded, rule_id, note, occurred_at, due_on, recorded_at
         FROM commissions WHERE partner_key >= $1 AND partner_key < $2 ORDER BY id",
        case,
    )
}

fn settled(db: &mut Db, case: &str) -> Vec<Vec<V>> {
    rows(
        db,
        "SELECT s.entry_id, s.payout_id FROM settlements s
         JOIN payouts p ON p.id = s.payout_id
         WHERE p.partner_key >= $1 AND p.partner_key < $2 ORDER BY s.entry_id",
        case,
    )
}

fn int(v: &V) -> i64 {
    v.int().unwrap_or(0)
}

fn text(v: &V) -> String {
    v.clone().text().unwrap_or_default()
}

/// The ledger summed afresh per partner and currency:
/// [earned, reversed, adjustments, paid, due, pending].
fn summed(db: &mut Db, case: &str, today: &str) -> BTreeMap<(String, String), [i64; 6]> {
    let paid: std::collections::HashSet<i64> =
        settled(db, case).iter().map(|r| int(&r[0])).collect();
    let mut sums: BTreeMap<(String, String), [i64; 6]> = BTreeMap::new();
    for e in entries(db, case) {
        let s = sums.entry((text(&e[1]), text(&e[7]))).or_default();
        let amount = int(&e[6]);
        match text(&e[4]).as_str() {
            "earned" => s[0] += amount,
            "reversed" => s[1] -= amount,
            _ => s[2] += amount,
        }
        if paid.contains(&int(&e[0])) {
            s[3] += amount;
        } else if text(&e[14]).as_str() <= today {
            s[4] += amount;
        } else {
            s[5] += amount;
        }
    }
    sums
}

struct Case {
    name: String,
    now: i64,
    sales: Vec<String>,
    delivered: Vec<NewTransaction>,
    n: usize,
}

impl Case {
    fn partner(&self, i: usize) -> String {
        format!("{}-p{i}", self.name)
    }
    fn program(&self) -> String {
        format!("{}-pk", self.name)
    }
    fn transaction(
        &mut self,
        kind: &'static str,
        customer: usize,
        amount: i64,
        euro: bool,
    ) -> NewTransaction {
        self.n += 1;
        NewTransaction {
            source: "partnerstack",
            source_id: format!("{}-t{}", self.name, self.n),
            kind,
            amount,
            currency: if euro { "EUR" } else { "USD" }.into(),
            public_key: Some(self.program()),
            customer_key: Some(format!("{}-c{customer}", self.name)),
            reference: None,
            unmatched: None,
            occurred_at: iso(self.now),
            body: "{}".into(),
            // Customers 0 and 1 came through partner 0, customer 2 through partner 1.
            partner_key: Some(self.partner(usize::from(customer == 2))),
        }
    }
}

fn apply(db: &mut Db, case: &mut Case, op: &Op) {
    let at = iso(case.now);
    match op {
        Op::Sale {
            customer,
            amount,
            euro,
        } => {
            let t = case.transaction("sale", *customer, *amount, *euro);
            assert!(money::record(db, &t, &at).unwrap().created);
            case.sales.push(t.source_id.clone());
            case.delivered.push(t);
        }
        Op::Burst { sales, day_apart } => {
            for n in 0..*sales {
                let t = case.transaction("sale", n % 2, 100 + n as i64, false);
                assert!(money::record(db, &t, &iso(case.now)).unwrap().created);
                case.sales.push(t.source_id.clone());
                case.now += if *day_apart { DAY } else { 1000 };
            }
        }
        Op::Refund {
            customer,
            amount,
            euro,
        } => {
            let t = case.transaction("refund", *customer, -amount, *euro);
            assert!(money::record(db, &t, &at).unwrap().created);
            case.delivered.push(t);
        }
        Op::Reverse { sale } => {
            if let Some(id) = case.sales.get(*sale).cloned() {
                money::reverse(db, "partnerstack", &id, &at).unwrap();
            }
        }
        Op::Rule {
            partner,
            reward,
            value,
            months,
            holding,
        } => {
            let reward = match reward {
                0 => Reward::Percent {
                    basis_points: *value,
                },
                1 => Reward::Flat {
                    amount: *value / 3,
                    currency: "USD".into(),
                },
                _ => Reward::None,
            };
            let rule = Rule {
                public_key: case.program(),
                partner_key: partner.map(|p| case.partner(p)).unwrap_or_default(),
                on: Event::Sale,
                reward,
                months: *months,
                holding_days: *holding,
            };
            ledger::set_rule(db, &rule, &at).unwrap();
        }
        Op::Adjust { partner, amount } => {
            if *amount != 0 {
                let a = Adjustment {
                    partner_key: case.partner(*partner),
                    public_key: String::new(),
                    amount: *amount,
                    currency: "USD".into(),
                    note: "correction".into(),
                };
                payouts::adjust(db, &a, &at).unwrap();
            }
        }
        Op::Pay {
            partner,
            percent,
            euro,
        } => {
            let partner_key = case.partner(*partner);
            let currency = if *euro { "EUR" } else { "USD" };
            let before = payouts::owed(db, &at[..10], Some(&partner_key)).unwrap();
            let due = before
                .iter()
                .find(|o| o.currency == currency)
                .map_or(0, |o| o.as_of.due);
            let amount = due * percent / 100;
            case.n += 1;
            let payout = NewPayout {
                partner_key: partner_key.clone(),
                currency: currency.into(),
                amount,
                reference: format!("{}-r{}", case.name, case.n),
                note: None,
                paid_at: None,
            };
            if amount <= 0 {
                return;
            }
            let entries_before = entries(db, &case.name).len();
            match payouts::pay(db, &payout, &at).unwrap() {
                Payout::Created(stored) => {
                    assert_eq!(stored["amount"], amount);
                    let after = payouts::owed(db, &at[..10], Some(&partner_key)).unwrap();
                    let after = after.iter().find(|o| o.currency == currency).unwrap();
                    assert_eq!(
                        after.as_of.due,
                        due - amount,
                        "a payout settles exactly its amount"
                    );
                    // The same reference again is the same payout.
                    assert!(matches!(
                        payouts::pay(db, &payout, &at).unwrap(),
                        Payout::Repeated(_)
                    ));
                }
                Payout::TooMuch { due: said } => {
                    assert!(amount > due, "{amount} refused with {due} due");
                    assert_eq!(said, due);
                }
                Payout::Split {
                    due: said,
                    below,
                    above,
                } => {
                    assert_eq!(said, due);
                    assert!(
                        below < amount && amount < above,
                        "{below} < {amount} < {above}"
                    );
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(
                entries(db, &case.name).len(),
                entries_before,
                "a payout adds no entry"
            );
        }
        Op::Wait { days } => case.now += days * DAY + 1000,
        Op::Redeliver { op } => {
            if let Some(t) = case.delivered.get(*op).cloned() {
                let (entries_before, settled_before) =
                    (entries(db, &case.name), settled(db, &case.name));
                assert!(!money::record(db, &t, &at).unwrap().created);
                assert_eq!(
                    entries(db, &case.name),
                    entries_before,
                    "a redelivery changes nothing"
                );
                assert_eq!(settled(db, &case.name), settled_before);
            }
        }
    }
    case.now += 1000;
}

fn check(db: &mut Db, case: &Case, history: &[Vec<V>]) -> Vec<Vec<V>> {
    let today = iso(case.now)[..10].to_owned();
    let now = entries(db, &case.name);
    assert!(now.len() >= history.len());
    assert_eq!(&now[..history.len()], history, "no entry is ever changed");
    let summed = summed(db, &case.name, &today);
    for p in 0..2 {
        for o in payouts::owed(db, &today, Some(&case.partner(p))).unwrap() {
            let (b, on) = (&o.balance, &o.as_of);
            assert_eq!(
                b.paid + on.due + on.pending,
                b.earned - b.reversed + b.adjustments,
                "{o:?}"
            );
            let fresh = summed
                .get(&(o.partner_key.clone(), o.currency.clone()))
                .copied()
                .unwrap_or_default();
            assert_eq!(
                [
                    b.earned,
                    b.reversed,
                    b.adjustments,
                    b.paid,
                    on.due,
                    on.pending
                ],
                fresh,
                "the running sums are the ledger's"
            );
        }
    }
    // Per sale: reversals never exceed what it earned; refunded in full, reversed in full.
    for row in rows(
        db,
        "SELECT e.amount, t.amount,
                CAST(COALESCE((SELECT SUM(-r.amount) FROM commissions r
                                  WHERE r.reverses = e.id AND r.kind = 'reversed' AND r.event = 'refund'), 0) AS BIGINT),
                CAST(COALESCE((SELECT SUM(a.amount) FROM refund_allocations a WHERE a.sale_id = t.id), 0) AS BIGINT)
         FROM commissions e JOIN transactions t ON t.id = e.transaction_id
         WHERE e.kind = 'earned' AND e.event = 'sale'
           AND e.partner_key >= $1 AND e.partner_key < $2",
        &case.name,
    ) {
        let (earned, sale, reversed, refunded) = (int(&row[0]), int(&row[1]), int(&row[2]), int(&row[3]));
        assert!(reversed <= earned && refunded <= sale, "{row:?}");
        // The documented rule: what is reversed of a sale is its commission's share of the
        // refunded total, rounded halves up, however many refunds made that total.
        assert_eq!(reversed, share(earned, refunded, sale), "{row:?}");
        if refunded == sale {
            assert_eq!(reversed, earned, "a sale refunded in full is reversed to the cent");
        }
    }
    now
}

static CASES: AtomicU32 = AtomicU32::new(0);

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_ledger_balances_never_changes_and_replays_change_nothing(ops in proptest::collection::vec(op(), 1..60)) {
        let mut db = db().lock().unwrap_or_else(|p| p.into_inner());
        let mut case = Case {
            name: format!("case{}-{}", std::process::id(), CASES.fetch_add(1, Ordering::Relaxed)),
            now: T0,
            sales: Vec::new(),
            delivered: Vec::new(),
            n: 0,
        };
        // A rule to start with, so that most sequences earn.
        apply(&mut db, &mut case, &Op::Rule { partner: None, reward: 0, value: 2000, months: None, holding: 30 });
        let mut history = Vec::new();
        for op in &ops {
            // Each step in a transaction of its own, as the collector's writers run them (on
            // PostgreSQL, a step's entries for one balance are then written together).
            db.begin().unwrap();
            apply(&mut db, &mut case, op);
            db.commit().unwrap();
            history = check(&mut db, &case, &history);
        }
    }
}
