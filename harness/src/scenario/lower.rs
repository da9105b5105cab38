//! Lowering a parsed scenario file to a [`Plan`] (workload and fault
//! plan on top of the built-in topology) and its expectations, checking
//! every name and value on the way. Errors are collected, each located.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Serialize;
use serde_spanned::Spanned;

use super::format::{
    CardFile, CrashFile, ExpectFile, FaultsFile, MerchantFile, MessageFaultFile, OperationFile, ScenarioFile,
    TerminalFile, Text, TimingFile, TopologyChanges,
};
use super::parse::{
    parse_duration_ms, parse_money, parse_rate_ppm, parse_signed_duration_ms, ScenarioError, ScenarioErrors,
    Source,
};
use crate::history::Account;
use crate::node::bank::{BankCommand, CardState, CardholderAccount, MerchantState};
use crate::node::terminal::TerminalConfig;
use crate::node::terminal::{Card, TerminalCommand};
use crate::node::{all_crash_points, BankId, Bug, Bugs, Millis, OperationId};
use crate::plan::topology::{merchant_account, terminal_config, Topology};
use crate::plan::{ArmedCrash, ClockModel, HostId, LinkId};
use crate::plan::{
    Direction, Injection, LinkFaults, MessageAction, MessageMatch, MessageRule, TimedInjection,
};
use crate::plan::{FaultPlan, LinkPartition, Plan, Step, TimedCrash, Timing, WorkItem, SWITCH_HOST};
use crate::wire::types::{
    Amount, Currency, Expiry, MerchantId, Money, Pan, ProcessingCode, ResponseCode, TerminalId,
};

/// The actions of `[[faults.messages]]`.
pub const FAULT_ACTIONS: [&str; 5] = ["drop", "duplicate", "delay", "resend", "corrupt"];

/// The kinds of `[[faults.injections]]`.
pub const INJECTIONS: [&str; 3] = ["replay", "tamper_amount", "forge"];

/// The default seed of a scenario that names none.
pub const DEFAULT_SEED: u64 = 1;

/// A validated scenario, ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file it came from.
    pub file: String,
    /// Its name.
    pub name: String,
    /// Incident class, `A` to `E`.
    pub incident: char,
    /// What it replays.
    pub description: String,
    /// Planted bugs the file switches on.
    pub bugs: Vec<Bug>,
    /// The run (seed from the file or [`DEFAULT_SEED`]).
    pub plan: Plan,
    /// The operations, in file order.
    pub operations: Vec<OperationInfo>,
    /// What must be seen on top of the invariants.
    pub expectations: Vec<Expectation>,
}

/// One operation of the file, as the report names it.
#[derive(Debug, Clone, Serialize)]
pub struct OperationInfo {
    /// The `id` in the file, if any.
    pub name: Option<String>,
    /// The workload operation (terminal operations only).
    pub operation: Option<OperationId>,
    /// The terminal or bank.
    pub at_host: String,
    /// When.
    pub at_ms: u64,
    /// What, in words.
    pub what: String,
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

impl ShowKind {
    const NAMES: [&'static str; 5] = [
        "approved",
        "declined",
        "failed_reversed",
        "refused",
        "batch_closed",
    ];

    fn parse(text: &str) -> Option<ShowKind> {
        Some(match text {
            "approved" => ShowKind::Approved,
            "declined" => ShowKind::Declined,
            "failed_reversed" => ShowKind::FailedReversed,
            "refused" => ShowKind::Refused,
            "batch_closed" => ShowKind::BatchClosed,
            _ => return None,
        })
    }

    /// Name as written in files.
    pub fn name(self) -> &'static str {
        match self {
            ShowKind::Approved => "approved",
            ShowKind::Declined => "declined",
            ShowKind::FailedReversed => "failed_reversed",
            ShowKind::Refused => "refused",
            ShowKind::BatchClosed => "batch_closed",
        }
    }
}

/// One `[[expect]]`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expectation {
    /// An operation shows this.
    Shows {
        /// The id in the file.
        name: String,
        /// The operation.
        operation: OperationId,
        /// What.
        shows: ShowKind,
        /// The decline code.
        code: Option<ResponseCode>,
        /// Items uploaded by a batch close.
        uploaded: Option<u32>,
    },
    /// An account ends with this balance.
    Balance {
        /// The account, as written.
        label: String,
        /// The account.
        account: Account,
        /// Its final balance.
        balance: Money,
    },
}

/// A field, where it is written, and the actions it applies to.
type FieldCheck<'a> = (&'a str, Option<Range<usize>>, &'a [&'a str]);

const OPS: [&str; 13] = [
    "sale",
    "refund",
    "void",
    "balance",
    "close_batch",
    "freeze_card",
    "unfreeze_card",
    "block_card",
    "freeze_merchant",
    "unfreeze_merchant",
    "blacklist_merchant",
    "begin_maintenance",
    "end_maintenance",
];

/// Which optional fields each operation takes (beyond `at`, `op`, `id`).
fn op_fields(op: &str) -> &'static [&'static str] {
    match op {
        "sale" => &["terminal", "card", "amount", "expiry"],
        "refund" => &["terminal", "of", "amount"],
        "void" => &["terminal", "of"],
        "balance" => &["terminal", "card", "expiry", "currency"],
        "close_batch" => &["terminal"],
        "freeze_card" | "unfreeze_card" | "block_card" => &["card", "bank"],
        "freeze_merchant" | "unfreeze_merchant" | "blacklist_merchant" => &["merchant", "bank"],
        _ => &["bank"],
    }
}

struct Lowerer<'a> {
    source: &'a Source,
    errors: Vec<ScenarioError>,
    topology: Topology,
}

struct SaleRef {
    operation: OperationId,
    terminal: TerminalId,
    amount: Money,
    at_ms: u64,
    is_sale: bool,
}

