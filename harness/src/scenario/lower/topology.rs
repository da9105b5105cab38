//! Lowering `[topology]` (cards, merchants, terminals, maintenance
//! windows, timeouts) onto the built-in topology, and `[timing]`.

use super::Lowerer;
use crate::node::bank::{CardState, CardholderAccount};
use crate::node::terminal::TerminalConfig;
use crate::node::Millis;
use crate::plan::topology::{merchant_account, terminal_config};
use crate::plan::Timing;
use crate::scenario::format::{CardFile, MerchantFile, TerminalFile, Text, TimingFile, TopologyChanges};
use crate::wire::types::{Expiry, MerchantId, TerminalId};

impl Lowerer<'_> {
    pub(super) fn topology_changes(&mut self, changes: &TopologyChanges) {
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
        if let Some(value) = &changes.switch_pending_max {
            match *value.get_ref() {
                0 => {
                    self.error(value.span(), "the switch must be able to keep at least 1 request");
                }
                max => self.topology.switch.pending_max = max as usize,
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
        let state = file
            .state
            .as_ref()
            .and_then(|value| self.named("card state", value));
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

    fn merchant_names(&self) -> Vec<String> {
        self.topology.banks[0]
            .merchants
            .iter()
            .map(|m| m.id.to_string())
            .collect()
    }

    pub(super) fn merchant_id(&mut self, value: &Text) -> Option<MerchantId> {
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
        let state = file
            .state
            .as_ref()
            .and_then(|value| self.named("merchant state", value));
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

    pub(super) fn timing(&mut self, file: &TimingFile) -> Timing {
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
}
