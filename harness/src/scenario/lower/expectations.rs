//! Lowering `[[expect]]`: what an operation with an id must show, or the
//! balance an account must end with.

use std::collections::BTreeMap;

use serde_spanned::Spanned;

use super::operations::SaleRef;
use super::{Expectation, Lowerer};
use crate::history::Account;
use crate::scenario::format::ExpectFile;
use crate::scenario::vocabulary::{Named, ShowKind};
use crate::wire::types::{Currency, ResponseCode};

impl Lowerer<'_> {
    /// The `[[expect]]` entries; `named` are the operations with an id.
    pub(super) fn expectations(
        &mut self,
        files: &[ExpectFile],
        named: &BTreeMap<String, SaleRef>,
    ) -> Vec<Expectation> {
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
                let Some(shows) = self.named::<ShowKind>("outcome", shows_value) else {
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
