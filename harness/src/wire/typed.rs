//! The typed layer: the messages of the dialect as Rust types.
//!
//! Node logic speaks only these types. [`WireMessage::to_message`] lowers a
//! typed message to raw fields; [`WireMessage::from_message`] lifts raw
//! fields, refusing anything malformed with a [`FieldError`] that names the
//! field (a receiver answers it with response code 30, or 12 for an unknown
//! processing code, and changes no state).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::message::{Message, Mti};
use super::types::{
    Amount, ApprovalCode, BatchNumber, Currency, Expiry, InstitutionId, LocalDate, LocalTime, MerchantId,
    Money, Pan, ProcessingCode, ResponseCode, Rrn, Stan, TerminalId, TransactionKey, TransmissionTime,
    ValueError,
};

/// What is wrong with a field of an otherwise well-formed message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FieldError {
    /// The MTI is not one this dialect uses.
    #[error("MTI {0} is not used by this dialect")]
    UnsupportedMti(Mti),
    /// A mandatory field is absent.
    #[error("DE{0} is mandatory for this message and absent")]
    Missing(u8),
    /// A field is present but its value is invalid.
    #[error("DE{field}: {error}")]
    Invalid {
        /// The field.
        field: u8,
        /// Why.
        error: ValueError,
    },
}

impl FieldError {
    /// The response code a receiver answers this error with.
    pub fn response_code(&self) -> ResponseCode {
        match self {
            FieldError::Invalid { field: 3, .. } => ResponseCode::InvalidTransaction,
            _ => ResponseCode::FormatError,
        }
    }
}

/// DE90, original data elements (n42): how a refund, void or reversal names
/// its original. Original MTI, STAN, date and time, acquiring and forwarding
/// institution ids (both zero-padded to 11 digits). The date-and-time slot
/// carries the original's local date and time (DE13 + DE12), so the
/// receiver can rebuild the original's key (DE41, DE13, DE11).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OriginalData {
    /// MTI of the original request.
    pub mti: Mti,
    /// STAN of the original.
    pub stan: Stan,
    /// The original's local date and time (DE13 + DE12, MMDDhhmmss).
    pub local_date_time: TransmissionTime,
    /// Acquiring institution of the original.
    pub acquirer: InstitutionId,
}

impl OriginalData {
    /// The key of the original, given the terminal of the message naming it.
    pub fn key(&self, terminal: &TerminalId) -> TransactionKey {
        TransactionKey {
            terminal: terminal.clone(),
            local_date: self.local_date_time.date,
            stan: self.stan,
        }
    }

    /// The 42-digit wire form (forwarding institution zero-filled).
    pub fn to_wire(&self) -> String {
        format!(
            "{}{}{}{:0>11}{:011}",
            self.mti,
            self.stan.to_wire(),
            self.local_date_time.to_wire(),
            self.acquirer.as_str(),
            0
        )
    }

    /// Parse the wire form.
    pub fn from_wire(text: &str) -> Result<OriginalData, ValueError> {
        let bad = |why| ValueError {
            what: "original data elements",
            value: text.chars().take(64).collect(),
            why,
        };
        if text.len() != 42 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(bad("must be 42 digits"));
        }
        let acquirer = text[20..31].trim_start_matches('0');
        Ok(OriginalData {
            mti: Mti::parse(&text[..4]).ok_or_else(|| bad("bad MTI"))?,
            stan: Stan::from_wire(&text[4..10])?,
            local_date_time: TransmissionTime::from_wire(&text[10..20])?,
            acquirer: InstitutionId::new(if acquirer.is_empty() { "0" } else { acquirer })?,
        })
    }
}

/// The fields that place a message in time and identify the transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Trace {
    /// DE41.
    pub terminal: TerminalId,
    /// DE11.
    pub stan: Stan,
    /// DE12: fixed for the life of a transaction.
    pub local_time: LocalTime,
    /// DE13: fixed for the life of a transaction.
    pub local_date: LocalDate,
    /// DE7: may change on each retransmission.
    pub transmitted: TransmissionTime,
}

