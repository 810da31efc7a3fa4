//! The retry queue: signups whose delivery has not been confirmed, and when to try each again.
//!
//! Time is passed in (milliseconds since the epoch) and so is randomness, so the policy is plain,
//! testable arithmetic. The web layer keeps the queue in `localStorage` (or memory) and drives it.
//!
//! A signup enters the queue *before* it is first sent, scheduled for after the request's timeout:
//! if the page navigates away before the answer arrives, the next page finds it and resends it with
//! the same `event_id`, which the endpoint recognises as a duplicate. It leaves the queue when an
//! endpoint answers `2xx` (delivered) or says the signup itself is wrong (`400`, `413`, `422`), or
//! when it is a day old. Any other answer — a wrong endpoint, an origin not allowed yet, an outage —
//! leaves it waiting, so that it is delivered once the set-up is fixed.

use super::text::decimal;
use alloc::string::String;
use alloc::vec::Vec;

/// Most signups kept waiting; past that the oldest is dropped (and reported in debug mode).
pub const MAX_PENDING: usize = 50;
/// A signup not delivered within a day is dropped.
pub const MAX_AGE_MS: u64 = 24 * 60 * 60 * 1000;
/// First retry delay.
pub const BASE_DELAY_MS: u64 = 2_000;
/// Longest retry delay.
pub const MAX_DELAY_MS: u64 = 15 * 60 * 1000;

/// One signup waiting for confirmed delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The signup's event id.
    pub event_id: String,
    /// Where it is posted.
    pub endpoint: String,
    /// The JSON body, sent unchanged on every attempt.
    pub body: String,
    /// When it was made.
    pub created_at: u64,
    /// Attempts that failed so far.
    pub attempts: u32,
    /// Not to be sent before this time.
    pub next_at: u64,
}

/// Delay before the next attempt after `attempts` failures: exponential from [`BASE_DELAY_MS`],
/// capped at [`MAX_DELAY_MS`], with "equal jitter" (half fixed, half random) so that many pages
/// recovering from one outage do not retry in step. `random` is in `[0, 1)`.
pub fn backoff_ms(attempts: u32, random: f64) -> u64 {
    let exponent = attempts.saturating_sub(1).min(20);
    let delay = BASE_DELAY_MS
        .saturating_mul(1 << exponent)
        .min(MAX_DELAY_MS);
    let half = delay / 2;
    half + (half as f64 * random.clamp(0.0, 1.0)) as u64
}

/// The queue of pending signups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetryQueue(pub Vec<Pending>);

impl RetryQueue {
    /// Adds `pending` (replacing an entry with the same event id). Returns the entry dropped to
    /// stay within [`MAX_PENDING`], if any.
    pub fn push(&mut self, pending: Pending) -> Option<Pending> {
        self.remove(&pending.event_id);
        self.0.push(pending);
        if self.0.len() > MAX_PENDING {
            let oldest = (0..self.0.len()).min_by_key(|&i| self.0[i].created_at)?;
            return Some(self.0.remove(oldest));
        }
        None
    }

    /// Removes the entry for `event_id`, returning it.
    pub fn remove(&mut self, event_id: &str) -> Option<Pending> {
        let at = self.0.iter().position(|p| p.event_id == event_id)?;
        Some(self.0.remove(at))
    }

    /// Drops entries older than [`MAX_AGE_MS`] at `now`, returning them.
    pub fn expire(&mut self, now: u64) -> Vec<Pending> {
        let (expired, kept) = self
            .0
            .drain(..)
            .partition(|p| now.saturating_sub(p.created_at) > MAX_AGE_MS);
        self.0 = kept;
        expired
    }

    /// The entries due at `now` (every entry with `all`), each marked as being sent (see
    /// [`mark_sending`](Self::mark_sending)).
    pub fn start_due(&mut self, now: u64, all: bool, grace_ms: u64) -> Vec<Pending> {
        let mut due = Vec::new();
        for p in &mut self.0 {
            if all || p.next_at <= now {
                due.push(p.clone());
                p.next_at = now + grace_ms;
            }
        }
        due
    }

