//! Writing a [`Plan`] out as a scenario file: the way back from a
//! generated or shrunk run to something QA can read, edit and commit.
//!
//! The file states what differs from the built-in topology and every
//! operation and fault of the plan. [`write`] checks its own output: the
//! text is parsed and lowered again, and it is returned only when that gives
//! back exactly the plan it was written from, so a written scenario always
//! replays its run (same trace hash).

use std::fmt::Write as _;

use crate::node::bank::{BankCommand, CardState, CardholderAccount, MerchantAccount, MerchantState};
use crate::node::terminal::TerminalCommand;
use crate::node::{Bug, OperationId};
use crate::plan::topology::Topology;
use crate::plan::{Direction, Injection, MessageAction, MessageRule, RandomMessageFaults};
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
    let text = render(plan, header)?;
    let scenario = super::parse(&format!("{}.toml", header.name), &text)
        .map_err(|errors| format!("the written scenario does not validate:\n{errors}\n{text}"))?;
    if scenario.plan != *plan {
        return Err(format!(
            "the plan has parts a scenario file cannot state (it would not replay exactly):\n{text}"
        ));
    }
    Ok(text)
}

fn render(plan: &Plan, header: &Header) -> Result<String, String> {
    let mut out = String::new();
    let line = |out: &mut String, key: &str, value: String| {
        let _ = writeln!(out, "{key} = {value}");
    };
    line(&mut out, "name", quote(&header.name));
    line(&mut out, "incident", quote(&header.incident.to_string()));
    let _ = writeln!(
        out,
        "description = \"\"\"\n{}\n\"\"\"",
        wrap(&header.description, 76)
    );
    line(&mut out, "seed", plan.seed.to_string());
    if !header.bugs.is_empty() {
        let names: Vec<String> = header.bugs.iter().map(|bug| quote(bug.name())).collect();
        line(&mut out, "bugs", format!("[{}]", names.join(", ")));
    }
    timing(&mut out, &plan.timing)?;
    topology(&mut out, plan)?;
    operations(&mut out, plan)?;
    faults(&mut out, plan);
    Ok(out)
}

fn timing(out: &mut String, timing: &Timing) -> Result<(), String> {
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
    if *timing == default {
        return Ok(());
    }
    let _ = writeln!(out, "\n[timing]");
    if timing.fault_phase_ms != default.fault_phase_ms {
        let _ = writeln!(out, "fault_phase = {}", quote(&duration(timing.fault_phase_ms)));
    }
    if timing.quiet_ms != default.quiet_ms {
        let _ = writeln!(out, "quiet = {}", quote(&duration(timing.quiet_ms)));
    }
    if !timing.close_batches_at_end {
        let _ = writeln!(out, "close_batches_at_end = false");
    }
    Ok(())
}

fn topology(out: &mut String, plan: &Plan) -> Result<(), String> {
    let standard = Topology::standard();
    let [bank] = plan.topology.banks.as_slice() else {
        return Err("a scenario file has one bank".into());
    };
    let standard_bank = &standard.banks[0];
    for card in &bank.cardholders {
        let built_in = standard_bank.cardholders.iter().find(|c| c.pan == card.pan);
        if built_in != Some(card) {
            card_entry(out, card, built_in);
        }
    }
    for merchant in &bank.merchants {
        let built_in = standard_bank.merchants.iter().find(|m| m.id == merchant.id);
        if built_in != Some(merchant) {
            merchant_entry(out, merchant, built_in);
        }
    }
    let names = |terminals: &[crate::node::terminal::TerminalConfig]| -> Vec<(String, String)> {
        terminals
            .iter()
            .map(|t| (t.terminal.to_string(), t.merchant.to_string()))
            .collect()
    };
    if names(&plan.topology.terminals) != names(&standard.terminals) {
        for terminal in &plan.topology.terminals {
            let _ = writeln!(out, "\n[[topology.terminals]]");
            let _ = writeln!(out, "id = {}", quote(terminal.terminal.as_str()));
            let _ = writeln!(out, "merchant = {}", quote(terminal.merchant.as_str()));
        }
    }
    for (from, until) in &bank.maintenance {
        let _ = writeln!(out, "\n[[topology.maintenance]]");
        let _ = writeln!(out, "from = {}", quote(&duration(from.0)));
        let _ = writeln!(out, "until = {}", quote(&duration(until.0)));
    }
    timeouts(out, plan, &standard)
}

