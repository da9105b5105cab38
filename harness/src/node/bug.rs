//! Planted bugs: switchable, named defects in the nodes, each the root cause
//! of a customer incident class (`../shared/INCIDENTS.md`, A to E).
//!
//! All are off by default. A node consults [`Bugs::has`] at the one place the
//! bug lives; `payfault mutants` turns each on and measures how fast the
//! harness catches it. A harness that cannot catch them is broken.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One planted bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Bug {
    /// The switch forwards every copy of a request to the bank.
    SwitchNoDedupe,
    /// The bank posts again on a repeat (0201) or duplicate instead of
    /// answering with the stored response.
    BankNotIdempotent,
    /// The bank sends its reply before its journal record is synced.
    BankReplyBeforeSync,
    /// The terminal sends a request before its journal record is synced.
    TerminalJournalAfterSend,
    /// The terminal shows a timeout as a plain decline and never reverses.
    TerminalTimeoutAsDecline,
    /// The bank undoes the original on every copy of a reversal.
    ReversalEveryCopy,
    /// The bank ignores a reversal whose original it does not know, leaving
    /// no tombstone, so a late original is posted.
    ReversalUnknownIgnored,
    /// The bank does not check a refund against the sale's remaining
    /// refundable amount.
    RefundBoundUnchecked,
    /// The bank checks the refund bound when the refund arrives but posts it
    /// in a later step, so two racing refunds both pass the check.
    RefundBoundRace,
    /// The terminal does not persist its STAN counter: after a reboot it
    /// reuses trace numbers.
    StanNotPersisted,
    /// The terminal drops a reversal after a few unacknowledged tries.
    ReversalQueueGivesUp,
    /// The bank allows a void after the sale was settled.
    VoidAfterSettlement,
    /// The bank credits the merchant again on a repeated settlement.
    BatchSettledTwice,
    /// A decline that leaves part of its posting behind.
    DeclinePartialPosting,
    /// The switch accepts messages without verifying their MAC.
    MacNotVerified,
    /// The bank's calendar counts a card as valid through the month after
    /// its expiry month.
    BankExpiryOffByOneMonth,
    /// The bank refunds a voided sale: its refund check looks only at the
    /// refundable remainder, which a void does not change.
    RefundAfterVoid,
}

impl Bug {
    /// Every bug, in catalogue order.
    pub const ALL: [Bug; 17] = [
        Bug::SwitchNoDedupe,
        Bug::BankNotIdempotent,
        Bug::BankReplyBeforeSync,
        Bug::TerminalJournalAfterSend,
        Bug::TerminalTimeoutAsDecline,
        Bug::ReversalEveryCopy,
        Bug::ReversalUnknownIgnored,
        Bug::RefundBoundUnchecked,
        Bug::RefundBoundRace,
        Bug::StanNotPersisted,
        Bug::ReversalQueueGivesUp,
        Bug::VoidAfterSettlement,
        Bug::BatchSettledTwice,
        Bug::DeclinePartialPosting,
        Bug::MacNotVerified,
        Bug::BankExpiryOffByOneMonth,
        Bug::RefundAfterVoid,
    ];