impl Trace {
    /// The transaction key (DE41, DE13, DE11).
    pub fn key(&self) -> TransactionKey {
        TransactionKey {
            terminal: self.terminal.clone(),
            local_date: self.local_date,
            stan: self.stan,
        }
    }
}

/// 0200 (or 0201 when repeated): sale, refund, void or balance inquiry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FinancialRequest {
    /// 0201 rather than 0200.
    pub repeat: bool,
    /// DE3.
    pub processing: ProcessingCode,
    /// DE2.
    pub pan: Pan,
    /// DE14.
    pub expiry: Expiry,
    /// DE4 with DE49. Zero for a balance inquiry.
    pub amount: Money,
    /// DE11, DE12, DE13, DE41, DE7.
    pub trace: Trace,
    /// DE32.
    pub acquirer: InstitutionId,
    /// DE37.
    pub rrn: Rrn,
    /// DE42.
    pub merchant: MerchantId,
    /// DE60: the terminal batch the transaction belongs to.
    pub batch: BatchNumber,
    /// DE90: the original sale of a refund or void.
    pub original: Option<OriginalData>,
}

/// 0210: the answer to a financial request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FinancialResponse {
    /// DE3, echoed.
    pub processing: ProcessingCode,
    /// DE4 with DE49, echoed.
    pub amount: Money,
    /// Echoed trace fields.
    pub trace: Trace,
    /// DE37, echoed.
    pub rrn: Rrn,
    /// DE39.
    pub response: ResponseCode,
    /// DE38, on approvals.
    pub approval: Option<ApprovalCode>,
    /// DE54: available balance, on an approved balance inquiry.
    pub balance: Option<Money>,
}

/// 0420 (or 0421 when repeated): undo a request whose outcome the sender
/// does not know or does not accept. Carries the original's key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReversalAdvice {
    /// 0421 rather than 0420.
    pub repeat: bool,
    /// DE3 of the original.
    pub processing: ProcessingCode,
    /// DE2.
    pub pan: Pan,
    /// DE4 with DE49: the original amount.
    pub amount: Money,
    /// The original's trace fields (DE7 is the advice's own).
    pub trace: Trace,
    /// DE32.
    pub acquirer: InstitutionId,
    /// DE37 of the original.
    pub rrn: Rrn,
    /// DE42.
    pub merchant: MerchantId,
    /// DE39: why the sender reverses (68 timeout, 96 malfunction, ...).
    pub reason: ResponseCode,
    /// DE90: the original request.
    pub original: OriginalData,
}

/// 0430: acknowledgement of a reversal advice ("durably stored").
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReversalResponse {
    /// Echoed trace fields.
    pub trace: Trace,
    /// DE37, echoed.
    pub rrn: Rrn,
    /// DE4 with DE49, echoed.
    pub amount: Money,
    /// DE39: 00 when stored.
    pub response: ResponseCode,
}

/// Batch totals as a 0500 carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct BatchTotals {
    /// DE74: number of credits (refunds).
    pub credit_count: u64,
    /// DE86: amount of credits, minor units.
    pub credit_amount: u64,
    /// DE76: number of debits (sales).
    pub debit_count: u64,
    /// DE88: amount of debits, minor units.
    pub debit_amount: u64,
}

impl BatchTotals {
    /// DE97: net settlement amount, signed (debits minus credits).
    pub fn net(&self) -> i128 {
        i128::from(self.debit_amount) - i128::from(self.credit_amount)
    }
}

/// 0500 (or 0501 when repeated): batch close with totals.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BatchClose {
    /// 0501 rather than 0500.
    pub repeat: bool,
    /// Trace fields of the close itself.
    pub trace: Trace,
    /// DE42.
    pub merchant: MerchantId,
    /// DE60.
    pub batch: BatchNumber,
    /// DE49: currency of the totals.
    pub currency: Currency,
    /// DE74, DE76, DE86, DE88 (DE97 derived).
    pub totals: BatchTotals,
}