fn timeouts(out: &mut String, plan: &Plan, standard: &Topology) -> Result<(), String> {
    let terminal = &standard.terminals[0];
    let mut lines = Vec::new();
    let first = plan.topology.terminals.first().unwrap_or(terminal);
    if plan.topology.terminals.iter().any(|t| {
        (t.response_timeout_ms, t.reversal_retry_ms) != (first.response_timeout_ms, first.reversal_retry_ms)
    }) {
        return Err("a scenario file gives every terminal the same timeouts".into());
    }
    let pairs = [
        (
            "terminal_response",
            first.response_timeout_ms,
            terminal.response_timeout_ms,
        ),
        (
            "terminal_reversal_retry",
            first.reversal_retry_ms,
            terminal.reversal_retry_ms,
        ),
        (
            "switch_bank",
            plan.topology.switch.bank_timeout_ms,
            standard.switch.bank_timeout_ms,
        ),
        (
            "switch_reversal_retry",
            plan.topology.switch.reversal_retry_ms,
            standard.switch.reversal_retry_ms,
        ),
        (
            "switch_settlement_retry",
            plan.topology.switch.settlement_retry_ms,
            standard.switch.settlement_retry_ms,
        ),
    ];
    for (key, value, default) in pairs {
        if value != default {
            lines.push(format!("{key} = {}", quote(&duration(value))));
        }
    }
    if !lines.is_empty() {
        let _ = writeln!(out, "\n[topology.timeouts]\n{}", lines.join("\n"));
    }
    Ok(())
}

fn card_entry(out: &mut String, card: &CardholderAccount, built_in: Option<&CardholderAccount>) {
    let _ = writeln!(out, "\n[[topology.cards]]");
    let _ = writeln!(out, "pan = {}", quote(card.pan.as_str()));
    let changed = |same: bool| built_in.is_none() || !same;
    if changed(built_in.is_some_and(|b| (b.balance, b.currency) == (card.balance, card.currency))) {
        let _ = writeln!(out, "balance = {}", quote(&money(card.balance, card.currency)));
    }
    let new_default_state = built_in.map_or(CardState::Active, |b| b.state);
    if card.state != new_default_state {
        let _ = writeln!(out, "state = {}", quote(card_state(card.state)));
    }
    let default_expiry = built_in.map_or("2812".to_string(), |b| b.expiry.to_wire());
    if card.expiry.to_wire() != default_expiry {
        let _ = writeln!(out, "expiry = {}", quote(&card.expiry.to_wire()));
    }
    let limits = [
        (
            "transaction_limit",
            card.transaction_limit,
            built_in.and_then(|b| b.transaction_limit),
        ),
        (
            "daily_limit",
            card.daily_limit,
            built_in.and_then(|b| b.daily_limit),
        ),
    ];
    for (key, value, default) in limits {
        if let Some(value) = value.filter(|value| Some(*value) != default) {
            let _ = writeln!(out, "{key} = {}", quote(&money(value, card.currency)));
        }
    }
    if let Some(count) = card
        .daily_count_limit
        .filter(|count| Some(*count) != built_in.and_then(|b| b.daily_count_limit))
    {
        let _ = writeln!(out, "daily_count_limit = {count}");
    }
}

