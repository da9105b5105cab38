//! Lowering a parsed scenario file to a [`Plan`] (workload and fault
//! plan on top of the built-in topology) and its expectations, checking
//! every name and value on the way. Errors are collected, each located,
//! and sorted by place.
//!
//! One file per section of the scenario file: `topology` (cards,
//! merchants, terminals, maintenance, timeouts and `[timing]`),
//! `operations`, `faults` and `expectations`; this module holds the
//! shared checks of names and values.

mod expectations;
mod faults;
mod operations;
mod topology;

use std::ops::Range;

use serde::Serialize;

use super::format::{ScenarioFile, Text};
use super::parse::{parse_duration_ms, parse_money, ScenarioError, ScenarioErrors, Source};
use super::vocabulary::Named;
use crate::history::Account;
use crate::node::bank::CardholderAccount;
use crate::node::{Bug, Bugs, OperationId};
use crate::plan::topology::Topology;
use crate::plan::{HostId, LinkId, Plan, SWITCH_HOST};
use crate::wire::types::{Amount, Expiry, Money, Pan, ResponseCode, TerminalId};

pub use super::vocabulary::ShowKind;

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
    /// Planted bugs the file switches on (already on in every node of
    /// [`Scenario::plan`]; kept here to write and name them).
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

struct Lowerer<'a> {
    source: &'a Source,
    errors: Vec<ScenarioError>,
    topology: Topology,
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

    /// The value named `value`, or an "unknown `what`" error suggesting
    /// the nearest name.
    fn named<T: Named>(&mut self, what: &str, value: &Text) -> Option<T> {
        let found = T::from_name(value.get_ref());
        if found.is_none() {
            self.unknown(what, value, T::NAMES.iter().copied());
        }
        found
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
}
