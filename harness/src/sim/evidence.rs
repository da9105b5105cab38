//! Evidence: the one place where node state becomes [`History`].
//!
//! At the end of a run the world hands over what it kept (the displays and
//! answers its drivers recorded, each bank's ledger and durable journal,
//! the plan's workload and bank setups, the work still open) and this
//! module translates it, field by field, into the history's own
//! vocabulary. Nothing of a node's types crosses into `history`, so the
//! checker judges the nodes in words the nodes did not define; and a node
//! type that grows a variant fails to compile here, not silently in the
//! checker.

use std::collections::{BTreeMap, BTreeSet};

use super::driver::{AnswerReceived, HostSpec, RequestReceived, Shared};
use super::runner::Ending;
use crate::history::{self, History, OpenWork};
use crate::node::bank::ledger::{AccountId, PostingKind};
use crate::node::bank::{
    Bank, BankCommand, BankConfig, BankRecord, CardState, CardholderAccount, MerchantAccount, MerchantState,
};
use crate::node::switch::Switch;
use crate::node::terminal::{Terminal, TerminalCommand};
use crate::node::{self, Calendar, Peer};
use crate::plan::{HostId, Plan, WorkItem, LOCAL_CLOCK_ORIGIN_MS, SWITCH_HOST};
use crate::wire::WireMessage;

/// The hosts of a run, as the world registered them.
pub(super) struct Hosts<'a> {
    /// Every bank.
    pub banks: Vec<&'a HostSpec<Bank>>,
    /// The switch.
    pub switch: &'a HostSpec<Switch>,
    /// Every terminal.
    pub terminals: Vec<&'a HostSpec<Terminal>>,
}

/// The history of a finished run: `plan` as the nodes ran it (localized),
/// what the drivers recorded in `shared`, and the nodes as they ended.
/// `operations_end` is one past the last operation id (end-of-day closes
/// included).
pub(super) fn gather(
    plan: &Plan,
    shared: &Shared,
    hosts: &Hosts,
    ending: Ending,
    operations_end: u32,
) -> History {
    let ledgers = hosts
        .banks
        .iter()
        .filter_map(|spec| spec.node.borrow().as_ref().map(ledger_of))
        .collect();
    History {
        operations: operations_of(plan, operations_end),
        shown: shared
            .shown
            .borrow()
            .iter()
            .map(|(at_ms, shown)| history::ShownAt {
                at_ms: *at_ms,
                shown: shown.into(),
            })
            .collect(),
        ledgers,
        answers: shared
            .answers
            .borrow()
            .iter()
            .map(history::AnswerSeen::from)
            .collect(),
        requests: shared
            .requests
            .borrow()
            .iter()
            .filter_map(request_of_received)
            .collect(),
        open_work: open_work(hosts.switch, &hosts.terminals),
        quiescent: ending == Ending::Quiescent,
        banks: plan.topology.banks.iter().map(setup_of).collect(),
        commands: hosts.banks.iter().flat_map(|spec| commands_of(spec)).collect(),
        closes_after_healing: end_of_day_closes(plan, operations_end),
        crashes: crashes_of(plan, &shared.trace.borrow()),
    }
}

/// The crashes of the run's hosts, as parties (the trace names a host by
/// `HostId::name`).
fn crashes_of(plan: &Plan, trace: &super::trace::Trace) -> Vec<history::CrashSeen> {
    let hosts = plan.topology.hosts();
    trace
        .crashes()
        .iter()
        .filter_map(|(at_ms, name)| {
            let host = match hosts.iter().find(|host| host.name() == name)? {
                HostId::Terminal(terminal) => history::Party::Terminal(terminal.clone()),
                HostId::Switch => history::Party::Switch,
                HostId::Bank(bank) => history::Party::Bank(bank.into()),
            };
            Some(history::CrashSeen { at_ms: *at_ms, host })
        })
        .collect()
}