fn merchant_entry(out: &mut String, merchant: &MerchantAccount, built_in: Option<&MerchantAccount>) {
    let _ = writeln!(out, "\n[[topology.merchants]]");
    let _ = writeln!(out, "id = {}", quote(merchant.id.as_str()));
    let same_balance =
        built_in.is_some_and(|b| (b.balance, b.currency) == (merchant.balance, merchant.currency));
    if !same_balance {
        let _ = writeln!(
            out,
            "balance = {}",
            quote(&money(merchant.balance, merchant.currency))
        );
    }
    if merchant.state != built_in.map_or(MerchantState::Active, |b| b.state) {
        let _ = writeln!(out, "state = {}", quote(merchant_state(merchant.state)));
    }
    let amounts = [
        (
            "refund_cap",
            merchant.refund_cap,
            built_in.and_then(|b| b.refund_cap),
        ),
        (
            "daily_refund_limit",
            merchant.daily_refund_limit,
            built_in.and_then(|b| b.daily_refund_limit),
        ),
    ];
    for (key, value, default) in amounts {
        if let Some(value) = value.filter(|value| Some(*value) != default) {
            let _ = writeln!(out, "{key} = {}", quote(&money(value, merchant.currency)));
        }
    }
    if let Some(window) = merchant
        .refund_window_ms
        .filter(|window| Some(*window) != built_in.and_then(|b| b.refund_window_ms))
    {
        let _ = writeln!(out, "refund_window = {}", quote(&duration(window)));
    }
}

/// The id a written file gives an operation: its name in reports.
pub fn operation_name(operation: OperationId) -> String {
    format!("op{}", operation.0)
}