    /// Marks `event_id` as being sent at `now`: if no answer comes (the page went away), it is due
    /// again after `grace_ms`.
    pub fn mark_sending(&mut self, event_id: &str, now: u64, grace_ms: u64) {
        if let Some(p) = self.0.iter_mut().find(|p| p.event_id == event_id) {
            p.next_at = now + grace_ms;
        }
    }

    /// Records a failed attempt of `event_id` and schedules the next one: after the backoff, and
    /// not before `not_before` when the endpoint said when (`Retry-After`).
    pub fn failed(&mut self, event_id: &str, now: u64, random: f64, not_before: Option<u64>) {
        if let Some(p) = self.0.iter_mut().find(|p| p.event_id == event_id) {
            p.attempts += 1;
            p.next_at = (now + backoff_ms(p.attempts, random)).max(not_before.unwrap_or(0));
        }
    }

    /// When the next entry falls due, if any.
    pub fn next_due(&self) -> Option<u64> {
        self.0.iter().map(|p| p.next_at).min()
    }

    /// True when nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The queue as stored: one line per entry, its fields separated by tabs — `event_id`,
    /// `endpoint`, `created_at`, `attempts`, `next_at`, and the JSON `body` last. No field holds a
    /// tab or a line break: the id is a UUID, the endpoint a URL as `new URL()` writes it, the body
    /// JSON with control characters escaped. (A format this plain costs the module next to nothing
    /// to read, where JSON would cost a parser.)
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for p in &self.0 {
            if !out.is_empty() {
                out.push('\n');
            }
            for (i, field) in [&p.event_id, &p.endpoint].into_iter().enumerate() {
                if i > 0 {
                    out.push('\t');
                }
                out.push_str(field);
            }
            for n in [p.created_at, u64::from(p.attempts), p.next_at] {
                out.push('\t');
                out.push_str(&decimal(n));
            }
            out.push('\t');
            out.push_str(&p.body);
        }
        out
    }

    /// Reads what [`to_text`](Self::to_text) wrote. Lines that do not read (edited by hand, an
    /// older format) are dropped: never fatal.
    pub fn from_text(text: &str) -> Self {
        let mut queue = Vec::new();
        for line in text.split('\n') {
            if let Some(pending) = pending(line) {
                queue.push(pending);
            }
        }
        RetryQueue(queue)
    }
}