/// 0510: 00 totals agree, 95 they do not (upload follows).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BatchCloseResponse {
    /// Echoed trace fields.
    pub trace: Trace,
    /// DE60, echoed.
    pub batch: BatchNumber,
    /// DE39.
    pub response: ResponseCode,
}

/// 0320: one item of a batch upload after a 95.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BatchUpload {
    /// Trace fields of the item's own transaction (its key).
    pub trace: Trace,
    /// DE42.
    pub merchant: MerchantId,
    /// DE60.
    pub batch: BatchNumber,
    /// DE3 of the item.
    pub processing: ProcessingCode,
    /// DE2 of the item.
    pub pan: Pan,
    /// DE4 with DE49 of the item.
    pub amount: Money,
    /// DE37 of the item.
    pub rrn: Rrn,
    /// DE38 of the item.
    pub approval: ApprovalCode,
    /// DE71: position of this item, from 1.
    pub item: u16,
    /// DE72: number of items in the upload.
    pub item_count: u16,
}

/// 0330: acknowledgement of one upload item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BatchUploadResponse {
    /// Echoed trace fields.
    pub trace: Trace,
    /// DE60, echoed.
    pub batch: BatchNumber,
    /// DE71, echoed.
    pub item: u16,
    /// DE39.
    pub response: ResponseCode,
}

/// 0800: network management (301 echo, 001 sign-on).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NetworkRequest {
    /// DE70.
    pub code: u16,
    /// DE11.
    pub stan: Stan,
    /// DE7.
    pub transmitted: TransmissionTime,
}

/// 0810: answer to network management.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NetworkResponse {
    /// DE70, echoed.
    pub code: u16,
    /// DE11, echoed.
    pub stan: Stan,
    /// DE7, echoed.
    pub transmitted: TransmissionTime,
    /// DE39.
    pub response: ResponseCode,
}

/// Every message of the dialect.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WireMessage {
    /// 0200/0201.
    FinancialRequest(FinancialRequest),
    /// 0210.
    FinancialResponse(FinancialResponse),
    /// 0420/0421.
    ReversalAdvice(ReversalAdvice),
    /// 0430.
    ReversalResponse(ReversalResponse),
    /// 0500/0501.
    BatchClose(BatchClose),
    /// 0510.
    BatchCloseResponse(BatchCloseResponse),
    /// 0320.
    BatchUpload(BatchUpload),
    /// 0330.
    BatchUploadResponse(BatchUploadResponse),
    /// 0800.
    NetworkRequest(NetworkRequest),
    /// 0810.
    NetworkResponse(NetworkResponse),
}

fn mti(value: u16) -> Mti {
    Mti::from_value(value).expect("dialect MTIs are four digits")
}

/// Writes typed values into a raw message.
struct Writer(Message);

impl Writer {
    fn new(mti_value: u16) -> Writer {
        Writer(Message::new(mti(mti_value)))
    }
    fn text(&mut self, field: u8, text: &str) -> &mut Writer {
        self.0.set_text(field, text);
        self
    }
    fn trace(&mut self, trace: &Trace) -> &mut Writer {
        self.text(7, &trace.transmitted.to_wire())
            .text(11, &trace.stan.to_wire())
            .text(12, &trace.local_time.to_wire())
            .text(13, &trace.local_date.to_wire())
            .text(41, trace.terminal.as_str())
    }
    fn money(&mut self, money: &Money) -> &mut Writer {
        self.text(4, &money.amount.to_wire())
            .text(49, &money.currency.to_wire())
    }
    fn response(&mut self, code: ResponseCode) -> &mut Writer {
        self.text(39, code.to_wire())
    }
}

/// Reads typed values out of a raw message, naming the field on failure.
struct Reader<'a>(&'a Message);

