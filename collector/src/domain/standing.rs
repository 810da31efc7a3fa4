//! What backs a claim: its [`Standing`], fixed when the claim is stored. The credit rule
//! (`credit`) orders claims by it; a validated record (`validate`) carries it.

/// What backs a claim, from strongest to weakest; the last four never credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Standing {
    /// The claim names no partner, or one that may not be credited (paused, unregistered under
    /// `--registered-partners-only`).
    Unattributed,
    /// Unsigned, and the collector runs with `--require-signed-signups`.
    Unsigned,
    /// No recorded click behind it, and the collector runs with `--verified-clicks`.
    Unverified,
    /// A browser claim, with nothing behind it but the visitor's cookies.
    Claimed,
    /// Backed by a click the collector recorded for the partner it credits.
    Clicked,
    /// Confirmed by the site's own server.
    Confirmed,
}

impl Standing {
    /// Whether a claim of this standing may credit its partner.
    pub fn credits(self) -> bool {
        self >= Standing::Claimed
    }

    /// The word stored and listed.
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Unattributed => "unattributed",
            Standing::Unsigned => "unsigned",
            Standing::Unverified => "unverified",
            Standing::Claimed => "claimed",
            Standing::Clicked => "clicked",
            Standing::Confirmed => "confirmed",
        }
    }

    /// The standing stored as `word`; an unknown word never credits.
    pub fn parse(word: &str) -> Standing {
        match word {
            "confirmed" => Standing::Confirmed,
            "clicked" => Standing::Clicked,
            "claimed" => Standing::Claimed,
            "unverified" => Standing::Unverified,
            "unsigned" => Standing::Unsigned,
            _ => Standing::Unattributed,
        }
    }

    /// Why a claim of this standing was credited, or why it cannot be.
    pub fn reason(self) -> &'static str {
        match self {
            Standing::Confirmed => "confirmed by the site's server",
            Standing::Clicked => "backed by a click recorded for the partner",
            Standing::Claimed => "a browser claim, backed by no recorded click",
            Standing::Unverified => "no recorded click, and --verified-clicks is on",
            Standing::Unsigned => "not signed, and --require-signed-signups is on",
            Standing::Unattributed => "names no partner that may be credited",
        }
    }
}
