//! Writing a [`Plan`] out as a scenario file: the way back from a
//! generated or shrunk run to something QA can read, edit and commit.
//!
//! The plan becomes the [`format`](super::format) model the parser reads,
//! stating what differs from the built-in topology and every operation and
//! fault of the plan, and that model is serialized as TOML. [`write`]
//! checks its own output: the text is parsed and lowered again, and it is
//! returned only when that gives back exactly the plan it was written
//! from, so a written scenario always replays its run (same trace hash).

use serde_spanned::Spanned;

use super::format::{
    CardFile, ClockFile, CrashFile, FaultsFile, InjectionFile, MaintenanceFile, MerchantFile,
    MessageFaultFile, OperationFile, PartitionFile, RandomFile, ScenarioFile, TerminalFile, Text,
    TimeoutsFile, TimingFile, TopologyChanges,
};
use super::vocabulary::{ActionKind, InjectionKind, Named, OperationKey, OperationKind};
use crate::node::bank::{BankCommand, CardState, CardholderAccount, MerchantAccount, MerchantState};
use crate::node::terminal::{Card, TerminalCommand, TerminalConfig};
use crate::node::{Bug, OperationId};
use crate::plan::topology::Topology;
use crate::plan::{MessageAction, MessageRule, RandomMessageFaults};
use crate::plan::{Plan, Step, Timing, WorkItem};
use crate::wire::types::{Amount, Currency, Money};

/// What a written file says about itself.
#[derive(Debug, Clone)]
pub struct Header {
    /// The scenario's name (letters, digits, `-`, `_`).
    pub name: String,
    /// The incident class, `A` to `E`.
    pub incident: char,
    /// One paragraph: what the run shows.
    pub description: String,
    /// The planted bugs the plan's nodes run with.
    pub bugs: Vec<Bug>,
}

/// The scenario file of `plan`, or why it cannot be written exactly.
pub fn write(plan: &Plan, header: &Header) -> Result<String, String> {
    let text = toml::to_string(&scenario_file(plan, header)?)
        .map_err(|error| format!("the scenario cannot be written as TOML: {error}"))?;
    let scenario = super::parse(&format!("{}.toml", header.name), &text)
        .map_err(|errors| format!("the written scenario does not validate:\n{errors}\n{text}"))?;
    if scenario.plan != *plan {
        return Err(format!(
            "the plan has parts a scenario file cannot state (it would not replay exactly):\n{text}"
        ));
    }
    Ok(text)
}

/// A value as written: it has no place in a file yet.
fn written<T>(value: T) -> Spanned<T> {
    Spanned::new(0..0, value)
}

/// A text value as written.
fn text(value: impl Into<String>) -> Text {
    written(value.into())
}

/// A duration value as written.
fn duration_text(ms: u64) -> Text {
    text(duration(ms))
}

/// `value` when it differs from `default`: what a file states.
fn changed<T: PartialEq>(value: T, default: T) -> Option<T> {
    (value != default).then_some(value)
}

fn scenario_file(plan: &Plan, header: &Header) -> Result<ScenarioFile, String> {
    Ok(ScenarioFile {
        name: text(&header.name),
        incident: text(header.incident),
        description: text(format!("{}\n", wrap(&header.description, 76))),
        seed: Some(written(plan.seed)),
        bugs: header.bugs.iter().map(|bug| text(bug.name())).collect(),
        topology: topology(plan)?,
        timing: timing(&plan.timing)?,
        operations: operations(plan)?,
        faults: faults(plan),
        expect: Vec::new(),
    })
}

fn timing(timing: &Timing) -> Result<TimingFile, String> {
    let default = Timing::default();
    let fixed = (
        timing.tick_ms,
        timing.limit_ms,
        timing.stale_connection_ms,
        timing.settle_ms,
    );
    if fixed
        != (
            default.tick_ms,
            default.limit_ms,
            default.stale_connection_ms,
            default.settle_ms,
        )
    {
        return Err(
            "a scenario file states only the fault phase, the quiet time and the end-of-day closes".into(),
        );
    }
    Ok(TimingFile {
        fault_phase: changed(timing.fault_phase_ms, default.fault_phase_ms).map(duration_text),
        quiet: changed(timing.quiet_ms, default.quiet_ms).map(duration_text),
        close_batches_at_end: changed(timing.close_batches_at_end, true).map(written),
    })
}