impl Reader<'_> {
    fn raw(&self, field: u8) -> Result<&str, FieldError> {
        let bytes = self.0.get(field).ok_or(FieldError::Missing(field))?;
        std::str::from_utf8(bytes).map_err(|_| FieldError::Invalid {
            field,
            error: ValueError {
                what: "text",
                value: String::from_utf8_lossy(bytes).into_owned(),
                why: "not ASCII",
            },
        })
    }
    fn get<T>(&self, field: u8, parse: impl FnOnce(&str) -> Result<T, ValueError>) -> Result<T, FieldError> {
        parse(self.raw(field)?).map_err(|error| FieldError::Invalid { field, error })
    }
    fn optional<T>(
        &self,
        field: u8,
        parse: impl FnOnce(&str) -> Result<T, ValueError>,
    ) -> Result<Option<T>, FieldError> {
        if self.0.has(field) {
            self.get(field, parse).map(Some)
        } else {
            Ok(None)
        }
    }
    fn trace(&self) -> Result<Trace, FieldError> {
        Ok(Trace {
            terminal: self.get(41, TerminalId::new)?,
            stan: self.get(11, Stan::from_wire)?,
            local_time: self.get(12, LocalTime::from_wire)?,
            local_date: self.get(13, LocalDate::from_wire)?,
            transmitted: self.get(7, TransmissionTime::from_wire)?,
        })
    }
    fn money(&self) -> Result<Money, FieldError> {
        Ok(Money {
            amount: self.get(4, Amount::from_wire)?,
            currency: self.get(49, Currency::from_wire)?,
        })
    }
    fn response(&self) -> Result<ResponseCode, FieldError> {
        self.get(39, ResponseCode::from_wire)
    }
    fn number(&self, field: u8, what: &'static str) -> Result<u64, FieldError> {
        self.get(field, |text| {
            text.parse::<u64>().map_err(|_| ValueError {
                what,
                value: text.to_string(),
                why: "not a number",
            })
        })
    }
}

/// DE54 additional amounts, one entry: account type 00, amount type 02
/// (available balance), currency, sign, 12 digits.
fn balance_to_wire(balance: &Money) -> String {
    format!("0002{}C{}", balance.currency.to_wire(), balance.amount.to_wire())
}

fn balance_from_wire(text: &str) -> Result<Money, ValueError> {
    let bad = |why| ValueError {
        what: "additional amounts",
        value: text.chars().take(64).collect(),
        why,
    };
    if text.len() != 20 || !text.is_ascii() || &text[..4] != "0002" || &text[7..8] != "C" {
        return Err(bad("expected one available-balance entry 0002<ccy>C<n12>"));
    }
    Ok(Money {
        currency: Currency::from_wire(&text[4..7])?,
        amount: Amount::from_wire(&text[8..])?,
    })
}

fn count_to_wire(count: u64) -> String {
    format!("{count:010}")
}

fn sum_to_wire(sum: u64) -> String {
    format!("{sum:016}")
}

fn net_to_wire(net: i128) -> String {
    let sign = if net < 0 { 'C' } else { 'D' };
    format!("{sign}{:016}", net.unsigned_abs())
}

fn item_to_wire(item: u16) -> String {
    format!("{item:04}")
}

impl WireMessage {
    /// The MTI this message is sent with.
    pub fn mti(&self) -> Mti {
        mti(match self {
            WireMessage::FinancialRequest(request) => 200 + u16::from(request.repeat),
            WireMessage::FinancialResponse(_) => 210,
            WireMessage::ReversalAdvice(advice) => 420 + u16::from(advice.repeat),
            WireMessage::ReversalResponse(_) => 430,
            WireMessage::BatchClose(close) => 500 + u16::from(close.repeat),
            WireMessage::BatchCloseResponse(_) => 510,
            WireMessage::BatchUpload(_) => 320,
            WireMessage::BatchUploadResponse(_) => 330,
            WireMessage::NetworkRequest(_) => 800,
            WireMessage::NetworkResponse(_) => 810,
        })
    }

