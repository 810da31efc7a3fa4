//! What the tracker says on the console: debug mode's lines about its decisions, and the warnings
//! about its set-up (options, the public key, `cookieDomain`, Partnero's calls). A note is which
//! line (a [`Note`]) and the one or two words that vary (a partner key, a parameter, a domain); the
//! line is put together only in [`say`]. In the split build `say` is a gate (`scripts/split.mjs`),
//! so the texts live in the delivery module: a note made before it is present waits in the
//! tracker, the module is asked for, and what waited is said once it arrives
//! (`split::delivered`). A landing page without `debug` and without a set-up mistake never
//! downloads the delivery module for them.

use super::Tracker;
use crate::core::config::{self, Warning};
use crate::core::partner_key::Refusal;
use crate::core::text::cat;
use crate::web::browser::console;
use crate::web::cell::Global;
use alloc::string::String;
use alloc::vec::Vec;

/// Which line of the tracker, a debug line or a warning; `a` and `b` are the words that vary.
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
    NotReported,
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
    /// Warning: an option refused or unknown.
    Config(Warning),
    /// Warning: `window.reftrackConfig` is not an object.
    GlobalNotObject,
    /// Warning: `a`'s options (`init`, `_initialize`) are not an object.
    OptionsNotObject,
    /// Warning: `a` was given `b` as the public key.
    PublicKeyGiven,
    /// Warning: `a` left the program without a public key.
    NoPublicKey,
    /// Warning: Partnero's program id `a` is not a public key.
    PartneroProgram,
    /// Warning: `cookieDomain` `a` does not cover host `b`.
    CookieDomain,
    /// Warning: `po(a, b)` is not supported.
    PoUnsupported,
}

/// Says a note on the console. Never inlined: the split build cuts it off the landing's module by
/// its name, texts included.
#[inline(never)]
pub fn say(note: &Note, a: &str, b: &str) {
    let text;
    let pieces: &[&str] = match note {
        Note::Ignored(refusal) => {
            text = refusal.reason();
            &["ignored ?", a, ": ", &text]
        }
        Note::Read => &["read partner key ", a, " from ?", b],
        Note::Keeping => &["no new partner key in the URL; keeping ", a],
        Note::NoKey => &["no partner key in the URL or cookies"],
        Note::KeepFirst => &["first-click attribution: keeping the stored partner key"],
        Note::SameClick => &["this click is stored already: cookies left as they are"],
        Note::NotReported => &["landing not reported: no publicKey"],
        Note::Attributed => &["attributed to partner ", a],
        Note::ConsentPending => &["consent pending: the partner key is kept in memory only"],
        Note::OnDomain => &["cookies written on domain ", a],
        Note::HostOnly => &["cookies written host-only on ", a],
        Note::Unavailable => &["cookies are unavailable: the partner key is kept in memory only"],
        Note::ConsentGranted => &["consent granted"],
        Note::ConsentRefused => &["consent refused: deleting reftrack's cookies and queue"],
        Note::Partnero => &["Partnero mode: program ", a],
        Note::BackOnline => &["back online: sending waiting signups"],
        Note::Config(warning) => {
            text = warning.text();
            &[&text]
        }
        Note::GlobalNotObject => &["window.reftrackConfig must be an object; ignored"],
        Note::OptionsNotObject => &[a, " options must be an object; ignored"],
        Note::PublicKeyGiven => &[
            a,
            " was given ",
            b,
            " as the public key; expected ",
            config::PUBLIC_KEY_RULE,
        ],
        Note::NoPublicKey => &[
            a,
            " left the program without a public key (pass it, or set publicKey, \
             window.reftrackConfig.publicKey or data-public-key): signups will be refused",
        ],
        Note::PartneroProgram => &[
            "po('program', \"",
            a,
            "\", 'load') was given a program id that is not a public key; expected ",
            config::PUBLIC_KEY_RULE,
        ],
        Note::CookieDomain => &["cookieDomain ", a, " does not cover ", b, "; finding one"],
        Note::PoUnsupported => &["po('", a, "', '", b, "') is not supported; ignored"],
    };
    let warning = matches!(
        note,
        Note::Config(_)
            | Note::GlobalNotObject
            | Note::OptionsNotObject
            | Note::PublicKeyGiven
            | Note::NoPublicKey
            | Note::PartneroProgram
            | Note::CookieDomain
            | Note::PoUnsupported
    );
    if warning {
        warn_once(cat(pieces));
    } else {
        console::log(false, pieces);
    }
}

/// Says `line` as a warning, unless this page has said it already.
pub fn warn_once(line: String) {
    if SAID.with(|said| said.contains(&line)) {
        return;
    }
    console::log(true, &[&line]);
    SAID.with(|said| said.push(line));
}

/// The warnings said on this page.
static SAID: Global<Vec<String>> = Global::empty();

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

    /// Says a warning, once per page ([`say`] leaves out repeats): now, or once the delivery
    /// module is there (the split build).
    pub fn warn(&mut self, note: Note, a: &str, b: &str) {
        self::note(&mut self.notes, true, note, a, b);
    }

    /// Whether notes wait for the delivery module.
    #[cfg(feature = "split")]
    pub fn notes_waiting(&self) -> bool {
        !self.notes.is_empty()
    }

    /// The notes that waited for the delivery module, to be said now.
    #[cfg(feature = "split")]
    pub fn take_notes(&mut self) -> Vec<Waiting> {
        core::mem::take(&mut self.notes)
    }
}