/// Count the coverage mark of two terminals that used the same STAN on
/// the same day at one bank (each such STAN once): the bank keeps their
/// keys apart by terminal.
pub(super) fn mark_shared_stans(hosts: &Hosts) {
    for spec in &hosts.banks {
        let node = spec.node.borrow();
        let Some(bank) = node.as_ref() else {
            continue;
        };
        let mut terminals: BTreeMap<_, BTreeSet<_>> = BTreeMap::new();
        for key in bank.transactions().keys() {
            terminals
                .entry((key.local_date, key.stan))
                .or_default()
                .insert(&key.terminal);
        }
        for _ in terminals.values().filter(|seen| seen.len() > 1) {
            crate::cover::hit(crate::cover::Mark::BankStanOnTwoTerminals);
        }
    }
}

/// Work a node still has to finish: the evidence for "no limbo", and how
/// the quiet phase knows it may end.
pub(super) fn open_work(switch: &HostSpec<Switch>, terminals: &[&HostSpec<Terminal>]) -> Vec<OpenWork> {
    let mut open_work = Vec::new();
    let mut push = |host: &str, what: String, key| {
        open_work.push(OpenWork {
            host: host.to_string(),
            what,
            key,
        })
    };
    for spec in terminals {
        if !spec.commands.is_empty() {
            push(&spec.name, "commands not taken yet".into(), None);
        }
        let node = spec.node.borrow();
        let Some(terminal) = node.as_ref() else { continue };
        for key in terminal.reversal_queue() {
            push(&spec.name, "reversal not acknowledged".into(), Some(key));
        }
        if !terminal.is_idle() {
            push(&spec.name, "terminal not idle".into(), None);
        }
    }
    if let Some(node) = switch.node.borrow().as_ref() {
        for key in node.queued_reversals() {
            push(SWITCH_HOST, "reversal to bank not acknowledged".into(), Some(key));
        }
        for key in node.in_flight() {
            push(SWITCH_HOST, "request in flight".into(), Some(key));
        }
        for batch in node.pending_settlements() {
            push(SWITCH_HOST, format!("settlement pending: {batch:?}"), None);
        }
    }
    open_work
}

/// The operations of the end-of-day batch closes, one per terminal, asked
/// once the world has healed.
fn end_of_day_closes(plan: &Plan, operations_end: u32) -> Vec<history::OperationId> {
    if !plan.timing.close_batches_at_end {
        return Vec::new();
    }
    let terminals = plan.topology.terminals.len() as u32;
    let first = operations_end - terminals;
    (0..terminals)
        .map(|index| history::OperationId(first + index))
        .collect()
}

/// A bank's accounts and rules as configured, for the card rules.
fn setup_of(config: &BankConfig) -> history::BankSetup {
    history::BankSetup {
        bank: (&config.id).into(),
        epoch: epoch_of(&config.calendar),
        cards: config.cardholders.iter().map(history::CardSetup::from).collect(),
        merchants: config
            .merchants
            .iter()
            .map(history::MerchantSetup::from)
            .collect(),
        // On the bank's clock, which reads the origin at the run's start.
        maintenance: config
            .maintenance
            .iter()
            .map(|(start, end)| (start.0 + LOCAL_CLOCK_ORIGIN_MS, end.0 + LOCAL_CLOCK_ORIGIN_MS))
            .collect(),
    }
}

/// The bank's calendar as configured, in plain numbers, and what its clock
/// reads at that moment: no node calendar code converts it on the way to
/// the checker.
fn epoch_of(calendar: &Calendar) -> history::Epoch {
    history::Epoch {
        days_since_1970: calendar.epoch_day,
        second_of_day: calendar.epoch_second,
        clock_reads_ms: LOCAL_CLOCK_ORIGIN_MS,
    }
}

/// The operator commands in a bank's durable journal, each with the number
/// of postings before it.
fn commands_of(spec: &HostSpec<Bank>) -> Vec<history::OperatorCommand> {
    let mut postings = 0u64;
    let mut commands = Vec::new();
    for record in spec.durable.borrow().iter() {
        if let BankRecord::Commanded(commanded) = record {
            commands.push(history::OperatorCommand {
                bank: (&spec.config.id).into(),
                at_ms: commanded.at.0,
                after_postings: postings,
                command: (&commanded.command).into(),
            });
        }
        postings += record.postings().len() as u64;
    }
    commands
}