    /// Lower to raw fields (without a MAC; see [`crate::wire::mac::sign`]).
    pub fn to_message(&self) -> Message {
        let mut w = Writer::new(self.mti().value());
        match self {
            WireMessage::FinancialRequest(r) => {
                w.text(2, r.pan.as_str())
                    .text(3, r.processing.to_wire())
                    .money(&r.amount)
                    .trace(&r.trace)
                    .text(14, &r.expiry.to_wire())
                    .text(32, r.acquirer.as_str())
                    .text(37, r.rrn.as_str())
                    .text(42, r.merchant.as_str())
                    .text(60, &r.batch.to_wire());
                if let Some(original) = &r.original {
                    w.text(90, &original.to_wire());
                }
            }
            WireMessage::FinancialResponse(r) => {
                w.text(3, r.processing.to_wire())
                    .money(&r.amount)
                    .trace(&r.trace)
                    .text(37, r.rrn.as_str())
                    .response(r.response);
                if let Some(approval) = &r.approval {
                    w.text(38, approval.as_str());
                }
                if let Some(balance) = &r.balance {
                    w.text(54, &balance_to_wire(balance));
                }
            }
            WireMessage::ReversalAdvice(r) => {
                w.text(2, r.pan.as_str())
                    .text(3, r.processing.to_wire())
                    .money(&r.amount)
                    .trace(&r.trace)
                    .text(32, r.acquirer.as_str())
                    .text(37, r.rrn.as_str())
                    .response(r.reason)
                    .text(42, r.merchant.as_str())
                    .text(90, &r.original.to_wire());
            }
            WireMessage::ReversalResponse(r) => {
                w.money(&r.amount)
                    .trace(&r.trace)
                    .text(37, r.rrn.as_str())
                    .response(r.response);
            }
            WireMessage::BatchClose(r) => {
                w.trace(&r.trace)
                    .text(42, r.merchant.as_str())
                    .text(49, &r.currency.to_wire())
                    .text(60, &r.batch.to_wire())
                    .text(74, &count_to_wire(r.totals.credit_count))
                    .text(76, &count_to_wire(r.totals.debit_count))
                    .text(86, &sum_to_wire(r.totals.credit_amount))
                    .text(88, &sum_to_wire(r.totals.debit_amount))
                    .text(97, &net_to_wire(r.totals.net()));
            }
            WireMessage::BatchCloseResponse(r) => {
                w.trace(&r.trace)
                    .response(r.response)
                    .text(60, &r.batch.to_wire());
            }
            WireMessage::BatchUpload(r) => {
                w.text(2, r.pan.as_str())
                    .text(3, r.processing.to_wire())
                    .money(&r.amount)
                    .trace(&r.trace)
                    .text(37, r.rrn.as_str())
                    .text(38, r.approval.as_str())
                    .text(42, r.merchant.as_str())
                    .text(60, &r.batch.to_wire())
                    .text(71, &item_to_wire(r.item))
                    .text(72, &item_to_wire(r.item_count));
            }
            WireMessage::BatchUploadResponse(r) => {
                w.trace(&r.trace)
                    .response(r.response)
                    .text(60, &r.batch.to_wire())
                    .text(71, &item_to_wire(r.item));
            }
            WireMessage::NetworkRequest(r) => {
                w.text(7, &r.transmitted.to_wire())
                    .text(11, &r.stan.to_wire())
                    .text(70, &format!("{:03}", r.code));
            }
            WireMessage::NetworkResponse(r) => {
                w.text(7, &r.transmitted.to_wire())
                    .text(11, &r.stan.to_wire())
                    .response(r.response)
                    .text(70, &format!("{:03}", r.code));
            }
        }
        w.0
    }

