//! The checker: invariants over a run's [`History`], each its own named
//! check returning violations with the transaction keys and the evidence.
//!
//! It reads the history alone (never the simulation or node internals), so
//! the same checker judges simulated and live runs, and every check is
//! linear in the size of the history. It shares no code with the nodes it
//! judges: dates, expiry and days are its own (`calendar`'s), so a bank's
//! calendar bug is not copied into its judge.

mod calendar;
mod keys;
mod ledger;
mod model;
mod observed;
mod rules;
mod settlement;
mod view;

use observed::Observed;

use std::fmt;

use serde::Serialize;

use crate::history::History;
use crate::wire::types::TransactionKey;

/// The invariants, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Invariant {
    /// Every posting sums to zero per currency.
    DoubleEntry,
    /// The sum of all accounts per currency never changes, and the closing
    /// balances are the opening balances plus the postings.
    Conservation,
    /// At most one effect per transaction key and effect type; each batch
    /// settled at most once; each sale paid out at most once.
    AtMostOnce,
    /// Every copy and repeat of a request gets the same answer.
    SameAnswer,
    /// Declined requests move nothing.
    DeclinesMoveNothing,
    /// A reversal undoes exactly one real original, exactly.
    ReversalSoundness,
    /// Refunds of a sale never exceed it, in its currency.
    RefundBound,
    /// Everything given back to the cardholder for one sale (refunds, a
    /// void, a reversal) never exceeds the sale; a sale is voided at most
    /// once.
    SaleBound,
    /// Voids only before settlement, in full, and a voided sale is never
    /// paid out.
    VoidRule,
    /// What the terminal showed matches the ledger.
    CustomerView,
    /// After healing nothing is left pending, and every end-of-day batch
    /// close closes its batch.
    NoLimbo,
    /// Every movement of money belongs to a transaction some terminal showed
    /// a customer: nothing moves for a message no customer sent.
    ExplainedMoney,
    /// No approval breaks the card's or merchant's state, expiry, balance or
    /// limits, or the bank's maintenance, as they stood at that moment.
    CardRules,
    /// Whatever a node acknowledged survives its crashes: approvals are
    /// backed by postings, acknowledged reversals took effect.
    DurableAck,
    /// Each settlement pays the merchant exactly the live sales of its
    /// batch (as the requests show them), every acknowledged settlement
    /// pays or is visibly held, and clearing holds exactly what is not yet
    /// paid.
    SettlementExact,
    /// Every decision of a bank is the one the rules of its moment call
    /// for: no valid request declined, no invalid one approved.
    Availability,
    /// A request that reuses a known key with other content is never
    /// answered as the earlier one; an answer reaches only the terminal
    /// whose key it carries.
    KeyReuse,
}

impl Invariant {
    /// Every invariant, in report order.
    pub const ALL: [Invariant; 17] = [
        Invariant::DoubleEntry,
        Invariant::Conservation,
        Invariant::AtMostOnce,
        Invariant::SameAnswer,
        Invariant::DeclinesMoveNothing,
        Invariant::ReversalSoundness,
        Invariant::RefundBound,
        Invariant::SaleBound,
        Invariant::VoidRule,
        Invariant::SettlementExact,
        Invariant::CustomerView,
        Invariant::NoLimbo,
        Invariant::CardRules,
        Invariant::Availability,
        Invariant::DurableAck,
        Invariant::ExplainedMoney,
        Invariant::KeyReuse,
    ];