    /// The name used on the command line and in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Bug::SwitchNoDedupe => "switch-no-dedupe",
            Bug::BankNotIdempotent => "bank-not-idempotent",
            Bug::BankReplyBeforeSync => "bank-reply-before-sync",
            Bug::TerminalJournalAfterSend => "terminal-journal-after-send",
            Bug::TerminalTimeoutAsDecline => "terminal-timeout-as-decline",
            Bug::ReversalEveryCopy => "reversal-every-copy",
            Bug::ReversalUnknownIgnored => "reversal-unknown-ignored",
            Bug::RefundBoundUnchecked => "refund-bound-unchecked",
            Bug::RefundBoundRace => "refund-bound-race",
            Bug::StanNotPersisted => "stan-not-persisted",
            Bug::ReversalQueueGivesUp => "reversal-queue-gives-up",
            Bug::VoidAfterSettlement => "void-after-settlement",
            Bug::BatchSettledTwice => "batch-settled-twice",
            Bug::DeclinePartialPosting => "decline-partial-posting",
            Bug::MacNotVerified => "mac-not-verified",
            Bug::BankExpiryOffByOneMonth => "bank-expiry-off-by-one-month",
            Bug::RefundAfterVoid => "refund-after-void",
        }
    }

    /// The incident class of `INCIDENTS.md` this bug causes.
    pub fn incident(self) -> char {
        match self {
            Bug::RefundBoundUnchecked | Bug::RefundBoundRace | Bug::RefundAfterVoid => 'A',
            Bug::BankNotIdempotent | Bug::BankReplyBeforeSync => 'A',
            Bug::TerminalJournalAfterSend | Bug::DeclinePartialPosting => 'B',
            Bug::SwitchNoDedupe | Bug::TerminalTimeoutAsDecline | Bug::ReversalEveryCopy => 'C',
            Bug::ReversalUnknownIgnored | Bug::StanNotPersisted | Bug::ReversalQueueGivesUp => 'C',
            Bug::MacNotVerified | Bug::BankExpiryOffByOneMonth => 'D',
            Bug::VoidAfterSettlement | Bug::BatchSettledTwice => 'E',
        }
    }

    /// One line on what goes wrong.
    pub fn summary(self) -> &'static str {
        match self {
            Bug::SwitchNoDedupe => {
                "switch forwards every copy of a request: a retransmitted sale debits twice"
            }
            Bug::BankNotIdempotent => {
                "bank posts again on a repeat: a retried refund is refunded twice or shows 13"
            }
            Bug::BankReplyBeforeSync => {
                "bank replies before its journal is synced: a crash forgets an acknowledged posting"
            }
            Bug::TerminalJournalAfterSend => {
                "terminal journals after sending: a crash leaves a debit nobody reverses"
            }
            Bug::TerminalTimeoutAsDecline => {
                "terminal shows a timeout as a decline and never reverses: failed but debited"
            }
            Bug::ReversalEveryCopy => {
                "bank undoes the original on every reversal copy: the card is credited twice"
            }
            Bug::ReversalUnknownIgnored => {
                "bank ignores a reversal for an unknown original: the late original stays posted"
            }
            Bug::RefundBoundUnchecked => {
                "bank never checks the refundable remainder: refunds exceed the sale"
            }
            Bug::RefundBoundRace => {
                "refund bound checked outside the posting step: racing refunds exceed the sale"
            }
            Bug::StanNotPersisted => "terminal STAN counter not persisted: after a reboot keys collide",
            Bug::ReversalQueueGivesUp => {
                "terminal drops a reversal after a few tries: the debit is never undone"
            }
            Bug::VoidAfterSettlement => {
                "bank voids a settled sale: the merchant is paid and the card refunded"
            }
            Bug::BatchSettledTwice => {
                "bank settles a batch again on a repeated settlement: merchant paid twice"
            }
            Bug::DeclinePartialPosting => {
                "a declined refund leaves its merchant debit posted: money moves on a decline"
            }
            Bug::MacNotVerified => "switch skips MAC verification: a forged or corrupted message moves money",
            Bug::BankExpiryOffByOneMonth => {
                "bank's calendar accepts a card in the month after its expiry: an expired card is charged"
            }
            Bug::RefundAfterVoid => "bank refunds a voided sale: the cardholder gets the sale back twice",
        }
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Bug {
    type Err = String;

    fn from_str(text: &str) -> Result<Bug, String> {
        Bug::ALL
            .into_iter()
            .find(|bug| bug.name() == text)
            .ok_or_else(|| {
                let hint = crate::suggest::nearest(text, Bug::ALL.iter().map(|bug| bug.name()))
                    .map(|near| format!(" (did you mean `{near}`?)"))
                    .unwrap_or_default();
                format!("unknown bug `{text}`{hint}; `payfault bugs` lists them")
            })
    }
}

impl Bug {
    /// Each of `bugs` once, in catalogue order: how every command takes a
    /// repeated `--bug`.
    pub fn unique(bugs: &[Bug]) -> Vec<Bug> {
        Bugs::of(bugs.iter().copied()).iter().collect()
    }
}

/// The set of bugs switched on for a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bugs(BTreeSet<Bug>);

impl Bugs {
    /// No bugs: the correct system.
    pub fn none() -> Bugs {
        Bugs::default()
    }

    /// Exactly these bugs.
    pub fn of(bugs: impl IntoIterator<Item = Bug>) -> Bugs {
        Bugs(bugs.into_iter().collect())
    }

    /// Whether `bug` is switched on.
    pub fn has(&self, bug: Bug) -> bool {
        self.0.contains(&bug)
    }

    /// Whether no bug is switched on.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bugs switched on in `self` or in `other`.
    pub fn union(&self, other: &Bugs) -> Bugs {
        Bugs(self.0.union(&other.0).copied().collect())
    }

    /// The bugs switched on.
    pub fn iter(&self) -> impl Iterator<Item = Bug> + '_ {
        self.0.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse_back() {
        let names: BTreeSet<_> = Bug::ALL.iter().map(|bug| bug.name()).collect();
        assert_eq!(names.len(), Bug::ALL.len());
        for bug in Bug::ALL {
            assert_eq!(bug.name().parse::<Bug>(), Ok(bug));
            assert!(('A'..='E').contains(&bug.incident()));
        }
        assert!("no-such-bug".parse::<Bug>().is_err());
    }
}
