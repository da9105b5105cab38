//! A small world for switch tests: two terminals, bank A issuing BIN
//! 411111 and acquiring both merchants, bank B issuing BINs 41 and 5. The
//! tests play the terminals and the banks by hand.

use payfault::node::switch::{BankLink, Switch, SwitchConfig, SwitchRecord, SwitchTimer, TerminalLink};
use payfault::node::{BankId, Bugs, Calendar, Effect, Millis, Peer, StateMachine};
use payfault::wire::typed::*;
use payfault::wire::types::*;
use payfault::wire::{sign, verify, MacKey, Mti, WireMessage};

pub type Effects = Vec<Effect<SwitchRecord, SwitchTimer>>;

pub const BANK_TIMEOUT_MS: u64 = 600;
pub const REVERSAL_RETRY_MS: u64 = 400;
pub const SETTLEMENT_RETRY_MS: u64 = 500;
pub const VISA_PAN: &str = "4111111111111111";
pub const OTHER_41_PAN: &str = "4100000000000000";
pub const MASTERCARD_PAN: &str = "5500000000000004";

pub fn terminal(number: u8) -> TerminalId {
    TerminalId::new(&format!("TERM000{number}")).unwrap()
}

pub fn merchant(number: u8) -> MerchantId {
    MerchantId::new(&format!("MERCHANT000000{number}")).unwrap()
}

pub fn bank_a() -> BankId {
    BankId("bank-a".into())
}

pub fn bank_b() -> BankId {
    BankId("bank-b".into())
}

/// The switch's configuration and the keys of its peers.
pub struct Fixture {
    pub config: SwitchConfig,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::with_bugs(Bugs::none())
    }

    pub fn with_bugs(bugs: Bugs) -> Fixture {
        let terminals = (1..=2)
            .map(|n| TerminalLink {
                terminal: terminal(n),
                merchant: merchant(n),
                key: MacKey([n; 16]),
            })
            .collect();
        let banks = vec![
            BankLink {
                bank: bank_a(),
                key: MacKey([0xA0; 16]),
                bins: vec!["411111".into()],
                acquirer: true,
            },
            BankLink {
                bank: bank_b(),
                key: MacKey([0xB0; 16]),
                bins: vec!["41".into(), "5".into()],
                acquirer: false,
            },
        ];
        let config = SwitchConfig {
            calendar: Calendar::default(),
            institution: InstitutionId::new("99").unwrap(),
            terminals,
            banks,
            merchant_acquirer: Vec::new(),
            bank_timeout_ms: BANK_TIMEOUT_MS,
            reversal_retry_ms: REVERSAL_RETRY_MS,
            settlement_retry_ms: SETTLEMENT_RETRY_MS,
            pending_max: 16,
            bugs,
        };
        Fixture { config }
    }

    /// A fresh switch, started.
    pub fn switch(&self) -> Switch {
        let mut switch = Switch::boot(self.config.clone(), Vec::new());
        assert!(
            switch.start(Millis(0)).is_empty(),
            "a fresh switch has nothing to resume"
        );
        switch
    }

    pub fn key_of(&self, peer: &Peer) -> MacKey {
        match peer {
            Peer::Terminal(id) => {
                self.config
                    .terminals
                    .iter()
                    .find(|l| &l.terminal == id)
                    .unwrap()
                    .key
            }
            Peer::Bank(id) => self.config.banks.iter().find(|l| &l.bank == id).unwrap().key,
            Peer::Switch => panic!("the switch has no key of its own"),
        }
    }

    /// `from` sends `message` (signed with its key) to the switch.
    pub fn deliver(&self, switch: &mut Switch, now: u64, from: &Peer, message: &WireMessage) -> Effects {
        let bytes = signed(message, &self.key_of(from));
        switch.on_message(Millis(now), from, &bytes)
    }

    pub fn terminal_sends(
        &self,
        switch: &mut Switch,
        now: u64,
        number: u8,
        message: &WireMessage,
    ) -> Effects {
        self.deliver(switch, now, &Peer::Terminal(terminal(number)), message)
    }

    pub fn bank_sends(&self, switch: &mut Switch, now: u64, bank: BankId, message: &WireMessage) -> Effects {
        self.deliver(switch, now, &Peer::Bank(bank), message)
    }

    /// The messages sent, each verified with its receiver's key.
    pub fn sent(&self, effects: &Effects) -> Vec<(Peer, WireMessage)> {
        effects
            .iter()
            .filter_map(|effect| match effect {
                Effect::Send { to, bytes } => {
                    let raw = verify(bytes, &self.key_of(to)).expect("signed with the receiver's key");
                    Some((to.clone(), WireMessage::from_message(&raw).expect("well-formed")))
                }
                _ => None,
            })
            .collect()
    }

    /// The one message sent, to `to`.
    pub fn only_sent_to(&self, effects: &Effects, to: &Peer) -> WireMessage {
        let sent = self.sent(effects);
        assert_eq!(sent.len(), 1, "expected one message, got {sent:?}");
        assert_eq!(&sent[0].0, to);
        sent[0].1.clone()
    }
}

pub fn signed(message: &WireMessage, key: &MacKey) -> Vec<u8> {
    sign(&mut message.to_message(), key).unwrap()
}

pub fn records(effects: &Effects) -> Vec<SwitchRecord> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Append(record) => Some(record.clone()),
            _ => None,
        })
        .collect()
}