fn operations(out: &mut String, plan: &Plan) -> Result<(), String> {
    let default_terminal = plan.topology.terminals.first().map(|t| t.terminal.clone());
    let cards = &plan.topology.banks[0].cardholders;
    for (index, step) in plan.workload.iter().enumerate() {
        let _ = writeln!(out, "\n[[operations]]\nat = {}", quote(&duration(step.at_ms)));
        let expected = OperationId(index as u32 + 1);
        match &step.item {
            WorkItem::Terminal { terminal, command } => {
                let (op, operation) = terminal_op(command);
                if operation != expected {
                    return Err(format!(
                        "operation {} stands at place {} of the workload: a file numbers operations by place",
                        operation.0, expected.0
                    ));
                }
                let _ = writeln!(
                    out,
                    "op = {}\nid = {}",
                    quote(op),
                    quote(&operation_name(operation))
                );
                if Some(terminal) != default_terminal.as_ref() {
                    let _ = writeln!(out, "terminal = {}", quote(terminal.as_str()));
                }
                terminal_fields(out, command, cards);
            }
            WorkItem::Bank { bank, command } => {
                bank_fields(out, command)?;
                if bank.0 != plan.topology.banks[0].id.0 {
                    let _ = writeln!(out, "bank = {}", quote(&bank.0));
                }
            }
        }
    }
    check_originals(&plan.workload)
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

fn terminal_op(command: &TerminalCommand) -> (&'static str, OperationId) {
    let op = match command {
        TerminalCommand::Sale { .. } => "sale",
        TerminalCommand::Refund { .. } => "refund",
        TerminalCommand::Void { .. } => "void",
        TerminalCommand::Balance { .. } => "balance",
        TerminalCommand::CloseBatch { .. } => "close_batch",
    };
    (op, command.operation())
}

fn terminal_fields(out: &mut String, command: &TerminalCommand, cards: &[CardholderAccount]) {
    let card_fields = |out: &mut String, card: &crate::node::terminal::Card| {
        let _ = writeln!(out, "card = {}", quote(card.pan.as_str()));
        let known = cards.iter().find(|account| account.pan == card.pan);
        if known.map(|account| account.expiry) != Some(card.expiry) {
            let _ = writeln!(out, "expiry = {}", quote(&card.expiry.to_wire()));
        }
        known.map(|account| account.currency)
    };
    match command {
        TerminalCommand::Sale { card, amount, .. } => {
            card_fields(out, card);
            let _ = writeln!(out, "amount = {}", quote(&amount.to_string()));
        }
        TerminalCommand::Refund { original, amount, .. } => {
            let _ = writeln!(out, "of = {}", quote(&operation_name(*original)));
            let _ = writeln!(out, "amount = {}", quote(&amount.to_string()));
        }
        TerminalCommand::Void { original, .. } => {
            let _ = writeln!(out, "of = {}", quote(&operation_name(*original)));
        }
        TerminalCommand::Balance { card, currency, .. } => {
            let card_currency = card_fields(out, card);
            if card_currency.unwrap_or(Currency::EUR) != *currency {
                let _ = writeln!(out, "currency = {}", quote(&currency.to_string()));
            }
        }
        TerminalCommand::CloseBatch { .. } => {}
    }
}

fn bank_fields(out: &mut String, command: &BankCommand) -> Result<(), String> {
    match command {
        BankCommand::SetCardState { pan, state } => {
            let op = match state {
                CardState::Active => "unfreeze_card",
                CardState::Frozen => "freeze_card",
                CardState::Blocked => "block_card",
                CardState::NotActivated => {
                    return Err("a scenario file cannot set a card back to not activated".into())
                }
            };
            let _ = writeln!(out, "op = {}\ncard = {}", quote(op), quote(pan.as_str()));
        }
        BankCommand::SetMerchantState { merchant, state } => {
            let op = match state {
                MerchantState::Active => "unfreeze_merchant",
                MerchantState::Frozen => "freeze_merchant",
                MerchantState::Blacklisted => "blacklist_merchant",
            };
            let _ = writeln!(out, "op = {}\nmerchant = {}", quote(op), quote(merchant.as_str()));
        }
        BankCommand::BeginMaintenance => {
            let _ = writeln!(out, "op = \"begin_maintenance\"");
        }
        BankCommand::EndMaintenance => {
            let _ = writeln!(out, "op = \"end_maintenance\"");
        }
    }
    Ok(())
}

fn faults(out: &mut String, plan: &Plan) {
    let faults = &plan.faults;
    // Before any `[[faults.*]]` table, so that `[faults]` is opened once.
    if let Some(block) = faults.torn_write_block {
        let _ = writeln!(out, "\n[faults]\ntorn_writes = {block}");
    }
    for (link, link_faults) in &faults.links {
        for rule in &link_faults.rules {
            message_rule(out, link.name(), rule);
        }
    }
    for (link, link_faults) in &faults.links {
        if link_faults.random.is_active() {
            random(out, link.name(), &link_faults.random);
        }
    }
    for (link, link_faults) in &faults.links {
        for timed in &link_faults.injections {
            let (kind, nth) = match timed.injection {
                Injection::Replay { nth } => ("replay", nth),
                Injection::TamperAmount { nth } => ("tamper_amount", nth),
                Injection::Forge { nth } => ("forge", nth),
            };
            let _ = writeln!(out, "\n[[faults.injections]]\nlink = {}", quote(link.name()));
            let _ = writeln!(
                out,
                "at = {}\nkind = {}\nnth = {nth}",
                quote(&duration(timed.at_ms)),
                quote(kind)
            );
        }
    }
    for partition in &faults.partitions {
        let _ = writeln!(
            out,
            "\n[[faults.partitions]]\nlink = {}",
            quote(partition.link.name())
        );
        let _ = writeln!(out, "from = {}", quote(&duration(partition.from_ms)));
        if let Some(until) = partition.until_ms {
            let _ = writeln!(out, "until = {}", quote(&duration(until)));
        }
    }
    for crash in &faults.crashes {
        let _ = writeln!(out, "\n[[faults.crashes]]\nhost = {}", quote(crash.host.name()));
        let _ = writeln!(out, "at = {}", quote(&duration(crash.at_ms)));
        restart(out, crash.restart_after_ms);
    }
    for crash in &faults.crash_points {
        let _ = writeln!(out, "\n[[faults.crashes]]\nhost = {}", quote(crash.host.name()));
        let _ = writeln!(out, "point = {}\nnth = {}", quote(&crash.point), crash.nth);
        restart(out, crash.restart_after_ms);
    }
    for (host, clock) in &faults.clocks {
        let _ = writeln!(out, "\n[[faults.clocks]]\nhost = {}", quote(host.name()));
        let _ = writeln!(out, "offset = {}", quote(&signed_duration(clock.offset_ms)));
        let _ = writeln!(out, "drift_ppm = {}", clock.drift_ppm);
    }
}

fn restart(out: &mut String, restart_after_ms: Option<u64>) {
    if let Some(ms) = restart_after_ms {
        let _ = writeln!(out, "restart_after = {}", quote(&duration(ms)));
    }
}

fn message_rule(out: &mut String, link: &str, rule: &MessageRule) {
    let _ = writeln!(out, "\n[[faults.messages]]\nlink = {}", quote(link));
    let matching = &rule.matching;
    if let Some(direction) = matching.direction {
        let name = match direction {
            Direction::Request => "request",
            Direction::Response => "response",
        };
        let _ = writeln!(out, "direction = {}", quote(name));
    }
    if let Some(mti) = matching.mti {
        let _ = writeln!(out, "mti = {}", quote(&format!("{mti:04}")));
    }
    if let Some(processing) = matching.processing {
        let _ = writeln!(out, "processing = {}", quote(processing.name()));
    }
    if let Some(stan) = matching.stan {
        let _ = writeln!(out, "stan = {stan}");
    }
    if let Some(nth) = matching.nth {
        let _ = writeln!(out, "nth = {nth}");
    }
    match &rule.action {
        MessageAction::Drop => {
            let _ = writeln!(out, "action = \"drop\"");
        }
        MessageAction::Duplicate { copies } => {
            let _ = writeln!(out, "action = \"duplicate\"\ncopies = {copies}");
        }
        MessageAction::Delay { delay_ms } => {
            let _ = writeln!(out, "action = \"delay\"\ndelay = {}", quote(&duration(*delay_ms)));
        }
        MessageAction::Resend { delay_ms } => {
            let _ = writeln!(
                out,
                "action = \"resend\"\ndelay = {}",
                quote(&duration(*delay_ms))
            );
        }
        MessageAction::Corrupt { offset } => {
            let _ = writeln!(out, "action = \"corrupt\"");
            if let Some(offset) = offset {
                let _ = writeln!(out, "offset = {offset}");
            }
        }
    }
    if let Some(from) = rule.from_ms {
        let _ = writeln!(out, "from = {}", quote(&duration(from)));
    }
    if let Some(until) = rule.until_ms {
        let _ = writeln!(out, "until = {}", quote(&duration(until)));
    }
}

fn random(out: &mut String, link: &str, random: &RandomMessageFaults) {
    let _ = writeln!(out, "\n[[faults.random]]\nlink = {}", quote(link));
    let rates = [
        ("drop", random.drop_ppm),
        ("duplicate", random.duplicate_ppm),
        ("delay", random.delay_ppm),
        ("corrupt", random.corrupt_ppm),
    ];
    for (key, ppm) in rates {
        if ppm > 0 {
            let _ = writeln!(out, "{key} = {}", quote(&rate(ppm)));
        }
    }
    let _ = writeln!(out, "delay_max = {}", quote(&duration(random.delay_ms_max)));
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

fn card_state(state: CardState) -> &'static str {
    match state {
        CardState::Active => "active",
        CardState::Frozen => "frozen",
        CardState::NotActivated => "not_activated",
        CardState::Blocked => "blocked",
    }
}

fn merchant_state(state: MerchantState) -> &'static str {
    match state {
        MerchantState::Active => "active",
        MerchantState::Frozen => "frozen",
        MerchantState::Blacklisted => "blacklisted",
    }
}

/// A TOML basic string: quotes, backslashes and every control character
/// (DEL included) escaped.
fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// `text` in lines of at most `width` characters, for a `"""` string
/// (backslashes and quotes are left out, so the string stays literal).
fn wrap(text: &str, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let word: String = word.chars().filter(|c| *c != '\\' && *c != '"').collect();
        if !current.is_empty() && current.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&word);
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
    fn quoted_strings_escape_what_toml_forbids_raw() {
        assert_eq!(quote("a\"b\\c\u{7f}\n"), "\"a\\\"b\\\\c\\u007F\\u000A\"");
        let parsed: toml::Value = toml::from_str(&format!("x = {}", quote("a\"b\\c\u{7f}\n"))).unwrap();
        assert_eq!(parsed["x"].as_str(), Some("a\"b\\c\u{7f}\n"));
    }

    #[test]
    fn descriptions_wrap_and_lose_characters_that_would_end_the_string() {
        let wrapped = wrap("a \"quoted\" back\\slash word list", 10);
        assert!(!wrapped.contains('"') && !wrapped.contains('\\'));
        assert!(wrapped.lines().all(|line| line.len() <= 10), "{wrapped}");
    }
}