/// Check and lower a parsed file.
pub fn lower(source: &Source, file: ScenarioFile) -> Result<Scenario, ScenarioErrors> {
    let mut lowerer = Lowerer {
        source,
        errors: Vec::new(),
        topology: Topology::standard(),
    };
    let scenario = lowerer.scenario(file);
    if lowerer.errors.is_empty() {
        Ok(scenario)
    } else {
        lowerer.errors.sort_by_key(|error| error.span.start);
        Err(ScenarioErrors {
            errors: lowerer.errors,
        })
    }
}

impl Lowerer<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) -> &mut ScenarioError {
        let error = self.source.error(span, message);
        self.errors.push(error);
        self.errors.last_mut().expect("just pushed")
    }

    fn unknown<'c>(
        &mut self,
        what: &str,
        value: &Text,
        candidates: impl IntoIterator<Item = &'c str> + Clone,
    ) {
        let list: Vec<&str> = candidates.clone().into_iter().collect();
        let error = self
            .source
            .error(value.span(), format!("unknown {what} `{}`", value.get_ref()))
            .suggest(value.get_ref(), candidates)
            .with_help(format!("expected one of: {}", list.join(", ")));
        self.errors.push(error);
    }

    fn duration(&mut self, value: &Text) -> Option<u64> {
        match parse_duration_ms(value.get_ref()) {
            Ok(ms) => Some(ms),
            Err(message) => {
                self.error(value.span(), message);
                None
            }
        }
    }

    fn money(&mut self, value: &Text) -> Option<Money> {
        match parse_money(value.get_ref()) {
            Ok(money) => Some(money),
            Err(message) => {
                self.error(value.span(), message)
                    .help = Some("write an amount and a currency, e.g. \"12.50 EUR\" (as many decimals as the currency has)".into());
                None
            }
        }
    }

    fn amount(&mut self, value: &Text) -> Option<Amount> {
        self.money(value).map(|money| money.amount)
    }

    fn pan(&mut self, value: &Text) -> Option<Pan> {
        match Pan::new(value.get_ref()) {
            Ok(pan) => Some(pan),
            Err(error) => {
                self.error(value.span(), error.to_string()).help =
                    Some("a card number is 12 to 19 digits".into());
                None
            }
        }
    }

    fn expiry(&mut self, value: &Text) -> Option<Expiry> {
        match Expiry::from_wire(value.get_ref()) {
            Ok(expiry) => Some(expiry),
            Err(error) => {
                self.error(value.span(), error.to_string()).help =
                    Some("an expiry is YYMM, e.g. \"2812\"".into());
                None
            }
        }
    }

    fn terminal_names(&self) -> Vec<String> {
        self.topology
            .terminals
            .iter()
            .map(|t| t.terminal.to_string())
            .collect()
    }

    fn bank_names(&self) -> Vec<String> {
        self.topology.banks.iter().map(|b| b.id.0.clone()).collect()
    }

    fn terminal(&mut self, value: Option<&Text>) -> Option<TerminalId> {
        let Some(value) = value else {
            return Some(self.topology.terminals[0].terminal.clone());
        };
        let names = self.terminal_names();
        if names.iter().any(|name| name == value.get_ref()) {
            return TerminalId::new(value.get_ref()).ok();
        }
        self.unknown("terminal", value, names.iter().map(String::as_str));
        None
    }

    fn bank(&mut self, value: Option<&Text>) -> Option<usize> {
        let Some(value) = value else { return Some(0) };
        let names = self.bank_names();
        if let Some(index) = names.iter().position(|name| name == value.get_ref()) {
            return Some(index);
        }
        self.unknown("bank", value, names.iter().map(String::as_str));
        None
    }

    fn link(&mut self, value: &Text) -> Option<LinkId> {
        if let Some(link) = self.topology.link_named(value.get_ref()) {
            return Some(link);
        }
        let mut names = self.terminal_names();
        names.extend(self.bank_names());
        let error = self
            .source
            .error(value.span(), format!("unknown link `{}`", value.get_ref()))
            .suggest(value.get_ref(), names.iter().map(String::as_str))
            .with_help(format!(
                "a link is named by its terminal or its bank: {}",
                names.join(", ")
            ));
        self.errors.push(error);
        None
    }

    fn host(&mut self, value: &Text) -> Option<HostId> {
        if let Some(host) = self.topology.host_named(value.get_ref()) {
            return Some(host);
        }
        let mut names = self.terminal_names();
        names.push(SWITCH_HOST.to_string());
        names.extend(self.bank_names());
        self.unknown("host", value, names.iter().map(String::as_str));
        None
    }

    fn find_card(&self, pan: &Pan) -> Option<&CardholderAccount> {
        self.topology
            .banks
            .iter()
            .flat_map(|bank| bank.cardholders.iter())
            .find(|card| &card.pan == pan)
    }

    fn scenario(&mut self, file: ScenarioFile) -> Scenario {
        let name = file.name.get_ref().trim().to_string();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            self.error(
                file.name.span(),
                "a scenario name is letters, digits, `-` and `_`",
            );
        }
        let incident = match file.incident.get_ref().as_str() {
            "A" | "B" | "C" | "D" | "E" => file.incident.get_ref().chars().next().unwrap_or('A'),
            _ => {
                self.unknown("incident class", &file.incident, ["A", "B", "C", "D", "E"]);
                'A'
            }
        };
        if file.description.get_ref().trim().is_empty() {
            self.error(
                file.description.span(),
                "the description must say which incident this replays",
            );
        }
        let mut bugs = Vec::new();
        for bug in &file.bugs {
            match bug.get_ref().parse::<Bug>() {
                Ok(parsed) => bugs.push(parsed),
                Err(_) => self.unknown("bug", bug, Bug::ALL.iter().map(|b| b.name())),
            }
        }
        self.topology_changes(&file.topology);
        let timing = self.timing(&file.timing);
        let (workload, operations, sales) = self.operations(&file.operations, &timing);
        let faults = self.faults(&file.faults);
        let expectations = self.expectations(&file.expect, &sales);
        let mut topology = self.topology.clone();
        topology.set_bugs(&Bugs::of(bugs.iter().copied()));
        Scenario {
            file: self.source.file().to_string(),
            name,
            incident,
            description: file
                .description
                .get_ref()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            bugs,
            plan: Plan {
                seed: file.seed.map_or(DEFAULT_SEED, |seed| *seed.get_ref()),
                topology,
                workload,
                faults,
                timing,
            },
            operations,
            expectations,
        }
    }

    fn topology_changes(&mut self, changes: &TopologyChanges) {
        for card in &changes.cards {
            self.card(card);
        }
        for merchant in &changes.merchants {
            self.merchant(merchant);
        }
        self.terminals(&changes.terminals);
        for window in &changes.maintenance {
            let bank = self.bank(window.bank.as_ref());
            let from = self.duration(&window.from);
            let until = self.duration(&window.until);
            if let (Some(bank), Some(from), Some(until)) = (bank, from, until) {
                if until <= from {
                    self.error(
                        window.until.span(),
                        "a maintenance window must end after it starts",
                    );
                }
                self.topology.banks[bank]
                    .maintenance
                    .push((Millis(from), Millis(until)));
            }
        }
        let timeouts = &changes.timeouts;
        if let Some(value) = &timeouts.terminal_response {
            if let Some(ms) = self.positive(value) {
                self.topology
                    .terminals
                    .iter_mut()
                    .for_each(|t| t.response_timeout_ms = ms);
            }
        }
        if let Some(value) = &timeouts.terminal_reversal_retry {
            if let Some(ms) = self.positive(value) {
                self.topology
                    .terminals
                    .iter_mut()
                    .for_each(|t| t.reversal_retry_ms = ms);
            }
        }
        if let Some(value) = &timeouts.switch_bank {
            if let Some(ms) = self.positive(value) {
                self.topology.switch.bank_timeout_ms = ms;
            }
        }
        if let Some(value) = &timeouts.switch_reversal_retry {
            if let Some(ms) = self.positive(value) {
                self.topology.switch.reversal_retry_ms = ms;
            }
        }
        if let Some(value) = &timeouts.switch_settlement_retry {
            if let Some(ms) = self.positive(value) {
                self.topology.switch.settlement_retry_ms = ms;
            }
        }
    }

    fn positive(&mut self, value: &Text) -> Option<u64> {
        let ms = self.duration(value)?;
        if ms == 0 {
            self.error(value.span(), "a timeout must be longer than 0");
            return None;
        }
        Some(ms)
    }

    fn card(&mut self, file: &CardFile) {
        let Some(pan) = self.pan(&file.pan) else { return };
        let balance = file.balance.as_ref().and_then(|value| self.money(value));
        let state = file.state.as_ref().and_then(|value| self.card_state(value));
        let expiry = file.expiry.as_ref().and_then(|value| self.expiry(value));
        let transaction_limit = file
            .transaction_limit
            .as_ref()
            .and_then(|value| self.amount(value));
        let daily_limit = file.daily_limit.as_ref().and_then(|value| self.amount(value));
        let existing = self.topology.banks[0]
            .cardholders
            .iter()
            .position(|card| card.pan == pan);
        let index = match existing {
            Some(index) => index,
            None => {
                let Some(balance) = balance else {
                    if file.balance.is_none() {
                        self.error(
                            file.pan.span(),
                            format!("card {pan} is not built in, so it needs a `balance`"),
                        )
                        .help = Some("e.g. balance = \"50.00 EUR\" (the currency is the card's)".into());
                    }
                    return;
                };
                self.topology.banks[0].cardholders.push(CardholderAccount {
                    pan: pan.clone(),
                    currency: balance.currency,
                    balance: balance.amount,
                    state: CardState::Active,
                    expiry: Expiry::from_wire("2812").expect("valid expiry"),
                    transaction_limit: None,
                    daily_limit: None,
                    daily_count_limit: None,
                });
                self.topology.banks[0].cardholders.len() - 1
            }
        };
        let card = &mut self.topology.banks[0].cardholders[index];
        if let Some(balance) = balance {
            card.currency = balance.currency;
            card.balance = balance.amount;
        }
        if let Some(state) = state {
            card.state = state;
        }
        if let Some(expiry) = expiry {
            card.expiry = expiry;
        }
        if transaction_limit.is_some() {
            card.transaction_limit = transaction_limit;
        }
        if daily_limit.is_some() {
            card.daily_limit = daily_limit;
        }
        if let Some(count) = &file.daily_count_limit {
            card.daily_count_limit = Some(*count.get_ref());
        }
    }

    fn card_state(&mut self, value: &Text) -> Option<CardState> {
        Some(match value.get_ref().as_str() {
            "active" => CardState::Active,
            "frozen" => CardState::Frozen,
            "not_activated" => CardState::NotActivated,
            "blocked" => CardState::Blocked,
            _ => {
                self.unknown(
                    "card state",
                    value,
                    ["active", "frozen", "not_activated", "blocked"],
                );
                return None;
            }
        })
    }

    fn merchant_state(&mut self, value: &Text) -> Option<MerchantState> {
        Some(match value.get_ref().as_str() {
            "active" => MerchantState::Active,
            "frozen" => MerchantState::Frozen,
            "blacklisted" => MerchantState::Blacklisted,
            _ => {
                self.unknown("merchant state", value, ["active", "frozen", "blacklisted"]);
                return None;
            }
        })
    }

    fn merchant_names(&self) -> Vec<String> {
        self.topology.banks[0]
            .merchants
            .iter()
            .map(|m| m.id.to_string())
            .collect()
    }

    fn merchant_id(&mut self, value: &Text) -> Option<MerchantId> {
        let names = self.merchant_names();
        if names.iter().any(|name| name == value.get_ref()) {
            return MerchantId::new(value.get_ref()).ok();
        }
        self.unknown("merchant", value, names.iter().map(String::as_str));
        None
    }

    fn merchant(&mut self, file: &MerchantFile) {
        let balance = file.balance.as_ref().and_then(|value| self.money(value));
        let known = self.merchant_names().contains(file.id.get_ref());
        if !known {
            let id = match MerchantId::new(file.id.get_ref()) {
                Ok(id) => id,
                Err(error) => {
                    let names = self.merchant_names();
                    let error = self
                        .source
                        .error(
                            file.id.span(),
                            format!("unknown merchant `{}`: {error}", file.id.get_ref()),
                        )
                        .suggest(file.id.get_ref(), names.iter().map(String::as_str))
                        .with_help("a new merchant id is 15 characters, e.g. \"MERCHANT0000003\"");
                    self.errors.push(error);
                    return;
                }
            };
            let Some(opening) = balance else {
                if file.balance.is_none() {
                    self.error(
                        file.id.span(),
                        format!("merchant {id} is not built in, so it needs a `balance`"),
                    )
                    .help = Some("e.g. balance = \"0.00 EUR\"".into());
                }
                return;
            };
            self.topology.banks[0]
                .merchants
                .push(merchant_account(id, opening.amount));
        }
        let Some(id) = self.merchant_id(&file.id) else {
            return;
        };
        let state = file.state.as_ref().and_then(|value| self.merchant_state(value));
        let cap = file.refund_cap.as_ref().and_then(|value| self.amount(value));
        let window = file.refund_window.as_ref().and_then(|value| self.duration(value));
        let daily = file
            .daily_refund_limit
            .as_ref()
            .and_then(|value| self.amount(value));
        let Some(merchant) = self.topology.banks[0].merchants.iter_mut().find(|m| m.id == id) else {
            return;
        };
        if let Some(balance) = balance {
            merchant.balance = balance.amount;
            merchant.currency = balance.currency;
        }
        if let Some(state) = state {
            merchant.state = state;
        }
        if cap.is_some() {
            merchant.refund_cap = cap;
        }
        if window.is_some() {
            merchant.refund_window_ms = window;
        }
        if daily.is_some() {
            merchant.daily_refund_limit = daily;
        }
    }

    fn terminals(&mut self, files: &[TerminalFile]) {
        if files.is_empty() {
            return;
        }
        let mut terminals: Vec<TerminalConfig> = Vec::new();
        for file in files {
            let id = match TerminalId::new(file.id.get_ref()) {
                Ok(id) => id,
                Err(error) => {
                    self.error(file.id.span(), error.to_string()).help =
                        Some("a terminal id is 8 characters, e.g. \"TERM0003\"".into());
                    continue;
                }
            };
            if terminals.iter().any(|terminal| terminal.terminal == id) {
                self.error(file.id.span(), format!("the terminal {id} is listed twice"));
                continue;
            }
            let Some(merchant) = self.merchant_id(&file.merchant) else {
                continue;
            };
            terminals.push(terminal_config(id, merchant));
        }
        if !terminals.is_empty() {
            self.topology.set_terminals(terminals);
        }
    }

    fn timing(&mut self, file: &TimingFile) -> Timing {
        let mut timing = Timing::default();
        if let Some(value) = &file.fault_phase {
            if let Some(ms) = self.positive(value) {
                timing.fault_phase_ms = ms;
            }
        }
        if let Some(value) = &file.quiet {
            if let Some(ms) = self.positive(value) {
                timing.quiet_ms = ms;
            }
        }
        if let Some(value) = &file.close_batches_at_end {
            timing.close_batches_at_end = *value.get_ref();
        }
        timing
    }

    fn operations(
        &mut self,
        files: &[OperationFile],
        timing: &Timing,
    ) -> (Vec<Step>, Vec<OperationInfo>, BTreeMap<String, SaleRef>) {
        let mut workload = Vec::new();
        let mut infos = Vec::new();
        let mut named: BTreeMap<String, SaleRef> = BTreeMap::new();
        for (index, file) in files.iter().enumerate() {
            let operation = OperationId(index as u32 + 1);
            let op = file.op.get_ref().as_str();
            if !OPS.contains(&op) {
                self.unknown("operation", &file.op, OPS);
                continue;
            }
            let allowed = op_fields(op);
            for (field, span) in present_fields(file) {
                if !allowed.contains(&field) {
                    self.error(span, format!("`{field}` does not apply to a {op}"))
                        .help = Some(format!("a {op} takes: at, op, id, {}", allowed.join(", ")));
                }
            }
            let Some(at_ms) = self.duration(&file.at) else {
                continue;
            };
            if at_ms >= timing.fault_phase_ms {
                self.error(
                    file.at.span(),
                    format!(
                        "this operation starts at {at_ms}ms, after the fault phase ends ({}ms)",
                        timing.fault_phase_ms
                    ),
                )
                .help = Some("start it earlier or lengthen [timing] fault_phase".into());
            }
            if let Some(id) = &file.id {
                if named.contains_key(id.get_ref()) {
                    self.error(id.span(), format!("the id `{}` is used twice", id.get_ref()));
                }
            }
            let lowered = self.operation(op, file, operation, at_ms, &named);
            let Some((item, what, amount)) = lowered else {
                continue;
            };
            let (at_host, operation_id, terminal) = match &item {
                WorkItem::Terminal { terminal, .. } => {
                    (terminal.to_string(), Some(operation), Some(terminal.clone()))
                }
                WorkItem::Bank { bank, .. } => (bank.0.clone(), None, None),
            };
            if let (Some(id), Some(terminal)) = (&file.id, terminal) {
                named.insert(
                    id.get_ref().clone(),
                    SaleRef {
                        operation,
                        terminal,
                        amount: amount.unwrap_or(Money {
                            amount: Amount::new(0).expect("zero"),
                            currency: Currency::EUR,
                        }),
                        at_ms,
                        is_sale: op == "sale",
                    },
                );
            } else if let Some(id) = &file.id {
                self.error(id.span(), "only terminal operations can have an id");
            }
            infos.push(OperationInfo {
                name: file.id.as_ref().map(|id| id.get_ref().clone()),
                operation: operation_id,
                at_host,
                at_ms,
                what,
            });
            workload.push(Step { at_ms, item });
        }
        (workload, infos, named)
    }

    fn required<'t>(
        &mut self,
        file: &OperationFile,
        value: &'t Option<Text>,
        field: &str,
        op: &str,
    ) -> Option<&'t Text> {
        if value.is_none() {
            self.error(file.op.span(), format!("a {op} needs `{field}`"));
        }
        value.as_ref()
    }

    fn read_card(&mut self, file: &OperationFile, op: &str) -> Option<(Card, Option<Currency>)> {
        let value = self.required(file, &file.card, "card", op)?;
        let pan = self.pan(value)?;
        let known = self.find_card(&pan).map(|card| (card.expiry, card.currency));
        let expiry = match (&file.expiry, known) {
            (Some(expiry), _) => self.expiry(expiry)?,
            (None, Some((expiry, _))) => expiry,
            (None, None) => {
                let cards: Vec<String> = self.topology.banks[0]
                    .cardholders
                    .iter()
                    .map(|c| c.pan.to_string())
                    .collect();
                let error = self
                    .source
                    .error(value.span(), format!("card {pan} is not in the topology"))
                    .suggest(value.get_ref(), cards.iter().map(String::as_str))
                    .with_help("add it under [[topology.cards]], or give `expiry` to present a card the bank does not know");
                self.errors.push(error);
                return None;
            }
        };
        Some((Card { pan, expiry }, known.map(|(_, currency)| currency)))
    }

    fn original<'n>(
        &mut self,
        file: &OperationFile,
        op: &str,
        terminal: &TerminalId,
        at_ms: u64,
        named: &'n BTreeMap<String, SaleRef>,
    ) -> Option<&'n SaleRef> {
        let value = self.required(file, &file.of, "of", op)?;
        let Some(sale) = named.get(value.get_ref()) else {
            let error = self
                .source
                .error(
                    value.span(),
                    format!("no earlier operation has the id `{}`", value.get_ref()),
                )
                .suggest(value.get_ref(), named.keys().map(String::as_str))
                .with_help(format!("a {op} names an earlier sale by its `id`"));
            self.errors.push(error);
            return None;
        };
        if !sale.is_sale {
            self.error(
                value.span(),
                format!("`{}` is not a sale; a {op} names a sale", value.get_ref()),
            );
            return None;
        }
        if &sale.terminal != terminal {
            self.error(
                value.span(),
                format!(
                    "`{}` was sold on {}; a {op} must be made on the same terminal",
                    value.get_ref(),
                    sale.terminal
                ),
            );
            return None;
        }
        if sale.at_ms > at_ms {
            self.error(
                value.span(),
                format!("`{}` happens after this {op}", value.get_ref()),
            );
            return None;
        }
        Some(sale)
    }

    fn operation(
        &mut self,
        op: &str,
        file: &OperationFile,
        operation: OperationId,
        at_ms: u64,
        named: &BTreeMap<String, SaleRef>,
    ) -> Option<(WorkItem, String, Option<Money>)> {
        let terminal_op = matches!(op, "sale" | "refund" | "void" | "balance" | "close_batch");
        if terminal_op {
            let terminal = self.terminal(file.terminal.as_ref())?;
            let (command, what, amount) = match op {
                "sale" => {
                    let card = self.read_card(file, op);
                    let amount = self
                        .required(file, &file.amount, "amount", op)
                        .and_then(|a| self.money_of(a));
                    let (card, amount) = (card?.0, amount?);
                    let what = format!("sale {amount} card {}", card.pan);
                    (
                        TerminalCommand::Sale {
                            operation,
                            card,
                            amount,
                        },
                        what,
                        Some(amount),
                    )
                }
                "refund" => {
                    let sale = self.original(file, op, &terminal, at_ms, named)?;
                    let amount = match &file.amount {
                        Some(value) => self.money_of(value)?,
                        None => sale.amount,
                    };
                    let what = format!(
                        "refund {amount} of {}",
                        file.of.as_ref().map_or("", |of| of.get_ref())
                    );
                    let original = sale.operation;
                    (
                        TerminalCommand::Refund {
                            operation,
                            original,
                            amount,
                        },
                        what,
                        Some(amount),
                    )
                }
                "void" => {
                    let sale = self.original(file, op, &terminal, at_ms, named)?;
                    let what = format!("void {}", file.of.as_ref().map_or("", |of| of.get_ref()));
                    (
                        TerminalCommand::Void {
                            operation,
                            original: sale.operation,
                        },
                        what,
                        None,
                    )
                }
                "balance" => {
                    let (card, card_currency) = self.read_card(file, op)?;
                    let currency = match &file.currency {
                        Some(value) => match Currency::from_alpha(value.get_ref()) {
                            Some(currency) => currency,
                            None => {
                                self.error(value.span(), format!("unknown currency `{}`", value.get_ref()))
                                    .help = Some("an ISO 4217 code, e.g. \"EUR\"".into());
                                return None;
                            }
                        },
                        None => card_currency.unwrap_or(Currency::EUR),
                    };
                    let what = format!("balance card {} in {currency}", card.pan);
                    (
                        TerminalCommand::Balance {
                            operation,
                            card,
                            currency,
                        },
                        what,
                        None,
                    )
                }
                _ => (
                    TerminalCommand::CloseBatch { operation },
                    "close batch".to_string(),
                    None,
                ),
            };
            return Some((WorkItem::Terminal { terminal, command }, what, amount));
        }
        let bank = self.bank(file.bank.as_ref())?;
        let bank_id = BankId(self.bank_names()[bank].clone());
        let (command, what) = match op {
            "freeze_card" | "unfreeze_card" | "block_card" => {
                let value = self.required(file, &file.card, "card", op)?;
                let pan = self.pan(value)?;
                if self.find_card(&pan).is_none() {
                    self.error(value.span(), format!("card {pan} is not in the topology"));
                    return None;
                }
                let state = match op {
                    "freeze_card" => CardState::Frozen,
                    "block_card" => CardState::Blocked,
                    _ => CardState::Active,
                };
                (
                    BankCommand::SetCardState {
                        pan: pan.clone(),
                        state,
                    },
                    format!("{op} {pan}"),
                )
            }
            "freeze_merchant" | "unfreeze_merchant" | "blacklist_merchant" => {
                let value = self.required(file, &file.merchant, "merchant", op)?;
                let merchant = self.merchant_id(value)?;
                let state = match op {
                    "freeze_merchant" => MerchantState::Frozen,
                    "blacklist_merchant" => MerchantState::Blacklisted,
                    _ => MerchantState::Active,
                };
                (
                    BankCommand::SetMerchantState {
                        merchant: merchant.clone(),
                        state,
                    },
                    format!("{op} {merchant}"),
                )
            }
            "begin_maintenance" => (BankCommand::BeginMaintenance, "begin maintenance".to_string()),
            _ => (BankCommand::EndMaintenance, "end maintenance".to_string()),
        };
        Some((
            WorkItem::Bank {
                bank: bank_id,
                command,
            },
            what,
            None,
        ))
    }

    fn money_of(&mut self, value: &Text) -> Option<Money> {
        self.money(value)
    }

    fn faults(&mut self, file: &FaultsFile) -> FaultPlan {
        let mut plan = FaultPlan::default();
        for rule in &file.messages {
            let link = self.link(&rule.link);
            let rule = self.message_rule(rule);
            if let (Some(link), Some(rule)) = (link, rule) {
                plan.links.entry(link).or_default().rules.push(rule);
            }
        }
        for random in &file.random {
            let Some(link) = self.link(&random.link) else {
                continue;
            };
            let rate = |value: &Option<Text>, errors: &mut Vec<ScenarioError>| -> u32 {
                match value {
                    None => 0,
                    Some(value) => parse_rate_ppm(value.get_ref()).unwrap_or_else(|message| {
                        errors.push(self.source.error(value.span(), message));
                        0
                    }),
                }
            };
            let mut errors = Vec::new();
            let drop_ppm = rate(&random.drop, &mut errors);
            let duplicate_ppm = rate(&random.duplicate, &mut errors);
            let delay_ppm = rate(&random.delay, &mut errors);
            let corrupt_ppm = rate(&random.corrupt, &mut errors);
            self.errors.extend(errors);
            let delay_ms_max = random
                .delay_max
                .as_ref()
                .and_then(|v| self.duration(v))
                .unwrap_or(1_000);
            let faults: &mut LinkFaults = plan.links.entry(link).or_default();
            if faults.random.is_active() {
                self.error(random.link.span(), "this link already has random faults");
            }
            faults.random = crate::plan::RandomMessageFaults {
                drop_ppm,
                duplicate_ppm,
                delay_ppm,
                delay_ms_max,
                corrupt_ppm,
            };
        }
        for partition in &file.partitions {
            let link = self.link(&partition.link);
            let from = self.duration(&partition.from);
            let until = partition
                .until
                .as_ref()
                .map(|until| (self.duration(until), until.span()));
            if let (Some(link), Some(from)) = (link, from) {
                let until_ms = match until {
                    Some((Some(until), span)) => {
                        if until <= from {
                            self.error(span, "a partition must end after it starts");
                        }
                        Some(until)
                    }
                    _ => None,
                };
                plan.partitions.push(LinkPartition {
                    link,
                    from_ms: from,
                    until_ms,
                });
            }
        }
        for crash in &file.crashes {
            self.crash(crash, &mut plan);
        }
        if let Some(block) = &file.torn_writes {
            if *block.get_ref() == 0 {
                self.error(block.span(), "a torn-write block size must be at least 1 byte");
            }
            plan.torn_write_block = Some(*block.get_ref());
        }
        for clock in &file.clocks {
            let Some(host) = self.host(&clock.host) else {
                continue;
            };
            let offset_ms = match &clock.offset {
                Some(value) => match parse_signed_duration_ms(value.get_ref()) {
                    Ok(ms) => ms,
                    Err(message) => {
                        self.error(value.span(), message);
                        0
                    }
                },
                None => 0,
            };
            let drift_ppm = clock.drift_ppm.as_ref().map_or(0, |d| *d.get_ref());
            plan.clocks.insert(host, ClockModel { offset_ms, drift_ppm });
        }
        for injection in &file.injections {
            let link = self.link(&injection.link);
            let at_ms = self.duration(&injection.at);
            let nth = match &injection.nth {
                Some(value) if *value.get_ref() == 0 => {
                    self.error(value.span(), "`nth` counts from 1");
                    None
                }
                Some(value) => Some(*value.get_ref()),
                None => Some(1),
            };
            let nth_value = nth.unwrap_or(1);
            let kind = match injection.kind.get_ref().as_str() {
                "replay" => Some(Injection::Replay { nth: nth_value }),
                "tamper_amount" => Some(Injection::TamperAmount { nth: nth_value }),
                "forge" => Some(Injection::Forge { nth: nth_value }),
                _ => {
                    self.unknown("injection", &injection.kind, INJECTIONS);
                    None
                }
            };
            if let (Some(link), Some(at_ms), Some(_), Some(injection)) = (link, at_ms, nth, kind) {
                plan.links
                    .entry(link)
                    .or_default()
                    .injections
                    .push(TimedInjection { at_ms, injection });
            }
        }
        // The hostile host sends in time order, whatever the file's order.
        for faults in plan.links.values_mut() {
            faults.injections.sort_by_key(|timed| timed.at_ms);
        }
        plan
    }

    fn message_rule(&mut self, file: &MessageFaultFile) -> Option<MessageRule> {
        let direction = match file.direction.as_ref() {
            None => None,
            Some(value) => match value.get_ref().as_str() {
                "request" => Some(Direction::Request),
                "response" => Some(Direction::Response),
                _ => {
                    self.unknown("direction", value, ["request", "response"]);
                    return None;
                }
            },
        };
        let mti = match &file.mti {
            None => None,
            Some(value) => {
                let text = value.get_ref();
                if text.len() != 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
                    self.error(value.span(), format!("`{text}` is not an MTI")).help =
                        Some("four digits, e.g. \"0210\"".into());
                    return None;
                }
                text.parse::<u16>().ok()
            }
        };
        let processing = match &file.processing {
            None => None,
            Some(value) => {
                let text = value.get_ref().as_str();
                let found = ProcessingCode::ALL
                    .into_iter()
                    .find(|code| code.name() == text || code.to_wire() == text);
                if found.is_none() {
                    self.unknown("processing code", value, ["sale", "refund", "void", "balance"]);
                    return None;
                }
                found
            }
        };
        let action_name = file.action.get_ref().as_str();
        let action = match action_name {
            "drop" => MessageAction::Drop,
            "duplicate" => MessageAction::Duplicate {
                copies: file.copies.as_ref().map_or(1, |c| *c.get_ref()),
            },
            "delay" | "resend" => {
                let Some(value) = &file.delay else {
                    self.error(
                        file.action.span(),
                        format!("`{action_name}` needs `delay = \"...\"`"),
                    )
                    .help = Some("e.g. delay = \"6s\"".into());
                    return None;
                };
                let delay_ms = self.duration(value)?;
                if action_name == "delay" {
                    MessageAction::Delay { delay_ms }
                } else {
                    MessageAction::Resend { delay_ms }
                }
            }
            "corrupt" => MessageAction::Corrupt {
                offset: file.offset.as_ref().map(|o| *o.get_ref() as usize),
            },
            _ => {
                self.unknown("fault action", &file.action, FAULT_ACTIONS);
                return None;
            }
        };
        let checks: [FieldCheck; 3] = [
            ("copies", file.copies.as_ref().map(Spanned::span), &["duplicate"]),
            (
                "delay",
                file.delay.as_ref().map(Spanned::span),
                &["delay", "resend"],
            ),
            ("offset", file.offset.as_ref().map(Spanned::span), &["corrupt"]),
        ];
        for (field, span, actions) in checks {
            if let Some(span) = span {
                if !actions.contains(&action_name) {
                    self.error(
                        span,
                        format!("`{field}` does not apply to action `{action_name}`"),
                    );
                }
            }
        }
        let from_ms = match &file.from {
            Some(value) => Some(self.duration(value)?),
            None => None,
        };
        let until_ms = match &file.until {
            Some(value) => Some(self.duration(value)?),
            None => None,
        };
        if let Some(nth) = &file.nth {
            if *nth.get_ref() == 0 {
                self.error(nth.span(), "`nth` counts from 1");
            }
        }
        Some(MessageRule {
            matching: MessageMatch {
                direction,
                mti,
                processing,
                stan: file.stan.as_ref().map(|s| *s.get_ref()),
                nth: file.nth.as_ref().map(|n| *n.get_ref()),
            },
            action,
            from_ms,
            until_ms,
        })
    }

    fn crash(&mut self, file: &CrashFile, plan: &mut FaultPlan) {
        let Some(host) = self.host(&file.host) else { return };
        let restart = match &file.restart_after {
            Some(value) => match self.duration(value) {
                Some(ms) => Some(ms),
                None => return,
            },
            None => None,
        };
        match (&file.at, &file.point) {
            (Some(at), None) => {
                if let Some(nth) = &file.nth {
                    self.error(
                        nth.span(),
                        "`nth` applies to a crash at a `point`, not `at` a time",
                    );
                }
                let Some(at_ms) = self.duration(at) else { return };
                plan.crashes.push(TimedCrash {
                    host,
                    at_ms,
                    restart_after_ms: restart,
                });
            }
            (None, Some(point)) => {
                let kind = host.kind();
                let all = all_crash_points();
                let known = all.iter().find(|(_, name)| name == point.get_ref());
                match known {
                    None => self.unknown("crash point", point, all.iter().map(|(_, name)| *name)),
                    Some((point_kind, _)) if *point_kind != kind => {
                        let names: Vec<&str> =
                            all.iter().filter(|(k, _)| *k == kind).map(|(_, n)| *n).collect();
                        self.error(
                            point.span(),
                            format!(
                                "`{}` is a {point_kind} crash point, but {host} is a {kind}",
                                point.get_ref()
                            ),
                        )
                        .help = Some(format!("{kind} crash points: {}", names.join(", ")));
                    }
                    Some(_) => {
                        let nth = file.nth.as_ref().map_or(1, |n| *n.get_ref());
                        if nth == 0 {
                            if let Some(value) = &file.nth {
                                self.error(value.span(), "`nth` counts from 1");
                            }
                        }
                        plan.crash_points.push(ArmedCrash {
                            host,
                            point: point.get_ref().clone(),
                            nth,
                            restart_after_ms: restart,
                        });
                    }
                }
            }
            (Some(at), Some(_)) => {
                self.error(
                    at.span(),
                    "a crash is either `at` a time or at a `point`, not both",
                );
            }
            (None, None) => {
                self.error(
                    file.host.span(),
                    "a crash needs `at = \"...\"` or `point = \"...\"`",
                )
                .help = Some("`payfault crash-points` lists the points".into());
            }
        }
    }

    fn expectations(&mut self, files: &[ExpectFile], named: &BTreeMap<String, SaleRef>) -> Vec<Expectation> {
        let mut expectations = Vec::new();
        for file in files {
            if let Some(operation) = &file.operation {
                for (field, span) in [
                    ("card", file.card.as_ref().map(Spanned::span)),
                    ("merchant", file.merchant.as_ref().map(Spanned::span)),
                    ("clearing", file.clearing.as_ref().map(Spanned::span)),
                    ("balance", file.balance.as_ref().map(Spanned::span)),
                ] {
                    if let Some(span) = span {
                        self.error(
                            span,
                            format!("`{field}` does not go with `operation` in one [[expect]]"),
                        )
                        .help = Some("write one [[expect]] per operation and one per account".into());
                    }
                }
                let Some(sale) = named.get(operation.get_ref()) else {
                    let error = self
                        .source
                        .error(
                            operation.span(),
                            format!("no operation has the id `{}`", operation.get_ref()),
                        )
                        .suggest(operation.get_ref(), named.keys().map(String::as_str))
                        .with_help("give the operation an `id` and name it here");
                    self.errors.push(error);
                    continue;
                };
                let Some(shows_value) = &file.shows else {
                    self.error(operation.span(), "an operation expectation needs `shows`")
                        .help = Some(format!("one of: {}", ShowKind::NAMES.join(", ")));
                    continue;
                };
                let Some(shows) = ShowKind::parse(shows_value.get_ref()) else {
                    self.unknown("outcome", shows_value, ShowKind::NAMES);
                    continue;
                };
                let code = match &file.code {
                    None => None,
                    Some(value) => match ResponseCode::from_wire(value.get_ref()) {
                        Ok(code) => Some(code),
                        Err(_) => {
                            self.error(
                                value.span(),
                                format!("`{}` is not a response code", value.get_ref()),
                            )
                            .help = Some("two digits as in docs/protocol.md, e.g. \"13\"".into());
                            continue;
                        }
                    },
                };
                if code.is_some() && !matches!(shows, ShowKind::Declined | ShowKind::FailedReversed) {
                    if let Some(value) = &file.code {
                        self.error(value.span(), "`code` goes with declined or failed_reversed");
                    }
                }
                if file.uploaded.is_some() && shows != ShowKind::BatchClosed {
                    if let Some(value) = &file.uploaded {
                        self.error(value.span(), "`uploaded` goes with batch_closed");
                    }
                }
                expectations.push(Expectation::Shows {
                    name: operation.get_ref().clone(),
                    operation: sale.operation,
                    shows,
                    code,
                    uploaded: file.uploaded.as_ref().map(|u| *u.get_ref()),
                });
                continue;
            }
            if let Some(value) = &file.shows {
                self.error(value.span(), "`shows` needs `operation`");
                continue;
            }
            let account = match (&file.card, &file.merchant, &file.clearing) {
                (Some(card), None, None) => {
                    let Some(pan) = self.pan(card) else { continue };
                    if self.find_card(&pan).is_none() {
                        self.error(card.span(), format!("card {pan} is not in the topology"));
                        continue;
                    }
                    (format!("card {pan}"), Account::Cardholder(pan))
                }
                (None, Some(merchant), None) => {
                    let Some(id) = self.merchant_id(merchant) else {
                        continue;
                    };
                    (format!("merchant {id}"), Account::Merchant(id))
                }
                (None, None, Some(clearing)) => {
                    let Some(currency) = Currency::from_alpha(clearing.get_ref()) else {
                        self.error(
                            clearing.span(),
                            format!("unknown currency `{}`", clearing.get_ref()),
                        );
                        continue;
                    };
                    (format!("clearing {currency}"), Account::Clearing(currency))
                }
                (None, None, None) => {
                    let span = file.balance.as_ref().map_or(0..0, Spanned::span);
                    self.error(
                        span,
                        "an [[expect]] names an `operation`, or a `card`, `merchant` or `clearing` account",
                    );
                    continue;
                }
                _ => {
                    let span = file
                        .card
                        .as_ref()
                        .or(file.merchant.as_ref())
                        .map_or(0..0, Spanned::span);
                    self.error(span, "one account per [[expect]]");
                    continue;
                }
            };
            let Some(balance_value) = &file.balance else {
                let span = file
                    .card
                    .as_ref()
                    .or(file.merchant.as_ref())
                    .or(file.clearing.as_ref())
                    .map_or(0..0, Spanned::span);
                self.error(span, "an account expectation needs `balance`").help =
                    Some("e.g. balance = \"987.50 EUR\"".into());
                continue;
            };
            let Some(balance) = self.money(balance_value) else {
                continue;
            };
            expectations.push(Expectation::Balance {
                label: account.0,
                account: account.1,
                balance,
            });
        }
        expectations
    }
}

fn present_fields(file: &OperationFile) -> Vec<(&'static str, Range<usize>)> {
    [
        ("terminal", &file.terminal),
        ("card", &file.card),
        ("expiry", &file.expiry),
        ("amount", &file.amount),
        ("of", &file.of),
        ("currency", &file.currency),
        ("merchant", &file.merchant),
        ("bank", &file.bank),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.as_ref().map(|value| (name, value.span())))
    .collect()
}