fn topology(plan: &Plan) -> Result<TopologyChanges, String> {
    let standard = Topology::standard();
    let [bank] = plan.topology.banks.as_slice() else {
        return Err("a scenario file has one bank".into());
    };
    let standard_bank = &standard.banks[0];
    let cards = bank.cardholders.iter().filter_map(|card| {
        let built_in = standard_bank.cardholders.iter().find(|c| c.pan == card.pan);
        (built_in != Some(card)).then(|| card_entry(card, built_in))
    });
    let merchants = bank.merchants.iter().filter_map(|merchant| {
        let built_in = standard_bank.merchants.iter().find(|m| m.id == merchant.id);
        (built_in != Some(merchant)).then(|| merchant_entry(merchant, built_in))
    });
    let names = |terminals: &[TerminalConfig]| -> Vec<(String, String)> {
        terminals
            .iter()
            .map(|t| (t.terminal.to_string(), t.merchant.to_string()))
            .collect()
    };
    let terminals = if names(&plan.topology.terminals) == names(&standard.terminals) {
        Vec::new()
    } else {
        plan.topology
            .terminals
            .iter()
            .map(|terminal| TerminalFile {
                id: text(terminal.terminal.as_str()),
                merchant: text(terminal.merchant.as_str()),
            })
            .collect()
    };
    let maintenance = bank.maintenance.iter().map(|(from, until)| MaintenanceFile {
        bank: None,
        from: duration_text(from.0),
        until: duration_text(until.0),
    });
    Ok(TopologyChanges {
        cards: cards.collect(),
        merchants: merchants.collect(),
        terminals,
        maintenance: maintenance.collect(),
        timeouts: timeouts(plan, &standard)?,
        switch_pending_max: match changed(plan.topology.switch.pending_max, standard.switch.pending_max) {
            None => None,
            Some(max) => Some(written(u32::try_from(max).map_err(|_| {
                format!(
                    "a switch that keeps {max} requests has no scenario form (at most {})",
                    u32::MAX
                )
            })?)),
        },
    })
}

fn timeouts(plan: &Plan, standard: &Topology) -> Result<TimeoutsFile, String> {
    let terminal = &standard.terminals[0];
    let first = plan.topology.terminals.first().unwrap_or(terminal);
    if plan.topology.terminals.iter().any(|t| {
        (t.response_timeout_ms, t.reversal_retry_ms) != (first.response_timeout_ms, first.reversal_retry_ms)
    }) {
        return Err("a scenario file gives every terminal the same timeouts".into());
    }
    let (switch, standard_switch) = (&plan.topology.switch, &standard.switch);
    let stated = |value: u64, default: u64| changed(value, default).map(duration_text);
    Ok(TimeoutsFile {
        terminal_response: stated(first.response_timeout_ms, terminal.response_timeout_ms),
        terminal_reversal_retry: stated(first.reversal_retry_ms, terminal.reversal_retry_ms),
        switch_bank: stated(switch.bank_timeout_ms, standard_switch.bank_timeout_ms),
        switch_reversal_retry: stated(switch.reversal_retry_ms, standard_switch.reversal_retry_ms),
        switch_settlement_retry: stated(switch.settlement_retry_ms, standard_switch.settlement_retry_ms),
    })
}

/// A changed built-in card (only what changed) or a new one.
fn card_entry(card: &CardholderAccount, built_in: Option<&CardholderAccount>) -> CardFile {
    let money_text = |amount: Amount| text(money(amount, card.currency));
    let same_balance = built_in.is_some_and(|b| (b.balance, b.currency) == (card.balance, card.currency));
    let default_state = built_in.map_or(CardState::Active, |b| b.state);
    let default_expiry = built_in.map_or("2812".to_string(), |b| b.expiry.to_wire());
    let limit = |value: Option<Amount>, default: Option<Amount>| {
        value.filter(|value| Some(*value) != default).map(money_text)
    };
    CardFile {
        pan: text(card.pan.as_str()),
        balance: (!same_balance).then(|| money_text(card.balance)),
        state: changed(card.state, default_state).map(|state| text(state.name())),
        expiry: changed(card.expiry.to_wire(), default_expiry).map(text),
        transaction_limit: limit(card.transaction_limit, built_in.and_then(|b| b.transaction_limit)),
        daily_limit: limit(card.daily_limit, built_in.and_then(|b| b.daily_limit)),
        daily_count_limit: card
            .daily_count_limit
            .filter(|count| Some(*count) != built_in.and_then(|b| b.daily_count_limit))
            .map(written),
    }
}

