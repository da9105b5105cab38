//! The POS terminal against a switch played by hand: every step of the
//! contract in `docs/nodes.md` ("Terminal"), the planted bugs, and recovery
//! from every prefix of a session's journal.

use payfault::node::terminal::{
    Card, Terminal, TerminalCommand, TerminalConfig, TerminalRecord, TerminalTimer, CRASH_POINTS,
};
use payfault::node::{Bug, Bugs, Effect, Millis, OperationId, Outcome, Peer, Shown, StateMachine};
use payfault::wire::typed::{
    BatchClose, BatchCloseResponse, BatchUpload, BatchUploadResponse, FinancialRequest, FinancialResponse,
    ReversalAdvice, ReversalResponse, WireMessage,
};
use payfault::wire::types::{
    ApprovalCode, Currency, Expiry, InstitutionId, MerchantId, Money, Pan, ProcessingCode, ResponseCode,
    Stan, TerminalId,
};
use payfault::wire::{sign, verify, MacKey};

type Effects = Vec<Effect<TerminalRecord, TerminalTimer>>;

const KEY: MacKey = MacKey(*b"terminal-key-001");

fn config() -> TerminalConfig {
    TerminalConfig::new(
        TerminalId::new("TERM0001").unwrap(),
        MerchantId::new("MERCHANT0000001").unwrap(),
        InstitutionId::new("123456").unwrap(),
        KEY,
    )
}

fn eur(minor: u64) -> Money {
    Money::new(minor, Currency::EUR).unwrap()
}

fn card() -> Card {
    Card {
        pan: Pan::new("4111111111111111").unwrap(),
        expiry: Expiry { year: 30, month: 12 },
    }
}

fn sale(operation: u32, minor: u64) -> TerminalCommand {
    TerminalCommand::Sale {
        operation: OperationId(operation),
        card: card(),
        amount: eur(minor),
    }
}

fn refund(operation: u32, original: u32, minor: u64) -> TerminalCommand {
    TerminalCommand::Refund {
        operation: OperationId(operation),
        original: OperationId(original),
        amount: eur(minor),
    }
}

fn void(operation: u32, original: u32) -> TerminalCommand {
    TerminalCommand::Void {
        operation: OperationId(operation),
        original: OperationId(original),
    }
}

fn close(operation: u32) -> TerminalCommand {
    TerminalCommand::CloseBatch {
        operation: OperationId(operation),
    }
}

/// A terminal, its journal (every `Append`, as if all synced) and a clock.
struct Fixture {
    config: TerminalConfig,
    terminal: Terminal,
    journal: Vec<TerminalRecord>,
    now: Millis,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with(config())
    }

    fn with_bugs(bugs: &[Bug]) -> Fixture {
        Fixture::with(TerminalConfig {
            bugs: Bugs::of(bugs.iter().copied()),
            ..config()
        })
    }

    fn with(config: TerminalConfig) -> Fixture {
        let terminal = Terminal::boot(config.clone(), Vec::new());
        let mut fixture = Fixture {
            config,
            terminal,
            journal: Vec::new(),
            now: Millis(0),
        };
        let effects = fixture.terminal.start(Millis(0));
        fixture.keep_journal(&effects);
        fixture
    }

    fn keep_journal(&mut self, effects: &Effects) {
        for effect in effects {
            if let Effect::Append(record) = effect {
                self.journal.push(record.clone());
            }
        }
    }

    fn advance(&mut self, duration_ms: u64) {
        self.now = self.now.plus(duration_ms);
    }

    fn command(&mut self, command: TerminalCommand) -> Effects {
        let effects = self.terminal.on_command(self.now, command);
        self.keep_journal(&effects);
        effects
    }

    fn deliver(&mut self, message: &WireMessage) -> Effects {
        let bytes = signed(message, &KEY);
        self.deliver_bytes(&bytes)
    }

    fn deliver_bytes(&mut self, bytes: &[u8]) -> Effects {
        let effects = self.terminal.on_message(self.now, &Peer::Switch, bytes);
        self.keep_journal(&effects);
        effects
    }

    fn fire(&mut self, timer: TerminalTimer) -> Effects {
        let effects = self.terminal.on_timer(self.now, timer);
        self.keep_journal(&effects);
        effects
    }

    /// Crash and boot from the journal kept so far.
    fn reboot(&mut self) -> Effects {
        self.terminal = Terminal::boot(self.config.clone(), self.journal.clone());
        let effects = self.terminal.start(self.now);
        self.keep_journal(&effects);
        effects
    }

    /// Run a sale to an approval; returns the request.
    fn approved_sale(&mut self, operation: u32, minor: u64) -> FinancialRequest {
        let request = only_request(&self.command(sale(operation, minor)));
        self.deliver(&answer(&request, ResponseCode::Approved));
        request
    }
}

fn signed(message: &WireMessage, key: &MacKey) -> Vec<u8> {
    let mut raw = message.to_message();
    sign(&mut raw, key).unwrap()
}

fn sent(effects: &Effects) -> Vec<WireMessage> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Send { to, bytes } => {
                assert_eq!(*to, Peer::Switch);
                Some(WireMessage::from_message(&verify(bytes, &KEY).expect("signed with the key")).unwrap())
            }
            _ => None,
        })
        .collect()
}

fn requests(effects: &Effects) -> Vec<FinancialRequest> {
    (sent(effects).into_iter())
        .filter_map(|message| match message {
            WireMessage::FinancialRequest(request) => Some(request),
            _ => None,
        })
        .collect()
}