/// The operations the workload asked for, from the invocations in the trace
/// order (the end-of-day batch closes included).
fn operations_of(plan: &Plan, operations_end: u32) -> Vec<history::Operation> {
    let mut operations: Vec<history::Operation> = plan
        .workload
        .iter()
        .filter_map(|step| match &step.item {
            WorkItem::Terminal { terminal, command } => Some(history::Operation {
                id: command.operation().into(),
                terminal: terminal.clone(),
                at_ms: step.at_ms,
                request: request_of(command),
            }),
            WorkItem::Bank { .. } => None,
        })
        .collect();
    for (id, config) in end_of_day_closes(plan, operations_end)
        .into_iter()
        .zip(&plan.topology.terminals)
    {
        operations.push(history::Operation {
            id,
            terminal: config.terminal.clone(),
            at_ms: plan.timing.fault_phase_ms,
            request: history::Request::CloseBatch,
        });
    }
    operations
}

fn request_of(command: &TerminalCommand) -> history::Request {
    match command {
        TerminalCommand::Sale { card, amount, .. } => history::Request::Sale {
            pan: card.pan.clone(),
            amount: *amount,
        },
        TerminalCommand::Refund { original, amount, .. } => history::Request::Refund {
            original: (*original).into(),
            amount: *amount,
        },
        TerminalCommand::Void { original, .. } => history::Request::Void {
            original: (*original).into(),
        },
        TerminalCommand::Balance { card, .. } => history::Request::Balance {
            pan: card.pan.clone(),
        },
        TerminalCommand::CloseBatch { .. } => history::Request::CloseBatch,
    }
}

fn account_of(account: &AccountId) -> history::Account {
    match account {
        AccountId::Cardholder(pan) => history::Account::Cardholder(pan.clone()),
        AccountId::Merchant(merchant) => history::Account::Merchant(merchant.clone()),
        AccountId::Clearing(currency) => history::Account::Clearing(*currency),
    }
}

/// Balances before the run, from the bank's configuration.
fn opening_of(config: &BankConfig) -> BTreeMap<history::Account, (i64, crate::wire::types::Currency)> {
    let mut opening = BTreeMap::new();
    for card in &config.cardholders {
        opening.insert(
            history::Account::Cardholder(card.pan.clone()),
            (card.balance.minor_units() as i64, card.currency),
        );
        opening.insert(history::Account::Clearing(card.currency), (0, card.currency));
    }
    for merchant in &config.merchants {
        opening.insert(
            history::Account::Merchant(merchant.id.clone()),
            (merchant.balance.minor_units() as i64, merchant.currency),
        );
        opening.insert(
            history::Account::Clearing(merchant.currency),
            (0, merchant.currency),
        );
    }
    opening
}

fn posting_of(bank: &Bank, sequence: usize, posting: &crate::node::bank::Posting) -> history::Posting {
    let transaction = bank.transactions().get(&posting.key);
    let (effect, key, batch) = match &posting.kind {
        PostingKind::Sale => (history::EffectType::Sale, Some(posting.key.clone()), None),
        PostingKind::Refund | PostingKind::DeclinedRefundRemnant => {
            (history::EffectType::Refund, Some(posting.key.clone()), None)
        }
        PostingKind::Void => (history::EffectType::Void, Some(posting.key.clone()), None),
        PostingKind::Reversal { .. } => (history::EffectType::Reversal, Some(posting.key.clone()), None),
        PostingKind::Settlement { terminal, batch } | PostingKind::HeldSettlementPaid { terminal, batch } => {
            (
                history::EffectType::Settlement,
                None,
                Some((terminal.clone(), *batch)),
            )
        }
    };
    let decided = matches!(
        effect,
        history::EffectType::Sale | history::EffectType::Refund | history::EffectType::Void
    );
    history::Posting {
        sequence: sequence as u64,
        key,
        effect,
        batch,
        at_ms: transaction
            .filter(|_| decided)
            .map(|transaction| transaction.at.0),
        entries: posting
            .entries
            .iter()
            .map(|(account, currency, minor)| history::Entry {
                account: account_of(account),
                minor: *minor,
                currency: *currency,
            })
            .collect(),
    }
}

