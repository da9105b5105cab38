//! Coverage marks: named situations in node code, in the world and in the
//! checker, counted per run, so that exploration can say which situations
//! its workloads and faults built and which they never did (FoundationDB's
//! code probes, TigerBeetle's coverage marks, Antithesis's "sometimes"
//! assertions).
//!
//! The catalogue is the one table below: each [`Mark`] has a name (e.g.
//! `bank.refund.exact_remainder`), the [`Site`] whose code passes it, and a
//! one-line meaning. Code marks a situation with [`hit`]:
//!
//! ```
//! use payfault::cover::{self, Mark};
//!
//! cover::reset();
//! cover::hit(Mark::BankRefundExactRemainder);
//! let counts = cover::take();
//! assert_eq!(counts.get(Mark::BankRefundExactRemainder), 1);
//! assert_eq!(cover::take().get(Mark::BankRefundExactRemainder), 0);
//! ```
//!
//! A hit is an increment of a thread-local array slot: no allocation, no
//! formatting, no hashing, and it changes no decision and no trace. A run
//! executes on one thread (exploration runs several seeds at once, each
//! alone on one worker), so `run::run` [`reset`]s the counters when a run
//! starts and [`take`]s them when it ends: the counts are the run's own,
//! whatever ran before on that thread. docs/coverage.md says how to add a
//! mark.
//!
//! This module is a leaf: it names no other module of the crate, and every
//! layer may name it.

use std::cell::Cell;
use std::fmt;

/// Whose code passes a mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Site {
    /// The POS terminal (`node/terminal/`).
    Terminal,
    /// The payment switch (`node/switch/`).
    Switch,
    /// The bank (`node/bank/`).
    Bank,
    /// A node's journal (`node/journal.rs`).
    Journal,
    /// The simulated world (`sim/`): crashes at crash points, evidence.
    World,
    /// The checker (`check/`): situations it judged.
    Checker,
}

impl Site {
    /// The site's name as listed.
    pub fn name(self) -> &'static str {
        match self {
            Site::Terminal => "terminal",
            Site::Switch => "switch",
            Site::Bank => "bank",
            Site::Journal => "journal",
            Site::World => "world",
            Site::Checker => "checker",
        }
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Declares the catalogue: the [`Mark`] enum, its name, site and meaning
/// per variant, and [`Mark::ALL`] in declaration order.
macro_rules! marks {
    ($($variant:ident = $name:literal, $site:ident, $meaning:literal;)*) => {
        /// A named situation that node code, the world or the checker
        /// marks with [`hit`] when it happens.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Mark {
            $(
                #[doc = $meaning]
                $variant,
            )*
        }

        impl Mark {
            /// Every mark, in catalogue order.
            pub const ALL: &'static [Mark] = &[$(Mark::$variant,)*];

            /// The mark's name, e.g. `bank.refund.exact_remainder`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Mark::$variant => $name,)*
                }
            }

            /// Whose code passes it.
            pub fn site(self) -> Site {
                match self {
                    $(Mark::$variant => Site::$site,)*
                }
            }

            /// What it means, in one line.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(Mark::$variant => $meaning,)*
                }
            }
        }
    };
}

