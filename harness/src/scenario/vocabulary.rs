//! The words of a scenario file, each listed once: the operations and the
//! keys each one takes, the message-fault actions, the injections, the
//! outcomes an expectation names and the account states.
//!
//! Every closed set of names is a [`Named`] type: the one table of its
//! names serves the parser (name to value, the list a misspelling is
//! matched against), the writer (value to name) and the error messages.

use serde::Serialize;

use crate::node::bank::{CardState, MerchantState};
use crate::plan::{Direction, Injection};

/// A closed set of names a scenario file may write.
pub trait Named: Copy + PartialEq + 'static {
    /// Every value, in the order the docs list them.
    const ALL: &'static [Self];
    /// Every name, in the same order.
    const NAMES: &'static [&'static str];

    /// The name as written in files.
    fn name(self) -> &'static str;

    /// The value written as `text`, if any.
    fn from_name(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|value| value.name() == text)
    }
}

/// Implements [`Named`] for `$type` from one table of variants and names.
macro_rules! named {
    ($type:ident { $($variant:ident = $name:literal),* $(,)? }) => {
        impl Named for $type {
            const ALL: &'static [Self] = &[$($type::$variant),*];
            const NAMES: &'static [&'static str] = &[$($name),*];

            fn name(self) -> &'static str {
                match self {
                    $($type::$variant => $name),*
                }
            }
        }
    };
}

/// What an `[[operations]]` entry does: its `op`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    /// A card payment at a terminal.
    Sale,
    /// A refund of an earlier sale.
    Refund,
    /// A void of an earlier sale.
    Void,
    /// A balance inquiry.
    Balance,
    /// A batch close.
    CloseBatch,
    /// The bank freezes a card.
    FreezeCard,
    /// The bank unfreezes a card.
    UnfreezeCard,
    /// The bank blocks a card.
    BlockCard,
    /// The bank freezes a merchant.
    FreezeMerchant,
    /// The bank unfreezes a merchant.
    UnfreezeMerchant,
    /// The bank blacklists a merchant.
    BlacklistMerchant,
    /// The bank starts maintenance.
    BeginMaintenance,
    /// The bank ends maintenance.
    EndMaintenance,
}

named!(OperationKind {
    Sale = "sale",
    Refund = "refund",
    Void = "void",
    Balance = "balance",
    CloseBatch = "close_batch",
    FreezeCard = "freeze_card",
    UnfreezeCard = "unfreeze_card",
    BlockCard = "block_card",
    FreezeMerchant = "freeze_merchant",
    UnfreezeMerchant = "unfreeze_merchant",
    BlacklistMerchant = "blacklist_merchant",
    BeginMaintenance = "begin_maintenance",
    EndMaintenance = "end_maintenance",
});

impl OperationKind {
    /// The keys this operation takes beyond [`OperationKey::COMMON`], in
    /// the order its help lists them.
    pub fn keys(self) -> &'static [OperationKey] {
        use OperationKey::{Amount, Bank, Card, Currency, Expiry, Merchant, Of, Terminal};
        match self {
            OperationKind::Sale => &[Terminal, Card, Amount, Expiry],
            OperationKind::Refund => &[Terminal, Of, Amount],
            OperationKind::Void => &[Terminal, Of],
            OperationKind::Balance => &[Terminal, Card, Expiry, Currency],
            OperationKind::CloseBatch => &[Terminal],
            OperationKind::FreezeCard | OperationKind::UnfreezeCard | OperationKind::BlockCard => {
                &[Card, Bank]
            }
            OperationKind::FreezeMerchant
            | OperationKind::UnfreezeMerchant
            | OperationKind::BlacklistMerchant => &[Merchant, Bank],
            OperationKind::BeginMaintenance | OperationKind::EndMaintenance => &[Bank],
        }
    }

    /// Whether a terminal performs it (else a bank operator).
    pub fn at_terminal(self) -> bool {
        self.keys().contains(&OperationKey::Terminal)
    }
}

/// A key of an `[[operations]]` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKey {
    /// When ("250ms", "3s").
    At,
    /// What: an [`OperationKind`].
    Op,
    /// A name to refer to it.
    Id,
    /// The terminal (default TERM0001).
    Terminal,
    /// The card (sale, balance, card commands).
    Card,
    /// The expiry the terminal reads (default: the card's).
    Expiry,
    /// Amount with currency (sale, refund).
    Amount,
    /// The id of the sale a refund or void is about.
    Of,
    /// Currency of a balance inquiry (default EUR).
    Currency,
    /// The merchant (merchant commands).
    Merchant,
    /// The bank (operator commands; default bank-a).
    Bank,
}