pub fn trace(terminal_number: u8, stan: u32) -> Trace {
    let calendar = Calendar::default();
    Trace {
        terminal: terminal(terminal_number),
        stan: Stan::new(stan).unwrap(),
        local_time: calendar.local_time(Millis(0)),
        local_date: calendar.local_date(Millis(0)),
        transmitted: calendar.transmission_time(Millis(0)),
    }
}

pub fn euros(minor: u64) -> Money {
    Money::new(minor, Currency::EUR).unwrap()
}

pub fn batch(number: u32) -> BatchNumber {
    BatchNumber::new(number).unwrap()
}

/// A financial request of terminal `terminal_number` in batch 1.
pub fn request(terminal_number: u8, stan: u32, processing: ProcessingCode, minor: u64) -> FinancialRequest {
    FinancialRequest {
        repeat: false,
        processing,
        pan: Pan::new(VISA_PAN).unwrap(),
        expiry: Expiry { year: 30, month: 12 },
        amount: euros(minor),
        trace: trace(terminal_number, stan),
        acquirer: InstitutionId::new("12345").unwrap(),
        rrn: Rrn::new(&format!("{terminal_number:02}0001{stan:06}")).unwrap(),
        merchant: merchant(terminal_number),
        batch: batch(1),
        original: None,
    }
}

pub fn sale(terminal_number: u8, stan: u32, minor: u64) -> FinancialRequest {
    request(terminal_number, stan, ProcessingCode::Sale, minor)
}

/// A refund or void naming `original`.
pub fn follow_up(
    original: &FinancialRequest,
    stan: u32,
    processing: ProcessingCode,
    minor: u64,
) -> FinancialRequest {
    let terminal_number = original.trace.terminal.as_str().as_bytes()[7] - b'0';
    let mut follow_up = request(terminal_number, stan, processing, minor);
    follow_up.original = Some(original_data(original));
    follow_up
}

pub fn original_data(original: &FinancialRequest) -> OriginalData {
    OriginalData {
        mti: Mti::parse("0200").unwrap(),
        stan: original.trace.stan,
        local_date_time: TransmissionTime {
            date: original.trace.local_date,
            time: original.trace.local_time,
        },
        acquirer: original.acquirer.clone(),
    }
}

pub fn answer(request: &FinancialRequest, response: ResponseCode) -> FinancialResponse {
    FinancialResponse {
        processing: request.processing,
        amount: request.amount,
        trace: request.trace.clone(),
        rrn: request.rrn.clone(),
        response,
        approval: response
            .is_approved()
            .then(|| ApprovalCode::new("AP0001").unwrap()),
        balance: None,
    }
}

pub fn approve(request: &FinancialRequest) -> WireMessage {
    WireMessage::FinancialResponse(answer(request, ResponseCode::Approved))
}

pub fn reversal(request: &FinancialRequest, repeat: bool) -> ReversalAdvice {
    ReversalAdvice {
        repeat,
        processing: request.processing,
        pan: request.pan.clone(),
        amount: request.amount,
        trace: request.trace.clone(),
        acquirer: request.acquirer.clone(),
        rrn: request.rrn.clone(),
        merchant: request.merchant.clone(),
        reason: ResponseCode::ResponseTooLate,
        original: original_data(request),
    }
}

pub fn reversal_ack(advice: &ReversalAdvice) -> WireMessage {
    WireMessage::ReversalResponse(ReversalResponse {
        trace: advice.trace.clone(),
        rrn: advice.rrn.clone(),
        amount: advice.amount,
        response: ResponseCode::Approved,
    })
}

pub fn close(terminal_number: u8, stan: u32, totals: BatchTotals, repeat: bool) -> BatchClose {
    BatchClose {
        repeat,
        trace: trace(terminal_number, stan),
        merchant: merchant(terminal_number),
        batch: batch(1),
        currency: Currency::EUR,
        totals,
    }
}

pub fn close_answer(close: &BatchClose, response: ResponseCode) -> WireMessage {
    WireMessage::BatchCloseResponse(BatchCloseResponse {
        trace: close.trace.clone(),
        batch: close.batch,
        response,
    })
}

pub fn upload(request: &FinancialRequest, item: u16, item_count: u16) -> BatchUpload {
    BatchUpload {
        trace: request.trace.clone(),
        merchant: request.merchant.clone(),
        batch: request.batch,
        processing: request.processing,
        pan: request.pan.clone(),
        amount: request.amount,
        rrn: request.rrn.clone(),
        approval: ApprovalCode::new("AP0001").unwrap(),
        item,
        item_count,
    }
}

pub fn totals(sales: &[u64], refunds: &[u64]) -> BatchTotals {
    BatchTotals {
        credit_count: refunds.len() as u64,
        credit_amount: refunds.iter().sum(),
        debit_count: sales.len() as u64,
        debit_amount: sales.iter().sum(),
    }
}

pub fn response_code(message: &WireMessage) -> ResponseCode {
    match message {
        WireMessage::FinancialResponse(r) => r.response,
        WireMessage::ReversalResponse(r) => r.response,
        WireMessage::BatchCloseResponse(r) => r.response,
        WireMessage::BatchUploadResponse(r) => r.response,
        WireMessage::NetworkResponse(r) => r.response,
        other => panic!("{other:?} carries no response code"),
    }
}