    /// Kebab-case name, as printed.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::DoubleEntry => "double-entry",
            Invariant::Conservation => "conservation",
            Invariant::AtMostOnce => "at-most-once",
            Invariant::SameAnswer => "same-answer",
            Invariant::DeclinesMoveNothing => "declines-move-nothing",
            Invariant::ReversalSoundness => "reversal-soundness",
            Invariant::RefundBound => "refund-bound",
            Invariant::SaleBound => "sale-bound",
            Invariant::SettlementExact => "settlement-exact",
            Invariant::Availability => "availability",
            Invariant::KeyReuse => "key-reuse",
            Invariant::VoidRule => "void-rule",
            Invariant::CustomerView => "customer-view",
            Invariant::NoLimbo => "no-limbo",
            Invariant::CardRules => "card-rules",
            Invariant::DurableAck => "durable-ack",
            Invariant::ExplainedMoney => "explained-money",
        }
    }

    /// Whether this invariant reads the requests that crossed the network
    /// (which sale a refund names, what a batch holds, what a bank was
    /// asked): without them it cannot be judged.
    fn needs_requests(self) -> bool {
        matches!(
            self,
            Invariant::RefundBound
                | Invariant::SaleBound
                | Invariant::VoidRule
                | Invariant::SettlementExact
                | Invariant::CustomerView
                | Invariant::CardRules
                | Invariant::Availability
                | Invariant::DurableAck
                | Invariant::KeyReuse
        )
    }

    fn run<'a>(self, history: &'a History, observed: &Observed<'a>) -> Vec<Violation> {
        match self {
            Invariant::DoubleEntry => ledger::double_entry(history),
            Invariant::Conservation => ledger::conservation(history),
            Invariant::AtMostOnce => ledger::at_most_once(history),
            Invariant::SameAnswer => view::same_answer(history),
            Invariant::DeclinesMoveNothing => view::declines_move_nothing(history),
            Invariant::ReversalSoundness => ledger::reversal_soundness(history),
            Invariant::RefundBound => ledger::refund_bound(history, observed),
            Invariant::SaleBound => settlement::sale_bound(history, observed),
            Invariant::VoidRule => ledger::void_rule(history, observed),
            Invariant::SettlementExact => settlement::settlement_exact(history, observed),
            Invariant::CustomerView => view::customer_view(history, observed),
            Invariant::NoLimbo => view::no_limbo(history),
            Invariant::CardRules => rules::card_rules(history, observed),
            Invariant::Availability => model::availability(history),
            Invariant::DurableAck => rules::durable_ack(history, observed),
            Invariant::ExplainedMoney => view::explained_money(history),
            Invariant::KeyReuse => keys::key_reuse(history),
        }
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One broken invariant, with what proves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which invariant.
    pub invariant: Invariant,
    /// The transactions concerned.
    pub keys: Vec<TransactionKey>,
    /// What is wrong, in one sentence.
    pub message: String,
    /// The evidence: postings, displays, answers, in words.
    pub evidence: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.invariant, self.message)?;
        for evidence in &self.evidence {
            write!(f, "\n    {evidence}")?;
        }
        Ok(())
    }
}

/// An invariant the history holds no evidence for: it was not judged,
/// which is not the same as passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotJudged {
    /// Which invariant.
    pub invariant: Invariant,
    /// The evidence that is missing.
    pub why: String,
}

/// The verdict on one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Every violation found, grouped by invariant in report order.
    pub violations: Vec<Violation>,
    /// The invariants that could not be judged, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_judged: Vec<NotJudged>,
}

impl Verdict {
    /// Whether every invariant that could be judged holds.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    /// The invariants that were violated, each once, in report order.
    pub fn violated(&self) -> Vec<Invariant> {
        let mut violated: Vec<Invariant> = self.violations.iter().map(|v| v.invariant).collect();
        violated.dedup();
        violated
    }
}

/// Why `invariant` cannot be judged on `history`, if it cannot.
fn missing_evidence(invariant: Invariant, history: &History, observed: &Observed) -> Option<String> {
    let something_happened =
        !history.shown.is_empty() || history.ledgers.iter().any(|ledger| !ledger.postings.is_empty());
    (invariant.needs_requests() && !observed.any && something_happened)
        .then(|| "the history holds no request that crossed the network".to_string())
}

/// Run every invariant over `history`.
pub fn check(history: &History) -> Verdict {
    let observed = Observed::of(history);
    let mut verdict = Verdict::default();
    for invariant in Invariant::ALL {
        match missing_evidence(invariant, history, &observed) {
            Some(why) => verdict.not_judged.push(NotJudged { invariant, why }),
            None => verdict.violations.extend(invariant.run(history, &observed)),
        }
    }
    verdict
}

/// Run one invariant (for tests and focused reports); nothing when it
/// cannot be judged.
pub fn check_one(invariant: Invariant, history: &History) -> Vec<Violation> {
    let observed = Observed::of(history);
    if missing_evidence(invariant, history, &observed).is_some() {
        return Vec::new();
    }
    invariant.run(history, &observed)
}