fn only_request(effects: &Effects) -> FinancialRequest {
    let all = requests(effects);
    assert_eq!(all.len(), 1, "one request in {effects:?}");
    all.into_iter().next().unwrap()
}

fn advices(effects: &Effects) -> Vec<ReversalAdvice> {
    (sent(effects).into_iter())
        .filter_map(|message| match message {
            WireMessage::ReversalAdvice(advice) => Some(advice),
            _ => None,
        })
        .collect()
}

fn shows(effects: &Effects) -> Vec<Shown> {
    (effects.iter())
        .filter_map(|effect| match effect {
            Effect::Show(shown) => Some(shown.clone()),
            _ => None,
        })
        .collect()
}

fn only_outcome(effects: &Effects) -> Outcome {
    let all = shows(effects);
    assert_eq!(all.len(), 1, "one show in {effects:?}");
    all[0].outcome.clone()
}

fn records(effects: &Effects) -> Vec<TerminalRecord> {
    (effects.iter())
        .filter_map(|effect| match effect {
            Effect::Append(record) => Some(record.clone()),
            _ => None,
        })
        .collect()
}

/// A compact name for each effect, to check orders.
fn shape(effects: &Effects) -> Vec<String> {
    (effects.iter())
        .map(|effect| match effect {
            Effect::Append(record) => format!("append {}", record_name(record)),
            Effect::Sync => "sync".into(),
            Effect::Send { bytes, .. } => format!("send {}", String::from_utf8_lossy(&bytes[..4])),
            Effect::SetTimer { .. } => "set timer".into(),
            Effect::CancelTimer(_) => "cancel timer".into(),
            Effect::Show(_) => "show".into(),
            Effect::CrashPoint(point) => format!("crash {}", point.0),
        })
        .collect()
}

fn record_name(record: &TerminalRecord) -> &'static str {
    match record {
        TerminalRecord::Accepted { .. } => "accepted",
        TerminalRecord::Pending { .. } => "pending",
        TerminalRecord::Answered { .. } => "answered",
        TerminalRecord::ReversalQueued { .. } => "reversal queued",
        TerminalRecord::ReversalAcknowledged { .. } => "reversal acknowledged",
        TerminalRecord::ReversalGivenUp { .. } => "reversal given up",
        TerminalRecord::Shown { .. } => "shown",
        TerminalRecord::CloseStarted { .. } => "close started",
        TerminalRecord::CloseMismatch { .. } => "close mismatch",
        TerminalRecord::UploadAcknowledged { .. } => "upload acknowledged",
        TerminalRecord::BatchClosed { .. } => "batch closed",
        TerminalRecord::CloseFailed { .. } => "close failed",
    }
}

fn position(shape: &[String], wanted: &str) -> usize {
    (shape.iter().position(|entry| entry == wanted)).unwrap_or_else(|| panic!("no {wanted:?} in {shape:?}"))
}

/// The switch's 0210 to `request`.
fn answer(request: &FinancialRequest, code: ResponseCode) -> WireMessage {
    let approved = code.is_approved();
    WireMessage::FinancialResponse(FinancialResponse {
        processing: request.processing,
        amount: request.amount,
        trace: request.trace.clone(),
        rrn: request.rrn.clone(),
        response: code,
        approval: approved
            .then(|| ApprovalCode::new(&format!("A{:05}", request.trace.stan.value())).unwrap()),
        balance: (approved && request.processing == ProcessingCode::Balance).then(|| eur(4_200)),
    })
}

fn reversal_ack(advice: &ReversalAdvice) -> WireMessage {
    WireMessage::ReversalResponse(ReversalResponse {
        trace: advice.trace.clone(),
        rrn: advice.rrn.clone(),
        amount: advice.amount,
        response: ResponseCode::Approved,
    })
}

fn close_answer(close: &BatchClose, code: ResponseCode) -> WireMessage {
    WireMessage::BatchCloseResponse(BatchCloseResponse {
        trace: close.trace.clone(),
        batch: close.batch,
        response: code,
    })
}

fn upload_ack(upload: &BatchUpload) -> WireMessage {
    WireMessage::BatchUploadResponse(BatchUploadResponse {
        trace: upload.trace.clone(),
        batch: upload.batch,
        item: upload.item,
        response: ResponseCode::Approved,
    })
}

fn only_close(effects: &Effects) -> BatchClose {
    let closes: Vec<BatchClose> = (sent(effects).into_iter())
        .filter_map(|message| match message {
            WireMessage::BatchClose(close) => Some(close),
            _ => None,
        })
        .collect();
    assert_eq!(closes.len(), 1, "one close in {effects:?}");
    closes.into_iter().next().unwrap()
}

fn only_upload(effects: &Effects) -> BatchUpload {
    let uploads: Vec<BatchUpload> = (sent(effects).into_iter())
        .filter_map(|message| match message {
            WireMessage::BatchUpload(upload) => Some(upload),
            _ => None,
        })
        .collect();
    assert_eq!(uploads.len(), 1, "one upload in {effects:?}");
    uploads.into_iter().next().unwrap()
}

#[path = "node_terminal/batch.rs"]
mod batch;
#[path = "node_terminal/bugs.rs"]
mod bugs;
#[path = "node_terminal/recovery.rs"]
mod recovery;
#[path = "node_terminal/requests.rs"]
mod requests;
#[path = "node_terminal/reversals.rs"]
mod reversals;