fn pending(line: &str) -> Option<Pending> {
    let mut fields = line.splitn(6, '\t');
    let mut text = || fields.next().filter(|f| !f.is_empty()).map(String::from);
    let (event_id, endpoint) = (text()?, text()?);
    let mut number = || super::text::whole_number(&text()?);
    let (created_at, attempts, next_at) = (number()?, number()?, number()?);
    Some(Pending {
        event_id,
        endpoint,
        body: text()?,
        created_at,
        attempts: attempts.min(u64::from(u32::MAX)) as u32,
        next_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(id: &str, created_at: u64) -> Pending {
        Pending {
            event_id: id.into(),
            endpoint: "/v1/signups".into(),
            body: "{}".into(),
            created_at,
            attempts: 0,
            next_at: created_at,
        }
    }

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_a_cap() {
        // attempts 1..: 2s, 4s, 8s ... each in [delay/2, delay).
        assert_eq!(backoff_ms(1, 0.0), 1_000);
        assert_eq!(backoff_ms(1, 0.999_999), 1_999);
        assert_eq!(backoff_ms(2, 0.0), 2_000);
        assert_eq!(backoff_ms(3, 0.5), 6_000);
        assert_eq!(backoff_ms(10, 0.0), MAX_DELAY_MS / 2);
        assert_eq!(backoff_ms(u32::MAX, 1.0), MAX_DELAY_MS);
        let schedule: Vec<u64> = (1..=6).map(|n| backoff_ms(n, 1.0)).collect();
        assert_eq!(schedule, [2_000, 4_000, 8_000, 16_000, 32_000, 64_000]);
        assert_eq!(
            backoff_ms(1, f64::NAN),
            1_000,
            "a bad random number cannot break it"
        );
    }

    #[test]
    fn the_queue_is_bounded_dropping_the_oldest() {
        let mut queue = RetryQueue::default();
        for i in 0..MAX_PENDING as u64 {
            assert_eq!(queue.push(pending(&format!("e{i}"), 1_000 + i)), None);
        }
        let dropped = queue.push(pending("newest", 5_000)).unwrap();
        assert_eq!(dropped.event_id, "e0");
        assert_eq!(queue.0.len(), MAX_PENDING);
        // The same event id again replaces rather than duplicates.
        queue.push(pending("newest", 6_000));
        assert_eq!(queue.0.len(), MAX_PENDING);
    }

    #[test]
    fn the_stored_queue_reads_back_and_bad_lines_are_dropped() {
        let mut queue = RetryQueue::default();
        queue.push(pending("a", 1_700_000_000_000));
        queue.push(Pending {
            body: "{\"email\":\"jane@example.com\",\"name\":\"Zoë \\\"Z\\\"\\tx\"}".into(),
            attempts: 3,
            ..pending("b", 5)
        });
        let text = queue.to_text();
        assert_eq!(
            text.lines().next(),
            Some("a\t/v1/signups\t1700000000000\t0\t1700000000000\t{}")
        );
        assert_eq!(RetryQueue::from_text(&text), queue);
        let one_bad = text.replacen("\t0\t", "\tzero\t", 1);
        assert_eq!(RetryQueue::from_text(&one_bad).0.len(), 1);
        assert!(RetryQueue::from_text("not a queue").is_empty());
        assert!(RetryQueue::from_text("").is_empty());
        assert_eq!(RetryQueue::default().to_text(), "");
    }

    #[test]
    fn entries_expire_after_a_day() {
        let mut queue = RetryQueue::default();
        queue.push(pending("old", 0));
        queue.push(pending("young", MAX_AGE_MS));
        let expired = queue.expire(MAX_AGE_MS + 1);
        assert_eq!(
            expired
                .iter()
                .map(|p| p.event_id.as_str())
                .collect::<Vec<_>>(),
            ["old"]
        );
        assert_eq!(queue.0.len(), 1);
    }

    #[test]
    fn failures_reschedule_and_sending_defers() {
        let mut queue = RetryQueue::default();
        queue.push(pending("a", 100));
        queue.push(pending("b", 100));
        queue.mark_sending("a", 100, 10_000);
        let due = queue.start_due(100, false, 5_000);
        assert_eq!(
            due.iter().map(|p| p.event_id.as_str()).collect::<Vec<_>>(),
            ["b"]
        );
        assert!(
            queue.start_due(100, false, 5_000).is_empty(),
            "b is being sent"
        );
        assert_eq!(
            queue.start_due(100, true, 5_000).len(),
            2,
            "all, whatever is due"
        );
        queue.failed("b", 200, 0.0, None);
        queue.failed("b", 1_200, 0.0, None);
        let b = queue.0.iter().find(|p| p.event_id == "b").unwrap();
        assert_eq!((b.attempts, b.next_at), (2, 1_200 + 2_000));
        assert_eq!(queue.next_due(), Some(3_200));
        // Retry-After: not before the endpoint said, even when the backoff is shorter.
        queue.failed("b", 4_000, 0.0, Some(60_000));
        let b = queue.0.iter().find(|p| p.event_id == "b").unwrap();
        assert_eq!((b.attempts, b.next_at), (3, 60_000));
        queue.failed("b", 4_000, 0.0, Some(1));
        let b = queue.0.iter().find(|p| p.event_id == "b").unwrap();
        assert_eq!(b.next_at, 4_000 + 8_000, "the backoff when it is longer");
        assert!(queue.remove("a").is_some() && queue.remove("a").is_none());
    }
}