/// A changed built-in merchant (only what changed) or a new one.
fn merchant_entry(merchant: &MerchantAccount, built_in: Option<&MerchantAccount>) -> MerchantFile {
    let money_text = |amount: Amount| text(money(amount, merchant.currency));
    let same_balance =
        built_in.is_some_and(|b| (b.balance, b.currency) == (merchant.balance, merchant.currency));
    let default_state = built_in.map_or(MerchantState::Active, |b| b.state);
    let amount = |value: Option<Amount>, default: Option<Amount>| {
        value.filter(|value| Some(*value) != default).map(money_text)
    };
    MerchantFile {
        id: text(merchant.id.as_str()),
        balance: (!same_balance).then(|| money_text(merchant.balance)),
        state: changed(merchant.state, default_state).map(|state| text(state.name())),
        refund_cap: amount(merchant.refund_cap, built_in.and_then(|b| b.refund_cap)),
        refund_window: merchant
            .refund_window_ms
            .filter(|window| Some(*window) != built_in.and_then(|b| b.refund_window_ms))
            .map(duration_text),
        daily_refund_limit: amount(
            merchant.daily_refund_limit,
            built_in.and_then(|b| b.daily_refund_limit),
        ),
    }
}

fn operations(plan: &Plan) -> Result<Vec<OperationFile>, String> {
    let default_terminal = plan.topology.terminals.first().map(|t| t.terminal.clone());
    let cards = &plan.topology.banks[0].cardholders;
    let mut entries = Vec::new();
    for (index, step) in plan.workload.iter().enumerate() {
        let expected = OperationId(index as u32 + 1);
        let mut fields = Vec::new();
        let (kind, id) = match &step.item {
            WorkItem::Terminal { terminal, command } => {
                let operation = command.operation();
                if operation != expected {
                    return Err(format!(
                        "operation {} stands at place {} of the workload: a file numbers operations by place",
                        operation.0, expected.0
                    ));
                }
                if Some(terminal) != default_terminal.as_ref() {
                    fields.push((OperationKey::Terminal, text(terminal.as_str())));
                }
                let kind = terminal_fields(command, cards, &mut fields);
                (kind, Some(text(operation.to_string())))
            }
            WorkItem::Bank { bank, command } => {
                let kind = bank_fields(command, &mut fields)?;
                if bank.0 != plan.topology.banks[0].id.0 {
                    fields.push((OperationKey::Bank, text(&bank.0)));
                }
                (kind, None)
            }
        };
        entries.push(OperationFile {
            at: duration_text(step.at_ms),
            op: text(kind.name()),
            id,
            fields,
        });
    }
    check_originals(&plan.workload)?;
    Ok(entries)
}

fn check_originals(workload: &[Step]) -> Result<(), String> {
    for step in workload {
        if let WorkItem::Terminal {
            command: TerminalCommand::Refund { original, .. } | TerminalCommand::Void { original, .. },
            ..
        } = &step.item
        {
            let is_sale = workload.iter().any(|other| {
                matches!(&other.item, WorkItem::Terminal { command: TerminalCommand::Sale { operation, .. }, .. } if operation == original)
            });
            if !is_sale {
                return Err(format!(
                    "a refund or void names operation {}, which is not a sale",
                    original.0
                ));
            }
        }
    }
    Ok(())
}