marks! {
    // The bank: every answer it gives and every state change of a sale.
    BankSaleApproved = "bank.sale.approved", Bank, "a sale approved: the card pays clearing";
    BankCardUnknown14 = "bank.card.unknown_14", Bank, "a sale or balance inquiry for a card the bank does not issue: 14";
    BankCardExpired54 = "bank.card.expired_54", Bank, "a card expired or with another DE14: 54";
    BankCardNotPermitted57 = "bank.card.not_permitted_57", Bank, "a frozen or not activated card: 57";
    BankCardBlocked62 = "bank.card.blocked_62", Bank, "a blocked card: 62";
    BankSaleMerchantRefused58 = "bank.sale.merchant_refused_58", Bank, "a sale at an unknown or blacklisted merchant: 58";
    BankSaleAmount13 = "bank.sale.amount_13", Bank, "a sale of zero or in another currency than the card's: 13";
    BankSaleLimit61 = "bank.sale.limit_61", Bank, "a sale over the card's transaction or daily limit: 61";
    BankSaleFrequency65 = "bank.sale.frequency_65", Bank, "a sale over the card's daily count: 65";
    BankSaleMaintenance91 = "bank.sale.maintenance_91", Bank, "a sale during maintenance: 91";
    BankSaleFunds51 = "bank.sale.funds_51", Bank, "a sale over the card's balance: 51";
    BankTombstoneConsumed = "bank.tombstone.consumed", Bank, "a late original of a reversed transaction meets its tombstone: 12";
    BankOriginalUnknown12 = "bank.original.unknown_12", Bank, "a refund or void naming no sale the bank knows: 12";
    BankOriginalNotLive12 = "bank.original.not_live_12", Bank, "a refund or void naming a declined, reversed or other party's sale: 12";
    BankRefundVoided12 = "bank.refund.voided_12", Bank, "a refund of a voided sale: 12";
    BankRefundWindow12 = "bank.refund.window_12", Bank, "a refund after the merchant's refund window: 12";
    BankRefundOverRemaining13 = "bank.refund.over_remaining_13", Bank, "a refund over what is left of the sale: 13";
    BankRefundOverCap13 = "bank.refund.over_cap_13", Bank, "a refund over the merchant's refund cap: 13";
    BankRefundAmount13 = "bank.refund.amount_13", Bank, "a refund of zero or in another currency than the sale: 13";
    BankRefundMerchant58 = "bank.refund.merchant_58", Bank, "a refund for a merchant that is not active: 58";
    BankRefundDailyLimit61 = "bank.refund.daily_limit_61", Bank, "a refund over the merchant's daily refund limit: 61";
    BankRefundMaintenance91 = "bank.refund.maintenance_91", Bank, "a refund during maintenance: 91";
    BankRefundMerchantShort51 = "bank.refund.merchant_short_51", Bank, "a refund over the merchant's balance: 51";
    BankRefundPartial = "bank.refund.partial", Bank, "a refund approved for less than what is left of the sale";
    BankRefundExactRemainder = "bank.refund.exact_remainder", Bank, "a refund approved for exactly what is left of the sale";
    BankRefundAfterRefund = "bank.refund.after_refund", Bank, "a refund approved on a sale refunded before";
    BankVoidSettled12 = "bank.void.settled_12", Bank, "a void of a sale already settled: 12";
    BankVoidRefunded12 = "bank.void.refunded_12", Bank, "a void of a sale refunded in part: 12";
    BankVoidVoided12 = "bank.void.voided_12", Bank, "a void of a sale voided already: 12";
    BankVoidAmount13 = "bank.void.amount_13", Bank, "a void for another amount than the sale's: 13";
    BankVoidMaintenance91 = "bank.void.maintenance_91", Bank, "a void during maintenance: 91";
    BankVoidApproved = "bank.void.approved", Bank, "a void approved: clearing pays the card back";
    BankBalanceApproved = "bank.balance.approved", Bank, "a balance inquiry answered with the balance";
    BankBalanceMaintenance91 = "bank.balance.maintenance_91", Bank, "a balance inquiry during maintenance: 91";
    BankRepeatStored = "bank.repeat.stored", Bank, "a copy or repeat of a financial request answered from the stored response";
    BankReversalSale = "bank.reversal.sale", Bank, "a reversal undoes an approved sale";
    BankReversalSaleRefunded = "bank.reversal.sale_refunded", Bank, "a reversal undoes a sale refunded in part (the merchant is reimbursed)";
    BankReversalSalePaid = "bank.reversal.sale_paid", Bank, "a reversal undoes a sale already paid out (the merchant pays it back)";
    BankReversalSaleVoided = "bank.reversal.sale_voided", Bank, "a reversal of a voided sale moves nothing more";
    BankReversalRefund = "bank.reversal.refund", Bank, "a reversal undoes an approved refund";
    BankReversalVoid = "bank.reversal.void", Bank, "a reversal undoes an approved void";
    BankReversalDeclined = "bank.reversal.original_declined", Bank, "a reversal of a declined original: nothing to undo";
    BankTombstoneCreated = "bank.tombstone.created", Bank, "a reversal of an original never seen leaves a tombstone";
    BankReversalCopy = "bank.reversal.copy", Bank, "a copy of a reversal already applied (or tombstoned) is acknowledged again";
    BankSettlementPaid = "bank.settlement.paid", Bank, "a settlement whose totals agree pays the merchant";
    BankSettlementCreditsAndDebits = "bank.settlement.credits_and_debits", Bank, "a settlement paid with both sales and refunds in it";
    BankSettlementHeld = "bank.settlement.held", Bank, "a settlement for a merchant that is not active is held in clearing";
    BankSettlementHeldPaid = "bank.settlement.held_paid", Bank, "a held settlement is paid when its merchant is active again";
    BankSettlementMismatch95 = "bank.settlement.mismatch_95", Bank, "a settlement whose totals disagree with the bank's: 95";
    BankSettlementRepeat = "bank.settlement.repeat", Bank, "a repeat of a settled batch answered from the stored 0510";
    BankRefusedSecurity63 = "bank.refused.security_63", Bank, "a message with a bad MAC answered 63";
    BankRefusedMalformed = "bank.refused.malformed", Bank, "an authentic message the bank cannot read answered with its error code";
    BankCommandApplied = "bank.command.applied", Bank, "an operator command changed a card, a merchant or maintenance";
    BankRecovered = "bank.recovered", Bank, "a bank rebuilt from its journal after a crash";
    BankStanOnTwoTerminals = "bank.stan.two_terminals", Bank, "two terminals used the same STAN on the same day and the bank kept them apart";
    // The switch.
    SwitchForwarded = "switch.forwarded", Switch, "a financial request journalled and forwarded to its bank";
    SwitchRepeatStored = "switch.repeat.stored", Switch, "a copy of an answered request answered from the stored answer";
    SwitchRepeatInFlight = "switch.repeat.in_flight", Switch, "a copy of a request still in flight is not forwarded again";
    SwitchTombstoneConsumed = "switch.tombstone.consumed", Switch, "a request its terminal reversed before the switch saw it: 12";
    SwitchVoidWhileSettling12 = "switch.void.while_settling_12", Switch, "a void of a sale whose batch is being settled: 12";
    SwitchNoRoute14 = "switch.no_route_14", Switch, "a card no bank issues: 14 locally";
    SwitchPendingMax91 = "switch.pending_max_91", Switch, "too much in flight and queued: 91 locally, not forwarded";
    SwitchAnswerApproved = "switch.answer.approved", Switch, "a bank's approval journalled and relayed";
    SwitchAnswerDeclined = "switch.answer.declined", Switch, "a bank's decline journalled and relayed";
    SwitchAnswerIgnored = "switch.answer.ignored", Switch, "a late (after 91) or duplicate bank answer changes nothing";
    SwitchBankTimeout91 = "switch.bank_timeout_91", Switch, "a bank did not answer in time: 91 to the terminal and a queued reversal";
    SwitchTimeoutAtBoot = "switch.timeout_at_boot", Switch, "requests in flight at a crash timed out when the switch boots";
    SwitchTerminalReversal = "switch.reversal.from_terminal", Switch, "a terminal's reversal journalled, acknowledged and queued toward the bank";
    SwitchTombstoneCreated = "switch.tombstone.created", Switch, "a terminal reversed a request the switch never saw: a tombstone";
    SwitchReversalCopy = "switch.reversal.copy", Switch, "a copy of a terminal reversal already taken is acknowledged again";
    SwitchSafSent = "switch.saf.sent", Switch, "a queued reversal sent to its bank (0420)";
    SwitchSafRetried = "switch.saf.retried", Switch, "a queued reversal sent again (0421)";
    SwitchSafAcknowledged = "switch.saf.acknowledged", Switch, "a bank acknowledged a queued reversal (0430)";
    SwitchSettlementWaits = "switch.settlement.waits_for_reversal", Switch, "a settlement held back while a reversal to its bank is pending";
    SwitchSettlementSent = "switch.settlement.sent", Switch, "a settlement sent to the acquiring bank (0500)";
    SwitchSettlementRetried = "switch.settlement.retried", Switch, "a settlement sent again (0501)";
    SwitchSettlementApproved = "switch.settlement.approved", Switch, "the acquiring bank answered a settlement 00";
    SwitchSettlementMismatch95 = "switch.settlement.mismatch_95", Switch, "the acquiring bank answered a settlement 95";
    SwitchSettlementNoDecision = "switch.settlement.no_decision", Switch, "an answer to a settlement that decides nothing (63, 30, another key) is ignored";
    SwitchCloseRepeat = "switch.close.repeat", Switch, "a close of a closed batch answered from the stored 0510";
    SwitchCloseAgreed = "switch.close.agreed", Switch, "a close whose totals agree with the capture: closed";
    SwitchCloseMismatch95 = "switch.close.mismatch_95", Switch, "a close whose totals disagree: 95 and an upload round";
    SwitchCloseAfterUpload = "switch.close.after_upload", Switch, "a close after a complete upload: the upload replaces the capture";
    SwitchCloseUncaptured = "switch.close.uncaptured", Switch, "captured items missing from the upload are reversed";
    SwitchCloseDiscrepancy = "switch.close.discrepancy", Switch, "uploaded items never seen approved are discrepancies, not settled";
    SwitchUploadStored = "switch.upload.stored", Switch, "an upload item journalled and acknowledged";
    SwitchUploadCopy = "switch.upload.copy", Switch, "a copy of an upload item acknowledged again";
    SwitchUploadRefused12 = "switch.upload.refused_12", Switch, "an upload item outside an upload round: 12";
    SwitchRefusedSecurity63 = "switch.refused.security_63", Switch, "a message with a bad MAC answered 63";
    SwitchRefusedMalformed = "switch.refused.malformed", Switch, "an authentic message the switch cannot read answered with its error code";
    SwitchRefusedWrongTerminal12 = "switch.refused.wrong_terminal_12", Switch, "a message naming another terminal than its link's: 12";
    SwitchRecovered = "switch.recovered", Switch, "the switch rebuilt from its journal after a crash";
    // The terminal.
    TerminalRequestSent = "terminal.request.sent", Terminal, "a financial request journalled pending and sent";
    TerminalRefusedInDoubt = "terminal.refused.in_doubt", Terminal, "a sale or refund refused while the batch close is in doubt";
    TerminalRefusedCurrency = "terminal.refused.currency", Terminal, "a sale in another currency than the terminal's refused";
    TerminalRefusedUnknownOriginal = "terminal.refused.unknown_original", Terminal, "a refund or void of an operation this terminal does not know refused";
    TerminalRefusedNotApproved = "terminal.refused.not_approved", Terminal, "a refund or void of a sale not shown approved refused";
    TerminalRefusedVoidClosedBatch = "terminal.refused.void_closed_batch", Terminal, "a void of a sale in a closed batch refused";
    TerminalRefusedQueueFull = "terminal.refused.queue_full", Terminal, "a command refused because the queue is full";
    TerminalRefusedRestarted = "terminal.refused.restarted", Terminal, "a queued command refused because the terminal restarted";
    TerminalApproved = "terminal.answer.approved", Terminal, "an approval recorded and shown";
    TerminalDeclined = "terminal.answer.declined", Terminal, "a decline recorded and shown";
    TerminalNoAnswer = "terminal.answer.no_answer", Terminal, "a 68 or 96 answer: failed, reversed";
    TerminalMessageRejected = "terminal.answer.message_rejected", Terminal, "a 63 or 30 answer (a copy rejected, not the transaction): failed, reversed";
    TerminalApprovalWithoutCode = "terminal.answer.without_approval_code", Terminal, "an approval without DE38 is no answer";
    TerminalTimeout = "terminal.timeout", Terminal, "no answer in time: failed, reversed";
    TerminalBootReversed = "terminal.boot.reversed", Terminal, "a request pending at a crash is reversed at boot";
    TerminalBootShown = "terminal.boot.shown", Terminal, "a result decided but not shown before a crash is shown at boot";
    TerminalReversalSent = "terminal.reversal.sent", Terminal, "a queued reversal sent (0420, or 0421 after a boot)";
    TerminalReversalRetried = "terminal.reversal.retried", Terminal, "a reversal sent again (0421)";
    TerminalReversalAcknowledged = "terminal.reversal.acknowledged", Terminal, "a reversal acknowledged (0430 00)";
    TerminalCloseStarted = "terminal.close.started", Terminal, "a batch close journalled and sent (0500)";
    TerminalCloseInDoubtRepeated = "terminal.close.in_doubt_repeated", Terminal, "a close in doubt repeated with the earlier close's key (0501)";
    TerminalCloseResent = "terminal.close.resent", Terminal, "a close or upload step sent again after no answer";
    TerminalClosed = "terminal.close.closed", Terminal, "the batch closed at once (0510 00)";
    TerminalClosedAfterUpload = "terminal.close.closed_after_upload", Terminal, "the batch closed after an upload round";
    TerminalCloseMismatch95 = "terminal.close.mismatch_95", Terminal, "a 95 to the close: the items are uploaded";
    TerminalUploadAcknowledged = "terminal.upload.acknowledged", Terminal, "an upload item acknowledged (0330 00)";
    TerminalUploadDeclined = "terminal.upload.declined", Terminal, "an upload item declined: the close fails";
    TerminalCloseDeclined = "terminal.close.declined", Terminal, "a close answered with another code: the close fails";
    TerminalCloseMessageRejected = "terminal.close.message_rejected", Terminal, "a 63 or 30 to a close or upload step is no answer";
    TerminalCloseInDoubt = "terminal.close.in_doubt", Terminal, "a close unanswered after every attempt: the batch stays open, its close in doubt";
    TerminalRecovered = "terminal.recovered", Terminal, "a terminal rebuilt from its journal after a crash";
    // Journals.
    JournalTailDiscarded = "journal.tail_discarded", Journal, "a torn, partial or corrupt record at a journal's end discarded at boot";
    // Crashes at each crash point (sim/driver.rs).
    CrashTerminalRequest = "crash.terminal.request.after_sync_before_send", World, "a terminal crashed after journalling a request, before sending it";
    CrashTerminalAnswerBeforeRecord = "crash.terminal.answer.before_record", World, "a terminal crashed with an answer not yet journalled";
    CrashTerminalAnswerBeforeShow = "crash.terminal.answer.after_sync_before_show", World, "a terminal crashed after journalling an answer, before showing it";
    CrashTerminalReversal = "crash.terminal.reversal.after_sync_before_send", World, "a terminal crashed before sending a queued reversal";
    CrashTerminalBatch = "crash.terminal.batch.after_sync_before_send", World, "a terminal crashed after journalling a close, before sending it";
    CrashSwitchForward = "crash.switch.forward.after_sync_before_send", World, "the switch crashed after journalling a forward, before sending it";
    CrashSwitchAnswer = "crash.switch.answer.after_sync_before_reply", World, "the switch crashed after journalling a bank answer, before relaying it";
    CrashSwitchTimeout = "crash.switch.timeout.after_sync_before_reply", World, "the switch crashed after journalling a timeout, before answering 91";
    CrashSwitchReversal = "crash.switch.reversal.after_sync_before_ack", World, "the switch crashed after journalling a terminal reversal, before acknowledging it";
    CrashSwitchClose = "crash.switch.close.after_sync_before_reply", World, "the switch crashed after journalling a close, before answering it";
    CrashSwitchUpload = "crash.switch.upload.after_sync_before_reply", World, "the switch crashed after journalling an upload item, before acknowledging it";
    CrashSwitchSettle = "crash.switch.settle.after_sync_before_send", World, "the switch crashed after closing a batch, before sending its settlement";
    CrashBankPostBeforeSync = "crash.bank.post.before_sync", World, "a bank crashed with a decision not yet synced";
    CrashBankPostBeforeReply = "crash.bank.post.after_sync_before_reply", World, "a bank crashed after syncing a decision, before answering";
    CrashBankReversalBeforeSync = "crash.bank.reversal.before_sync", World, "a bank crashed with a reversal not yet synced";
    CrashBankReversalBeforeReply = "crash.bank.reversal.after_sync_before_reply", World, "a bank crashed after syncing a reversal, before acknowledging it";
    CrashBankSettleBeforeSync = "crash.bank.settle.before_sync", World, "a bank crashed with a settlement not yet synced";
    CrashBankSettleBeforeReply = "crash.bank.settle.after_sync_before_reply", World, "a bank crashed after syncing a settlement, before answering it";
    // The checker.
    CheckRefundsSummed = "check.refund.several", Checker, "the refund bound judged a sale with more than one live refund";
    CheckRefundedInFull = "check.refund.in_full", Checker, "the refund bound judged a sale refunded to its whole amount";
}