    /// Lift raw fields into a typed message.
    pub fn from_message(message: &Message) -> Result<WireMessage, FieldError> {
        let r = Reader(message);
        let typed = match message.mti.value() {
            200 | 201 => WireMessage::FinancialRequest(FinancialRequest {
                repeat: message.mti.value() == 201,
                processing: r.get(3, ProcessingCode::from_wire)?,
                pan: r.get(2, Pan::new)?,
                expiry: r.get(14, Expiry::from_wire)?,
                amount: r.money()?,
                trace: r.trace()?,
                acquirer: r.get(32, InstitutionId::new)?,
                rrn: r.get(37, Rrn::new)?,
                merchant: r.get(42, MerchantId::new)?,
                batch: r.get(60, BatchNumber::from_wire)?,
                original: r.optional(90, OriginalData::from_wire)?,
            }),
            210 => WireMessage::FinancialResponse(FinancialResponse {
                processing: r.get(3, ProcessingCode::from_wire)?,
                amount: r.money()?,
                trace: r.trace()?,
                rrn: r.get(37, Rrn::new)?,
                response: r.response()?,
                approval: r.optional(38, ApprovalCode::new)?,
                balance: r.optional(54, balance_from_wire)?,
            }),
            420 | 421 => WireMessage::ReversalAdvice(ReversalAdvice {
                repeat: message.mti.value() == 421,
                processing: r.get(3, ProcessingCode::from_wire)?,
                pan: r.get(2, Pan::new)?,
                amount: r.money()?,
                trace: r.trace()?,
                acquirer: r.get(32, InstitutionId::new)?,
                rrn: r.get(37, Rrn::new)?,
                merchant: r.get(42, MerchantId::new)?,
                reason: r.response()?,
                original: r.get(90, OriginalData::from_wire)?,
            }),
            430 => WireMessage::ReversalResponse(ReversalResponse {
                trace: r.trace()?,
                rrn: r.get(37, Rrn::new)?,
                amount: r.money()?,
                response: r.response()?,
            }),
            500 | 501 => WireMessage::BatchClose(BatchClose {
                repeat: message.mti.value() == 501,
                trace: r.trace()?,
                merchant: r.get(42, MerchantId::new)?,
                batch: r.get(60, BatchNumber::from_wire)?,
                currency: r.get(49, Currency::from_wire)?,
                totals: BatchTotals {
                    credit_count: r.number(74, "credit count")?,
                    debit_count: r.number(76, "debit count")?,
                    credit_amount: r.number(86, "credit amount")?,
                    debit_amount: r.number(88, "debit amount")?,
                },
            }),
            510 => WireMessage::BatchCloseResponse(BatchCloseResponse {
                trace: r.trace()?,
                batch: r.get(60, BatchNumber::from_wire)?,
                response: r.response()?,
            }),
            320 => WireMessage::BatchUpload(BatchUpload {
                trace: r.trace()?,
                merchant: r.get(42, MerchantId::new)?,
                batch: r.get(60, BatchNumber::from_wire)?,
                processing: r.get(3, ProcessingCode::from_wire)?,
                pan: r.get(2, Pan::new)?,
                amount: r.money()?,
                rrn: r.get(37, Rrn::new)?,
                approval: r.get(38, ApprovalCode::new)?,
                item: r.number(71, "message number")? as u16,
                item_count: r.number(72, "last message number")? as u16,
            }),
            330 => WireMessage::BatchUploadResponse(BatchUploadResponse {
                trace: r.trace()?,
                batch: r.get(60, BatchNumber::from_wire)?,
                item: r.number(71, "message number")? as u16,
                response: r.response()?,
            }),
            800 => WireMessage::NetworkRequest(NetworkRequest {
                code: r.number(70, "network management code")? as u16,
                stan: r.get(11, Stan::from_wire)?,
                transmitted: r.get(7, TransmissionTime::from_wire)?,
            }),
            810 => WireMessage::NetworkResponse(NetworkResponse {
                code: r.number(70, "network management code")? as u16,
                stan: r.get(11, Stan::from_wire)?,
                transmitted: r.get(7, TransmissionTime::from_wire)?,
                response: r.response()?,
            }),
            _ => return Err(FieldError::UnsupportedMti(message.mti)),
        };
        Ok(typed)
    }
}
