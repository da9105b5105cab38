//! Lowering `[[operations]]` to the workload: each entry's `op` names an
//! [`OperationKind`], which says the keys it takes; ids name operations
//! for later refunds, voids and expectations.

use std::collections::BTreeMap;

use super::{Lowerer, OperationInfo};
use crate::node::bank::{BankCommand, CardState, MerchantState};
use crate::node::terminal::{Card, TerminalCommand};
use crate::node::{BankId, OperationId};
use crate::plan::{Step, Timing, WorkItem};
use crate::scenario::format::{OperationFile, Text};
use crate::scenario::vocabulary::{Named, OperationKey, OperationKind};
use crate::wire::types::{Amount, Currency, Money, TerminalId};

/// What a later operation or expectation needs of an operation with an id.
pub(super) struct SaleRef {
    pub(super) operation: OperationId,
    terminal: TerminalId,
    amount: Money,
    at_ms: u64,
    is_sale: bool,
}

impl Lowerer<'_> {
    /// The workload, the operations as reports name them, and the
    /// operations with an id.
    pub(super) fn operations(
        &mut self,
        files: &[OperationFile],
        timing: &Timing,
    ) -> (Vec<Step>, Vec<OperationInfo>, BTreeMap<String, SaleRef>) {
        let mut workload = Vec::new();
        let mut infos = Vec::new();
        let mut named: BTreeMap<String, SaleRef> = BTreeMap::new();
        for (index, file) in files.iter().enumerate() {
            let operation = OperationId(index as u32 + 1);
            let Some(kind) = self.named::<OperationKind>("operation", &file.op) else {
                continue;
            };
            self.keys_apply(kind, file);
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
            let lowered = self.operation(kind, file, (operation, at_ms), &named);
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
                        is_sale: kind == OperationKind::Sale,
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

    /// An error at every key of `file` that `kind` does not take.
    fn keys_apply(&mut self, kind: OperationKind, file: &OperationFile) {
        let op = kind.name();
        let allowed = kind.keys();
        for (key, value) in &file.fields {
            if !allowed.contains(key) {
                let takes: Vec<&str> = OperationKey::COMMON
                    .iter()
                    .chain(allowed)
                    .map(|key| key.name())
                    .collect();
                self.error(value.span(), format!("`{}` does not apply to a {op}", key.name()))
                    .help = Some(format!("a {op} takes: {}", takes.join(", ")));
            }
        }
    }

    /// The work item of one operation, what it does in words, and its
    /// amount.
    fn operation(
        &mut self,
        kind: OperationKind,
        file: &OperationFile,
        (operation, at_ms): (OperationId, u64),
        named: &BTreeMap<String, SaleRef>,
    ) -> Option<(WorkItem, String, Option<Money>)> {
        if kind.at_terminal() {
            let terminal = self.terminal(file.get(OperationKey::Terminal))?;
            let (command, what, amount) =
                self.terminal_command(kind, file, (operation, at_ms), &terminal, named)?;
            return Some((WorkItem::Terminal { terminal, command }, what, amount));
        }
        let bank = self.bank(file.get(OperationKey::Bank))?;
        let bank = BankId(self.bank_names()[bank].clone());
        let (command, what) = self.bank_command(kind, file)?;
        Some((WorkItem::Bank { bank, command }, what, None))
    }

    /// The value of `key`, or an error at `op` saying it is needed.
    fn required<'t>(&mut self, file: &'t OperationFile, key: OperationKey) -> Option<&'t Text> {
        let value = file.get(key);
        if value.is_none() {
            self.error(
                file.op.span(),
                format!("a {} needs `{}`", file.op.get_ref(), key.name()),
            );
        }
        value
    }

    fn read_card(&mut self, file: &OperationFile) -> Option<(Card, Option<Currency>)> {
        let value = self.required(file, OperationKey::Card)?;
        let pan = self.pan(value)?;
        let known = self.find_card(&pan).map(|card| (card.expiry, card.currency));
        let expiry = match (file.get(OperationKey::Expiry), known) {
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
        terminal: &TerminalId,
        at_ms: u64,
        named: &'n BTreeMap<String, SaleRef>,
    ) -> Option<&'n SaleRef> {
        let op = file.op.get_ref();
        let value = self.required(file, OperationKey::Of)?;
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

    /// The terminal command of a terminal operation, what it does in
    /// words, and its amount.
    fn terminal_command(
        &mut self,
        kind: OperationKind,
        file: &OperationFile,
        (operation, at_ms): (OperationId, u64),
        terminal: &TerminalId,
        named: &BTreeMap<String, SaleRef>,
    ) -> Option<(TerminalCommand, String, Option<Money>)> {
        let of = || file.get(OperationKey::Of).map_or("", |of| of.get_ref().as_str());
        Some(match kind {
            OperationKind::Sale => {
                let card = self.read_card(file);
                let amount = self
                    .required(file, OperationKey::Amount)
                    .and_then(|a| self.money(a));
                let (card, amount) = (card?.0, amount?);
                let what = format!("sale {amount} card {}", card.pan);
                let command = TerminalCommand::Sale {
                    operation,
                    card,
                    amount,
                };
                (command, what, Some(amount))
            }
            OperationKind::Refund => {
                let sale = self.original(file, terminal, at_ms, named)?;
                let amount = match file.get(OperationKey::Amount) {
                    Some(value) => self.money(value)?,
                    None => sale.amount,
                };
                let what = format!("refund {amount} of {}", of());
                let original = sale.operation;
                let command = TerminalCommand::Refund {
                    operation,
                    original,
                    amount,
                };
                (command, what, Some(amount))
            }
            OperationKind::Void => {
                let sale = self.original(file, terminal, at_ms, named)?;
                let what = format!("void {}", of());
                let command = TerminalCommand::Void {
                    operation,
                    original: sale.operation,
                };
                (command, what, None)
            }
            OperationKind::Balance => {
                let (card, card_currency) = self.read_card(file)?;
                let currency = match file.get(OperationKey::Currency) {
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
                let command = TerminalCommand::Balance {
                    operation,
                    card,
                    currency,
                };
                (command, what, None)
            }
            _ => (
                TerminalCommand::CloseBatch { operation },
                "close batch".to_string(),
                None,
            ),
        })
    }

    /// The bank command of an operator operation and what it does in words.
    fn bank_command(&mut self, kind: OperationKind, file: &OperationFile) -> Option<(BankCommand, String)> {
        let op = kind.name();
        let card_state = match kind {
            OperationKind::FreezeCard => Some(CardState::Frozen),
            OperationKind::BlockCard => Some(CardState::Blocked),
            OperationKind::UnfreezeCard => Some(CardState::Active),
            _ => None,
        };
        let merchant_state = match kind {
            OperationKind::FreezeMerchant => Some(MerchantState::Frozen),
            OperationKind::BlacklistMerchant => Some(MerchantState::Blacklisted),
            OperationKind::UnfreezeMerchant => Some(MerchantState::Active),
            _ => None,
        };
        if let Some(state) = card_state {
            let value = self.required(file, OperationKey::Card)?;
            let pan = self.pan(value)?;
            if self.find_card(&pan).is_none() {
                self.error(value.span(), format!("card {pan} is not in the topology"));
                return None;
            }
            let what = format!("{op} {pan}");
            return Some((BankCommand::SetCardState { pan, state }, what));
        }
        if let Some(state) = merchant_state {
            let value = self.required(file, OperationKey::Merchant)?;
            let merchant = self.merchant_id(value)?;
            let what = format!("{op} {merchant}");
            return Some((BankCommand::SetMerchantState { merchant, state }, what));
        }
        Some(if kind == OperationKind::BeginMaintenance {
            (BankCommand::BeginMaintenance, "begin maintenance".to_string())
        } else {
            (BankCommand::EndMaintenance, "end maintenance".to_string())
        })
    }
}