/// How many marks the catalogue has.
pub const MARK_COUNT: usize = Mark::ALL.len();

/// Why the generated workloads and faults do not reach a mark yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreached {
    /// A request our terminal never builds (it checks its originals and
    /// the amounts itself), and no insider injection (`insider_*`) makes
    /// yet: a foreign or misbehaving terminal sends it.
    TerminalNeverBuilds,
    /// An answer our switch and bank never give: a foreign peer gives it.
    NobodyAnswers,
    /// The 95 and upload path: our terminal sends its queued reversals
    /// before a close, so the switch's totals always match; a terminal
    /// that closes first is a design question still open (the repeat of a
    /// close after an upload reuses the close's key, so one key gets 95
    /// and then 00).
    UploadPath,
    /// Reachable, but no generator draws it yet.
    NotDrawnYet,
}

impl Unreached {
    /// In a QA tester's words.
    pub fn reason(self) -> &'static str {
        match self {
            Unreached::TerminalNeverBuilds => {
                "a request the reference terminal never builds and no insider injection makes yet"
            }
            Unreached::NobodyAnswers => "an answer no reference node gives",
            Unreached::UploadPath => {
                "the 95 and upload path (the reference terminal reverses before it closes)"
            }
            Unreached::NotDrawnYet => "reachable, not drawn by the generator yet",
        }
    }
}