/// An authentic request in the history's words; `None` for what the
/// history does not keep.
fn request_of_received(received: &RequestReceived) -> Option<history::RequestSeen> {
    let (mti, key, asked) = match &received.message {
        WireMessage::FinancialRequest(request) => (
            if request.repeat { 201 } else { 200 },
            request.trace.key(),
            history::Asked::Financial(history::FinancialAsked {
                processing: request.processing,
                pan: request.pan.clone(),
                expiry: request.expiry,
                amount: request.amount,
                merchant: request.merchant.clone(),
                batch: request.batch,
                original: request
                    .original
                    .as_ref()
                    .map(|original| original.key(&request.trace.terminal)),
            }),
        ),
        WireMessage::ReversalAdvice(advice) => (
            if advice.repeat { 421 } else { 420 },
            advice.trace.key(),
            history::Asked::Reversal(history::ReversalAsked {
                processing: advice.processing,
                amount: advice.amount,
                reason: advice.reason,
            }),
        ),
        WireMessage::BatchClose(close) => (
            if close.repeat { 501 } else { 500 },
            close.trace.key(),
            history::Asked::Close(history::CloseAsked {
                merchant: close.merchant.clone(),
                batch: close.batch,
                currency: close.currency,
                credits: (close.totals.credit_count, close.totals.credit_amount),
                debits: (close.totals.debit_count, close.totals.debit_amount),
            }),
        ),
        _ => return None,
    };
    Some(history::RequestSeen {
        at_ms: received.at_ms,
        clock_ms: received.clock_ms,
        receiver: (&received.receiver).into(),
        sender: (&received.sender).into(),
        mti,
        key,
        asked,
    })
}

fn ledger_of(bank: &Bank) -> history::Ledger {
    let config = bank.config();
    let closing = bank
        .ledger()
        .balances()
        .map(|(account, currency, balance)| (account_of(account), (balance, currency)))
        .collect();
    let postings = bank
        .ledger()
        .postings()
        .iter()
        .enumerate()
        .map(|(sequence, posting)| posting_of(bank, sequence, posting))
        .collect();
    let held = bank
        .settlements()
        .iter()
        .filter(|(_, settled)| settled.held)
        .map(|(batch, _)| history::HeldPayout { batch: batch.clone() })
        .collect();
    history::Ledger {
        bank: (&config.id).into(),
        opening: opening_of(config),
        closing,
        postings,
        held,
    }
}

impl From<node::OperationId> for history::OperationId {
    fn from(operation: node::OperationId) -> history::OperationId {
        history::OperationId(operation.0)
    }
}

impl From<&node::BankId> for history::BankId {
    fn from(bank: &node::BankId) -> history::BankId {
        history::BankId(bank.0.clone())
    }
}

impl From<&Peer> for history::Party {
    fn from(peer: &Peer) -> history::Party {
        match peer {
            Peer::Terminal(terminal) => history::Party::Terminal(terminal.clone()),
            Peer::Switch => history::Party::Switch,
            Peer::Bank(bank) => history::Party::Bank(bank.into()),
        }
    }
}

impl From<node::OperationKind> for history::OperationKind {
    fn from(kind: node::OperationKind) -> history::OperationKind {
        match kind {
            node::OperationKind::Financial(processing) => history::OperationKind::Financial(processing),
            node::OperationKind::BatchClose => history::OperationKind::BatchClose,
        }
    }
}

impl From<&node::Outcome> for history::Outcome {
    fn from(outcome: &node::Outcome) -> history::Outcome {
        match outcome {
            node::Outcome::Approved { approval, balance } => history::Outcome::Approved {
                approval: approval.clone(),
                balance: *balance,
            },
            node::Outcome::Declined { code } => history::Outcome::Declined { code: *code },
            node::Outcome::FailedReversed { reason } => history::Outcome::FailedReversed { reason: *reason },
            node::Outcome::Refused { reason } => history::Outcome::Refused {
                reason: reason.clone(),
            },
            node::Outcome::BatchClosed { uploaded } => history::Outcome::BatchClosed { uploaded: *uploaded },
        }
    }
}