/// The kind of a terminal command; its keys go to `fields`.
fn terminal_fields(
    command: &TerminalCommand,
    cards: &[CardholderAccount],
    fields: &mut Vec<(OperationKey, Text)>,
) -> OperationKind {
    // The card, and its expiry unless the bank's; gives the card's currency.
    let card_fields = |fields: &mut Vec<(OperationKey, Text)>, card: &Card| {
        fields.push((OperationKey::Card, text(card.pan.as_str())));
        let known = cards.iter().find(|account| account.pan == card.pan);
        if known.map(|account| account.expiry) != Some(card.expiry) {
            fields.push((OperationKey::Expiry, text(card.expiry.to_wire())));
        }
        known.map(|account| account.currency)
    };
    match command {
        TerminalCommand::Sale { card, amount, .. } => {
            card_fields(fields, card);
            fields.push((OperationKey::Amount, text(amount.to_string())));
            OperationKind::Sale
        }
        TerminalCommand::Refund { original, amount, .. } => {
            fields.push((OperationKey::Of, text(original.to_string())));
            fields.push((OperationKey::Amount, text(amount.to_string())));
            OperationKind::Refund
        }
        TerminalCommand::Void { original, .. } => {
            fields.push((OperationKey::Of, text(original.to_string())));
            OperationKind::Void
        }
        TerminalCommand::Balance { card, currency, .. } => {
            let card_currency = card_fields(fields, card);
            if card_currency.unwrap_or(Currency::EUR) != *currency {
                fields.push((OperationKey::Currency, text(currency.to_string())));
            }
            OperationKind::Balance
        }
        TerminalCommand::CloseBatch { .. } => OperationKind::CloseBatch,
    }
}

/// The kind of a bank command; its keys go to `fields`.
fn bank_fields(
    command: &BankCommand,
    fields: &mut Vec<(OperationKey, Text)>,
) -> Result<OperationKind, String> {
    Ok(match command {
        BankCommand::SetCardState { pan, state } => {
            fields.push((OperationKey::Card, text(pan.as_str())));
            match state {
                CardState::Active => OperationKind::UnfreezeCard,
                CardState::Frozen => OperationKind::FreezeCard,
                CardState::Blocked => OperationKind::BlockCard,
                CardState::NotActivated => {
                    return Err("a scenario file cannot set a card back to not activated".into())
                }
            }
        }
        BankCommand::SetMerchantState { merchant, state } => {
            fields.push((OperationKey::Merchant, text(merchant.as_str())));
            match state {
                MerchantState::Active => OperationKind::UnfreezeMerchant,
                MerchantState::Frozen => OperationKind::FreezeMerchant,
                MerchantState::Blacklisted => OperationKind::BlacklistMerchant,
            }
        }
        BankCommand::BeginMaintenance => OperationKind::BeginMaintenance,
        BankCommand::EndMaintenance => OperationKind::EndMaintenance,
    })
}

fn faults(plan: &Plan) -> FaultsFile {
    let faults = &plan.faults;
    let links = || {
        faults
            .links
            .iter()
            .map(|(link, faults)| (text(link.name()), faults))
    };
    let messages = links().flat_map(|(link, faults)| {
        faults
            .rules
            .iter()
            .map(move |rule| message_rule(link.clone(), rule))
    });
    let random = links()
        .filter(|(_, faults)| faults.random.is_active())
        .map(|(link, faults)| random(link, &faults.random));
    let injections = links().flat_map(|(link, faults)| {
        faults.injections.iter().map(move |timed| {
            let (kind, nth) = InjectionKind::of(&timed.injection);
            InjectionFile {
                link: link.clone(),
                at: duration_text(timed.at_ms),
                kind: text(kind.name()),
                nth: Some(written(nth)),
            }
        })
    });
    let partitions = faults.partitions.iter().map(|partition| PartitionFile {
        link: text(partition.link.name()),
        from: duration_text(partition.from_ms),
        until: partition.until_ms.map(duration_text),
    });
    let timed_crashes = faults.crashes.iter().map(|crash| CrashFile {
        host: text(crash.host.name()),
        at: Some(duration_text(crash.at_ms)),
        point: None,
        nth: None,
        restart_after: crash.restart_after_ms.map(duration_text),
    });
    let point_crashes = faults.crash_points.iter().map(|crash| CrashFile {
        host: text(crash.host.name()),
        at: None,
        point: Some(text(&crash.point)),
        nth: Some(written(crash.nth)),
        restart_after: crash.restart_after_ms.map(duration_text),
    });
    let clocks = faults.clocks.iter().map(|(host, clock)| ClockFile {
        host: text(host.name()),
        offset: Some(text(signed_duration(clock.offset_ms))),
        drift_ppm: Some(written(clock.drift_ppm)),
    });
    FaultsFile {
        messages: messages.collect(),
        partitions: partitions.collect(),
        crashes: timed_crashes.chain(point_crashes).collect(),
        torn_writes: faults.torn_write_block.map(written),
        clocks: clocks.collect(),
        random: random.collect(),
        injections: injections.collect(),
    }
}