/// The marks that exploration of the reference nodes does not reach yet,
/// each with its reason: the worklist of the generator and of foreign
/// peers. `--require` asks for every other mark, and names any of these
/// that a run reached (it belongs off this list then).
pub const NOT_REACHED_YET: &[(Mark, Unreached)] = &[
    (Mark::BankReversalSaleRefunded, Unreached::TerminalNeverBuilds),
    (Mark::BankReversalSalePaid, Unreached::TerminalNeverBuilds),
    (Mark::BankReversalSaleVoided, Unreached::TerminalNeverBuilds),
    (Mark::BankRefusedMalformed, Unreached::TerminalNeverBuilds),
    (Mark::TerminalNoAnswer, Unreached::NobodyAnswers),
    (Mark::TerminalApprovalWithoutCode, Unreached::NobodyAnswers),
    (Mark::TerminalCloseDeclined, Unreached::NobodyAnswers),
    (Mark::BankSettlementMismatch95, Unreached::UploadPath),
    (Mark::SwitchSettlementMismatch95, Unreached::UploadPath),
    (Mark::SwitchCloseMismatch95, Unreached::UploadPath),
    (Mark::SwitchCloseAfterUpload, Unreached::UploadPath),
    (Mark::SwitchCloseUncaptured, Unreached::UploadPath),
    (Mark::SwitchCloseDiscrepancy, Unreached::UploadPath),
    (Mark::SwitchUploadStored, Unreached::UploadPath),
    (Mark::SwitchUploadCopy, Unreached::UploadPath),
    (Mark::SwitchUploadRefused12, Unreached::UploadPath),
    (Mark::TerminalClosedAfterUpload, Unreached::UploadPath),
    (Mark::TerminalCloseMismatch95, Unreached::UploadPath),
    (Mark::TerminalUploadAcknowledged, Unreached::UploadPath),
    (Mark::TerminalUploadDeclined, Unreached::UploadPath),
    (Mark::CrashSwitchUpload, Unreached::UploadPath),
    (Mark::SwitchPendingMax91, Unreached::NotDrawnYet),
    (Mark::SwitchSettlementNoDecision, Unreached::NotDrawnYet),
];

