//! What debug mode says about the tracker's decisions. A note is which line (a [`Note`]) and the
//! one or two words that vary (a partner key, a parameter, a domain); the line is put together only
//! in [`say`]. In the split build `say` is a gate (`scripts/split.mjs`), so the texts live in the
//! delivery module: a note made before it is present waits in the tracker, the module is asked
//! for, and what waited is said once it arrives (`split::delivered`). A landing page without
//! `debug` carries none of these texts.

use super::Tracker;
use crate::core::partner_key::Refusal;
use crate::web::browser::console;
use alloc::string::String;
use alloc::vec::Vec;

/// Which debug line of the tracker; `a` and `b` are the words that vary.
#[derive(Clone)]
pub enum Note {
    /// Query parameter `a`'s value was refused, for this reason.
    Ignored(Refusal),
    /// Partner key `a` was read from query parameter `b`.
    Read,
    /// Nothing new in the URL: stored partner key `a` stays.
    Keeping,
    /// No partner key anywhere.
    NoKey,
    /// First-click attribution kept the stored partner key.
    KeepFirst,
    /// The click in the URL is the one stored.
    SameClick,
    /// A hand-made link's landing is not reported: no public key.
    NoPublicKey,
    /// Attributed to partner key `a`.
    Attributed,
    /// Consent pending: nothing written.
    ConsentPending,
    /// Cookies written on domain `a`.
    OnDomain,
    /// Cookies written host-only on host `a`.
    HostOnly,
    /// The browser did not keep the cookies.
    Unavailable,
    /// `consent(true)`.
    ConsentGranted,
    /// `consent(false)`.
    ConsentRefused,
    /// `po('program', a, 'load')`.
    Partnero,
    /// Back online with signups waiting.
    BackOnline,
}

/// Says a note on the console. Never inlined: the split build cuts it off the landing's module by
/// its name, texts included.
#[inline(never)]
pub fn say(note: &Note, a: &str, b: &str) {
    let reason;
    let pieces: &[&str] = match note {
        Note::Ignored(refusal) => {
            reason = refusal.reason();
            &["ignored ?", a, ": ", &reason]
        }
        Note::Read => &["read partner key ", a, " from ?", b],
        Note::Keeping => &["no new partner key in the URL; keeping ", a],
        Note::NoKey => &["no partner key in the URL or cookies"],
        Note::KeepFirst => &["first-click attribution: keeping the stored partner key"],
        Note::SameClick => &["this click is stored already: cookies left as they are"],
        Note::NoPublicKey => &["landing not reported: no publicKey"],
        Note::Attributed => &["attributed to partner ", a],
        Note::ConsentPending => &["consent pending: the partner key is kept in memory only"],
        Note::OnDomain => &["cookies written on domain ", a],
        Note::HostOnly => &["cookies written host-only on ", a],
        Note::Unavailable => &["cookies are unavailable: the partner key is kept in memory only"],
        Note::ConsentGranted => &["consent granted"],
        Note::ConsentRefused => &["consent refused: deleting reftrack's cookies and queue"],
        Note::Partnero => &["Partnero mode: program ", a],
        Note::BackOnline => &["back online: sending waiting signups"],
    };
    console::log(false, pieces);
}

/// A note that waits for the delivery module, with its words.
pub type Waiting = (Note, String, String);

/// Whether `say` may be called now (the delivery code is present); `ask`: ask the loader for it
/// if not.
#[cfg(feature = "split")]
fn present(ask: bool) -> bool {
    crate::web::guard::present(ask)
}

#[cfg(not(feature = "split"))]
fn present(_: bool) -> bool {
    true
}

/// Says a note if `debug`: now, or once the delivery module is there (the split build), waiting in
/// `waiting` until then. A function of the tracker's fields, for callers that hold others.
pub fn note(waiting: &mut Vec<Waiting>, debug: bool, note: Note, a: &str, b: &str) {
    if !debug {
        return;
    }
    if present(false) {
        say(&note, a, b);
    } else {
        waiting.push((note, a.into(), b.into()));
        // Asked after the note is in line.
        present(true);
    }
}

impl Tracker {
    /// Says a note in debug mode: now, or once the delivery module is there (the split build).
    pub fn note(&mut self, note: Note, a: &str, b: &str) {
        self::note(&mut self.notes, self.config.debug, note, a, b);
    }

    /// The notes that waited for the delivery module, to be said now.
    #[cfg(feature = "split")]
    pub fn take_notes(&mut self) -> Vec<Waiting> {
        core::mem::take(&mut self.notes)
    }
}