fn message_rule(link: Text, rule: &MessageRule) -> MessageFaultFile {
    let matching = &rule.matching;
    let (action, copies, delay, offset) = match &rule.action {
        MessageAction::Drop => (ActionKind::Drop, None, None, None),
        MessageAction::Duplicate { copies } => (ActionKind::Duplicate, Some(*copies), None, None),
        MessageAction::Delay { delay_ms } => (ActionKind::Delay, None, Some(*delay_ms), None),
        MessageAction::Resend { delay_ms } => (ActionKind::Resend, None, Some(*delay_ms), None),
        MessageAction::Corrupt { offset } => (ActionKind::Corrupt, None, None, *offset),
    };
    MessageFaultFile {
        link,
        action: text(action.name()),
        direction: matching.direction.map(|direction| text(direction.name())),
        mti: matching.mti.map(|mti| text(format!("{mti:04}"))),
        processing: matching.processing.map(|processing| text(processing.name())),
        stan: matching.stan.map(written),
        nth: matching.nth.map(written),
        copies: copies.map(written),
        delay: delay.map(duration_text),
        offset: offset.map(|offset| written(u32::try_from(offset).unwrap_or(u32::MAX))),
        from: rule.from_ms.map(duration_text),
        until: rule.until_ms.map(duration_text),
    }
}

fn random(link: Text, random: &RandomMessageFaults) -> RandomFile {
    let rate_text = |ppm: u32| (ppm > 0).then(|| text(rate(ppm)));
    RandomFile {
        link,
        drop: rate_text(random.drop_ppm),
        duplicate: rate_text(random.duplicate_ppm),
        delay: rate_text(random.delay_ppm),
        delay_max: Some(duration_text(random.delay_ms_max)),
        corrupt: rate_text(random.corrupt_ppm),
    }
}

/// A rate as a file writes it: `"5%"` when whole percent, else `"1234ppm"`.
fn rate(ppm: u32) -> String {
    if ppm % 10_000 == 0 {
        format!("{}%", ppm / 10_000)
    } else {
        format!("{ppm}ppm")
    }
}

/// A duration as a file writes it: `"3s"` when whole seconds, else `"1250ms"`.
pub fn duration(ms: u64) -> String {
    if ms % 1_000 == 0 {
        format!("{}s", ms / 1_000)
    } else {
        format!("{ms}ms")
    }
}

fn signed_duration(ms: i64) -> String {
    let text = duration(ms.unsigned_abs());
    if ms < 0 {
        format!("-{text}")
    } else {
        text
    }
}

fn money(amount: Amount, currency: Currency) -> String {
    Money { amount, currency }.to_string()
}

/// `text` in lines of at most `width` characters, for a multi-line string.
fn wrap(text: &str, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        if !current.is_empty() && current.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    lines.push(current);
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_rates_are_written_in_the_file_units() {
        assert_eq!(duration(3_000), "3s");
        assert_eq!(duration(1_250), "1250ms");
        assert_eq!(signed_duration(-2_000), "-2s");
        assert_eq!(rate(50_000), "5%");
        assert_eq!(rate(1_234), "1234ppm");
    }

    #[test]
    fn descriptions_wrap_and_keep_every_character() {
        let description = "a \"quoted\" back\\slash word list";
        let wrapped = wrap(description, 10);
        assert!(wrapped.lines().all(|line| line.len() <= 10), "{wrapped}");
        let mut table = toml::Table::new();
        table.insert("description".into(), wrapped.into());
        let written = toml::to_string(&table).unwrap();
        let read: toml::Table = toml::from_str(&written).unwrap();
        let words: Vec<&str> = read["description"].as_str().unwrap().split_whitespace().collect();
        assert_eq!(words.join(" "), description);
    }
}