impl From<&node::Shown> for history::Shown {
    fn from(shown: &node::Shown) -> history::Shown {
        history::Shown {
            terminal: shown.terminal.clone(),
            operation: shown.operation.into(),
            kind: shown.kind.into(),
            key: shown.key.clone(),
            rrn: shown.rrn.clone(),
            amount: shown.amount,
            outcome: (&shown.outcome).into(),
        }
    }
}

impl From<&AnswerReceived> for history::AnswerSeen {
    fn from(answer: &AnswerReceived) -> history::AnswerSeen {
        history::AnswerSeen {
            at_ms: answer.at_ms,
            receiver: (&answer.receiver).into(),
            sender: (&answer.sender).into(),
            mti: answer.mti,
            processing: answer.processing,
            key: answer.key.clone(),
            response: answer.response,
            approval: answer.approval.clone(),
        }
    }
}

impl From<CardState> for history::CardState {
    fn from(state: CardState) -> history::CardState {
        match state {
            CardState::Active => history::CardState::Active,
            CardState::Frozen => history::CardState::Frozen,
            CardState::NotActivated => history::CardState::NotActivated,
            CardState::Blocked => history::CardState::Blocked,
        }
    }
}

impl From<MerchantState> for history::MerchantState {
    fn from(state: MerchantState) -> history::MerchantState {
        match state {
            MerchantState::Active => history::MerchantState::Active,
            MerchantState::Frozen => history::MerchantState::Frozen,
            MerchantState::Blacklisted => history::MerchantState::Blacklisted,
        }
    }
}

impl From<&CardholderAccount> for history::CardSetup {
    fn from(card: &CardholderAccount) -> history::CardSetup {
        history::CardSetup {
            pan: card.pan.clone(),
            currency: card.currency,
            balance: card.balance,
            state: card.state.into(),
            expiry: card.expiry,
            transaction_limit: card.transaction_limit,
            daily_limit: card.daily_limit,
            daily_count_limit: card.daily_count_limit,
        }
    }
}

impl From<&MerchantAccount> for history::MerchantSetup {
    fn from(merchant: &MerchantAccount) -> history::MerchantSetup {
        history::MerchantSetup {
            id: merchant.id.clone(),
            currency: merchant.currency,
            balance: merchant.balance,
            state: merchant.state.into(),
            refund_cap: merchant.refund_cap,
            refund_window_ms: merchant.refund_window_ms,
            daily_refund_limit: merchant.daily_refund_limit,
        }
    }
}

impl From<&BankCommand> for history::OperatorAction {
    fn from(command: &BankCommand) -> history::OperatorAction {
        match command {
            BankCommand::SetCardState { pan, state } => history::OperatorAction::SetCardState {
                pan: pan.clone(),
                state: (*state).into(),
            },
            BankCommand::SetMerchantState { merchant, state } => history::OperatorAction::SetMerchantState {
                merchant: merchant.clone(),
                state: (*state).into(),
            },
            BankCommand::BeginMaintenance => history::OperatorAction::BeginMaintenance,
            BankCommand::EndMaintenance => history::OperatorAction::EndMaintenance,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_is_the_configured_calendar_in_plain_numbers() {
        let epoch = epoch_of(&Calendar::default());
        // 2026-11-22 is 20,779 days after 1970-01-01 (Python's datetime).
        assert_eq!(epoch.days_since_1970, 20_779);
        assert_eq!(epoch.second_of_day, 9 * 3600);
        assert_eq!(epoch.clock_reads_ms, LOCAL_CLOCK_ORIGIN_MS);
    }

    #[test]
    fn parties_read_as_the_reports_name_them() {
        let bank = history::Party::from(&Peer::Bank(node::BankId("bank-a".into())));
        assert_eq!(bank.to_string(), "bank bank-a");
        assert_eq!(history::Party::from(&Peer::Switch).to_string(), "switch");
        let terminal = crate::wire::types::TerminalId::new("TERM0001").expect("valid terminal id");
        assert_eq!(
            history::Party::from(&Peer::Terminal(terminal)).to_string(),
            "terminal TERM0001"
        );
    }
}