impl Mark {
    /// Why exploration does not reach this mark yet, if it is on
    /// [`NOT_REACHED_YET`].
    pub fn not_reached_yet(self) -> Option<Unreached> {
        NOT_REACHED_YET
            .iter()
            .find(|(mark, _)| *mark == self)
            .map(|(_, why)| *why)
    }
}

impl Mark {
    /// The mark of a crash at the crash point `point` (e.g.
    /// `bank.post.before_sync`), if the catalogue has one.
    pub fn crash_at(point: &str) -> Option<Mark> {
        Mark::ALL
            .iter()
            .copied()
            .filter(|mark| mark.site() == Site::World)
            .find(|mark| mark.name().strip_prefix("crash.") == Some(point))
    }

    /// The mark named `name`, if any.
    pub fn named(name: &str) -> Option<Mark> {
        Mark::ALL.iter().copied().find(|mark| mark.name() == name)
    }
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

thread_local! {
    static COUNTS: [Cell<u64>; MARK_COUNT] = const { [const { Cell::new(0) }; MARK_COUNT] };
}

/// The situation `mark` happened: count it for the run on this thread.
#[inline]
pub fn hit(mark: Mark) {
    COUNTS.with(|counts| {
        let slot = &counts[mark as usize];
        slot.set(slot.get().wrapping_add(1));
    });
}

/// [`hit`] `mark` when `happened` (one line where a branch would be
/// noise, e.g. in the checker).
#[inline]
pub fn hit_if(happened: bool, mark: Mark) {
    if happened {
        hit(mark);
    }
}

/// [`hit`] `when_true` if `condition` holds, else `when_false`: the two
/// sides of one decision in one line.
#[inline]
pub fn hit_either(condition: bool, when_true: Mark, when_false: Mark) {
    hit(if condition { when_true } else { when_false });
}

/// Start counting afresh on this thread (a run begins).
pub fn reset() {
    COUNTS.with(|counts| counts.iter().for_each(|slot| slot.set(0)));
}

/// The counts on this thread since the last [`reset`], and start afresh
/// (a run ends).
pub fn take() -> Counts {
    let mut taken = Counts::default();
    COUNTS.with(|counts| {
        for (total, slot) in taken.hits.iter_mut().zip(counts) {
            *total = slot.replace(0);
        }
    });
    taken
}

/// How often each mark was hit: in one run, or summed over many.
#[derive(Clone, PartialEq, Eq)]
pub struct Counts {
    hits: [u64; MARK_COUNT],
}

impl Default for Counts {
    fn default() -> Counts {
        Counts {
            hits: [0; MARK_COUNT],
        }
    }
}

impl fmt::Debug for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .filter(|(_, hits)| *hits > 0)
                    .map(|(mark, hits)| (mark.name(), hits)),
            )
            .finish()
    }
}