named!(OperationKey {
    At = "at",
    Op = "op",
    Id = "id",
    Terminal = "terminal",
    Card = "card",
    Expiry = "expiry",
    Amount = "amount",
    Of = "of",
    Currency = "currency",
    Merchant = "merchant",
    Bank = "bank",
});

impl OperationKey {
    /// The keys every operation takes.
    pub const COMMON: [OperationKey; 3] = [OperationKey::At, OperationKey::Op, OperationKey::Id];
}

/// What a `[[faults.messages]]` rule does to the messages it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    /// Lose it.
    Drop,
    /// Deliver extra copies (`copies`).
    Duplicate,
    /// Deliver it late (`delay`).
    Delay,
    /// Deliver it, and a copy late (`delay`).
    Resend,
    /// Flip a byte (`offset`).
    Corrupt,
}

named!(ActionKind {
    Drop = "drop",
    Duplicate = "duplicate",
    Delay = "delay",
    Resend = "resend",
    Corrupt = "corrupt",
});

/// What a hostile host sends: the `kind` of a `[[faults.injections]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectionKind {
    /// A copy of a request seen on the link.
    Replay,
    /// A seen request with its amount changed.
    TamperAmount,
    /// A request made up from a seen one.
    Forge,
    /// An insider's seen request naming another terminal.
    InsiderOtherTerminal,
    /// An insider's refund of a sale nobody made.
    InsiderUnknownOriginal,
    /// An insider's void of a seen sale for a wrong amount.
    InsiderVoidAmount,
}

named!(InjectionKind {
    Replay = "replay",
    TamperAmount = "tamper_amount",
    Forge = "forge",
    InsiderOtherTerminal = "insider_other_terminal",
    InsiderUnknownOriginal = "insider_unknown_original",
    InsiderVoidAmount = "insider_void_amount",
});

impl InjectionKind {
    /// The injection of this kind, starting from the `nth` request seen.
    pub fn injection(self, nth: u32) -> Injection {
        match self {
            InjectionKind::Replay => Injection::Replay { nth },
            InjectionKind::TamperAmount => Injection::TamperAmount { nth },
            InjectionKind::Forge => Injection::Forge { nth },
            InjectionKind::InsiderOtherTerminal => Injection::InsiderOtherTerminal { nth },
            InjectionKind::InsiderUnknownOriginal => Injection::InsiderUnknownOriginal { nth },
            InjectionKind::InsiderVoidAmount => Injection::InsiderVoidAmount { nth },
        }
    }

    /// The kind of `injection` and the request it starts from.
    pub fn of(injection: &Injection) -> (InjectionKind, u32) {
        match *injection {
            Injection::Replay { nth } => (InjectionKind::Replay, nth),
            Injection::TamperAmount { nth } => (InjectionKind::TamperAmount, nth),
            Injection::Forge { nth } => (InjectionKind::Forge, nth),
            Injection::InsiderOtherTerminal { nth } => (InjectionKind::InsiderOtherTerminal, nth),
            Injection::InsiderUnknownOriginal { nth } => (InjectionKind::InsiderUnknownOriginal, nth),
            Injection::InsiderVoidAmount { nth } => (InjectionKind::InsiderVoidAmount, nth),
        }
    }
}

/// What the customer must be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShowKind {
    /// Approved.
    Approved,
    /// Declined (with a code, if given).
    Declined,
    /// Failed, reversed.
    FailedReversed,
    /// Refused by the terminal.
    Refused,
    /// Batch closed.
    BatchClosed,
}

named!(ShowKind {
    Approved = "approved",
    Declined = "declined",
    FailedReversed = "failed_reversed",
    Refused = "refused",
    BatchClosed = "batch_closed",
});

impl ShowKind {
    /// Name as written in files.
    pub fn name(self) -> &'static str {
        Named::name(self)
    }
}

named!(Direction {
    Request = "request",
    Response = "response",
});

named!(CardState {
    Active = "active",
    Frozen = "frozen",
    NotActivated = "not_activated",
    Blocked = "blocked",
});

named!(MerchantState {
    Active = "active",
    Frozen = "frozen",
    Blacklisted = "blacklisted",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_reads_back_as_its_value() {
        fn check<T: Named + std::fmt::Debug>() {
            assert_eq!(T::ALL.len(), T::NAMES.len());
            for (value, name) in T::ALL.iter().zip(T::NAMES) {
                assert_eq!(value.name(), *name);
                assert_eq!(T::from_name(name), Some(*value));
            }
        }
        check::<OperationKind>();
        check::<OperationKey>();
        check::<ActionKind>();
        check::<InjectionKind>();
        check::<ShowKind>();
        check::<Direction>();
        check::<CardState>();
        check::<MerchantState>();
    }

    #[test]
    fn show_kinds_serialize_as_their_file_names() {
        for kind in ShowKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.name());
        }
    }
}