impl Counts {
    /// How often `mark` was hit.
    pub fn get(&self, mark: Mark) -> u64 {
        self.hits[mark as usize]
    }

    /// Add another run's counts to these.
    pub fn add(&mut self, other: &Counts) {
        for (total, hits) in self.hits.iter_mut().zip(&other.hits) {
            *total = total.saturating_add(*hits);
        }
    }

    /// Every mark with its count, in catalogue order.
    pub fn iter(&self) -> impl Iterator<Item = (Mark, u64)> + '_ {
        Mark::ALL.iter().map(|mark| (*mark, self.get(*mark)))
    }

    /// The marks never hit, in catalogue order.
    pub fn never_hit(&self) -> Vec<Mark> {
        self.iter()
            .filter(|(_, hits)| *hits == 0)
            .map(|(mark, _)| mark)
            .collect()
    }

    /// How many marks were hit at least once.
    pub fn marks_hit(&self) -> usize {
        self.hits.iter().filter(|hits| **hits > 0).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hit_counts_and_take_starts_afresh() {
        reset();
        hit(Mark::BankSaleApproved);
        hit(Mark::BankSaleApproved);
        hit(Mark::SwitchForwarded);
        let counts = take();
        assert_eq!(counts.get(Mark::BankSaleApproved), 2);
        assert_eq!(counts.get(Mark::SwitchForwarded), 1);
        assert_eq!(counts.get(Mark::TerminalApproved), 0);
        assert_eq!(counts.marks_hit(), 2);
        assert_eq!(take(), Counts::default());
        hit(Mark::TerminalApproved);
        reset();
        assert_eq!(take().marks_hit(), 0);
    }

    #[test]
    fn counts_are_per_thread() {
        reset();
        hit(Mark::BankSaleApproved);
        let other = std::thread::spawn(|| {
            hit(Mark::SwitchForwarded);
            take()
        })
        .join()
        .unwrap();
        assert_eq!(other.get(Mark::SwitchForwarded), 1);
        assert_eq!(other.get(Mark::BankSaleApproved), 0);
        let mine = take();
        assert_eq!(mine.get(Mark::BankSaleApproved), 1);
        assert_eq!(mine.get(Mark::SwitchForwarded), 0);
    }

    #[test]
    fn sums_add_up_and_never_hit_lists_the_rest() {
        reset();
        hit(Mark::BankSaleApproved);
        let mut total = take();
        hit(Mark::BankSaleApproved);
        hit(Mark::CheckRefundsSummed);
        total.add(&take());
        assert_eq!(total.get(Mark::BankSaleApproved), 2);
        assert_eq!(total.get(Mark::CheckRefundsSummed), 1);
        let never = total.never_hit();
        assert_eq!(never.len(), MARK_COUNT - 2);
        assert!(!never.contains(&Mark::BankSaleApproved));
        assert!(never.contains(&Mark::SwitchForwarded));
        assert_eq!(
            format!("{total:?}"),
            r#"{"bank.sale.approved": 2, "check.refund.several": 1}"#
        );
    }

    #[test]
    fn names_are_unique_dotted_and_found_again() {
        let mut names: Vec<&str> = Mark::ALL.iter().map(|mark| mark.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), MARK_COUNT, "two marks share a name");
        for mark in Mark::ALL {
            let name = mark.name();
            assert!(
                name.split('.').count() >= 2
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_'),
                "{name}"
            );
            assert!(!mark.meaning().is_empty());
            assert_eq!(Mark::named(name), Some(*mark));
        }
        assert_eq!(
            Mark::crash_at("bank.post.before_sync"),
            Some(Mark::CrashBankPostBeforeSync)
        );
        assert_eq!(Mark::crash_at("bank.post.nowhere"), None);
        // Only crash marks answer to a crash point.
        assert_eq!(Mark::crash_at("refund.partial"), None);
    }
}
