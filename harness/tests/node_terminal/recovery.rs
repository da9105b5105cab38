//! Recovery from every journal prefix: a session (sales, a lost answer and
//! its reversal, a refund, a void, a balance inquiry, a batch close with an
//! upload) runs against a fake switch; then for every prefix of the journal
//! the terminal is rebooted from it, facing the switch as it was at that
//! moment, and the session must still end correctly.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::*;
use payfault::node::journal::{decode_journal, encode_record, Tail};
use payfault::node::OperationKind;
use payfault::wire::typed::BatchTotals;
use payfault::wire::types::TransactionKey;

/// The amount whose answers the network always loses.
const LOST_MINOR: u64 = 2_000;

/// A switch (and bank) played by the test: stores each answer by key, as a
/// real one would, and answers copies with the stored answer.
#[derive(Debug, Clone, Default)]
struct FakeSwitch {
    requests: BTreeMap<TransactionKey, (FinancialRequest, FinancialResponse)>,
    reversed: BTreeSet<TransactionKey>,
    /// Original sale → the void that names it (void only while that is live).
    voided: BTreeMap<TransactionKey, TransactionKey>,
    uploads: BTreeMap<(u32, u16), BatchUpload>,
    closed: BTreeMap<u32, BatchTotals>,
    mismatched: BTreeSet<u32>,
    key_reuse: Vec<String>,
}

impl FakeSwitch {
    fn handle(&mut self, bytes: &[u8]) -> Option<WireMessage> {
        let message = WireMessage::from_message(&verify(bytes, &KEY).expect("terminal signs")).unwrap();
        match message {
            WireMessage::FinancialRequest(request) => self.financial(request),
            WireMessage::ReversalAdvice(advice) => {
                self.reversed.insert(advice.trace.key());
                Some(reversal_ack(&advice))
            }
            WireMessage::BatchClose(close) => Some(self.close(close)),
            WireMessage::BatchUpload(upload) => {
                let ack = upload_ack(&upload);
                self.uploads.insert((upload.batch.value(), upload.item), upload);
                Some(ack)
            }
            other => panic!("terminal sent {other:?}"),
        }
    }

    fn live(&self, key: &TransactionKey) -> bool {
        !self.reversed.contains(key)
            && self
                .requests
                .get(key)
                .is_some_and(|(_, answer)| answer.response.is_approved())
    }

    fn financial(&mut self, request: FinancialRequest) -> Option<WireMessage> {
        let key = request.trace.key();
        if let Some((stored, answer)) = self.requests.get(&key) {
            if (stored.processing, stored.amount, &stored.rrn)
                != (request.processing, request.amount, &request.rrn)
            {
                self.key_reuse.push(format!("{key} reused by {request:?}"));
            }
            return Some(WireMessage::FinancialResponse(answer.clone()));
        }
        let original_live = request
            .original
            .as_ref()
            .map(|original| self.live(&original.key(&request.trace.terminal)));
        let code = if self.reversed.contains(&key) || original_live == Some(false) {
            ResponseCode::InvalidTransaction
        } else {
            ResponseCode::Approved
        };
        if code.is_approved() && request.processing == ProcessingCode::Void {
            let original = request.original.as_ref().unwrap().key(&request.trace.terminal);
            self.voided.insert(original, key.clone());
        }
        let WireMessage::FinancialResponse(response) = answer(&request, code) else {
            unreachable!()
        };
        self.requests.insert(key, (request.clone(), response.clone()));
        (request.amount.amount.minor_units() != LOST_MINOR)
            .then_some(WireMessage::FinancialResponse(response))
    }

    /// Totals from what the switch itself approved and nobody undid.
    fn own_totals(&self, batch: u32) -> BatchTotals {
        let mut totals = BatchTotals::default();
        for (key, (request, _)) in &self.requests {
            if request.batch.value() != batch || !self.live(key) {
                continue;
            }
            let minor = request.amount.amount.minor_units();
            match request.processing {
                ProcessingCode::Sale if !self.voided.get(key).is_some_and(|void| self.live(void)) => {
                    totals.debit_count += 1;
                    totals.debit_amount += minor;
                }
                ProcessingCode::Refund => {
                    totals.credit_count += 1;
                    totals.credit_amount += minor;
                }
                _ => {}
            }
        }
        totals
    }

    /// The first 0500 of a batch is always answered 95 (to exercise the
    /// upload); afterwards the totals must equal the switch's own.
    fn close(&mut self, close: BatchClose) -> WireMessage {
        let batch = close.batch.value();
        if self.closed.contains_key(&batch) {
            return close_answer(&close, ResponseCode::Approved);
        }
        if self.mismatched.insert(batch) || close.totals != self.own_totals(batch) {
            return close_answer(&close, ResponseCode::ReconcileError);
        }
        self.closed.insert(batch, close.totals);
        close_answer(&close, ResponseCode::Approved)
    }
}

/// A terminal wired to the fake switch, on a simulated clock.
struct Run {
    terminal: Terminal,
    switch: FakeSwitch,
    now: Millis,
    timers: BTreeMap<TerminalTimer, Millis>,
    inbox: VecDeque<(Millis, Vec<u8>)>,
    journal: Vec<TerminalRecord>,
    /// The switch as it was when each record was appended.
    snapshots: Vec<(FakeSwitch, Millis)>,
    shows: Vec<Shown>,
}

impl Run {
    fn new(terminal: Terminal, switch: FakeSwitch, now: Millis) -> Run {
        Run {
            terminal,
            switch,
            now,
            timers: BTreeMap::new(),
            inbox: VecDeque::new(),
            journal: Vec::new(),
            snapshots: Vec::new(),
            shows: Vec::new(),
        }
    }

    fn execute(&mut self, effects: Effects) {
        for effect in effects {
            match effect {
                Effect::Append(record) => {
                    self.snapshots.push((self.switch.clone(), self.now));
                    self.journal.push(record);
                }
                Effect::Sync | Effect::CrashPoint(_) => {}
                Effect::Send { bytes, .. } => {
                    if let Some(reply) = self.switch.handle(&bytes) {
                        self.inbox.push_back((self.now.plus(10), signed(&reply, &KEY)));
                    }
                }
                Effect::SetTimer { timer, at } => {
                    self.timers.insert(timer, at);
                }
                Effect::CancelTimer(timer) => {
                    self.timers.remove(&timer);
                }
                Effect::Show(shown) => self.shows.push(shown),
            }
        }
    }

    fn run_until_quiet(&mut self) {
        for _ in 0..10_000 {
            let message_at = self.inbox.front().map(|(at, _)| *at);
            let timer = (self.timers.iter())
                .min_by_key(|(_, at)| **at)
                .map(|(timer, at)| (timer.clone(), *at));
            let effects = match (message_at, timer) {
                (Some(at), timer) if timer.as_ref().is_none_or(|(_, timer_at)| at <= *timer_at) => {
                    let (_, bytes) = self.inbox.pop_front().unwrap();
                    self.now = at;
                    self.terminal.on_message(at, &Peer::Switch, &bytes)
                }
                (Some(_), None) => unreachable!("a message with no timer is delivered first"),
                (_, Some((timer, at))) => {
                    self.timers.remove(&timer);
                    self.now = self.now.max(at);
                    self.terminal.on_timer(self.now, timer)
                }
                (None, None) => return,
            };
            self.execute(effects);
        }
        panic!("the session never settles");
    }
}

fn script() -> Vec<TerminalCommand> {
    vec![
        sale(1, 1_000),
        sale(2, LOST_MINOR),
        refund(3, 1, 300),
        sale(4, 700),
        void(5, 4),
        TerminalCommand::Balance {
            operation: OperationId(6),
            card: card(),
            currency: Currency::EUR,
        },
        close(7),
    ]
}

/// Feed the commands as a cashier would: the next one once the screen
/// showed the previous result and the terminal is idle.
fn run_commands(run: &mut Run, commands: &[TerminalCommand]) {
    run.run_until_quiet();
    for command in commands {
        let effects = run.terminal.on_command(run.now, command.clone());
        run.execute(effects);
        run.run_until_quiet();
    }
}

fn pending_keys(journal: &[TerminalRecord]) -> Vec<TransactionKey> {
    (journal.iter())
        .filter_map(|record| match record {
            TerminalRecord::Pending { request, .. } => Some(request.trace.key()),
            _ => None,
        })
        .collect()
}

/// What the session must guarantee, whatever the crash: `before` is the
/// journal that survived, `run` the continuation after the reboot.
fn check(before: &[TerminalRecord], run: &Run, context: &str) {
    let journal: Vec<TerminalRecord> = before.iter().chain(run.journal.iter()).cloned().collect();
    let mut shown: BTreeMap<OperationId, Vec<Outcome>> = BTreeMap::new();
    for record in before {
        if let TerminalRecord::Shown { shown: display } = record {
            shown
                .entry(display.operation)
                .or_default()
                .push(display.outcome.clone());
        }
    }
    for display in &run.shows {
        shown
            .entry(display.operation)
            .or_default()
            .push(display.outcome.clone());
    }
    for operation in 1..=7 {
        let outcomes = shown.get(&OperationId(operation)).cloned().unwrap_or_default();
        assert_eq!(outcomes.len(), 1, "{context}: op{operation} shown {outcomes:?}");
    }
    let close = &shown[&OperationId(7)][0];
    let closed = matches!(close, Outcome::BatchClosed { .. });
    let restarted = matches!(close, Outcome::Refused { reason } if reason.contains("restarted"));
    assert!(closed || restarted, "{context}: close shown {close:?}");
    let keys = pending_keys(&journal);
    let distinct: BTreeSet<_> = keys.iter().collect();
    assert_eq!(
        distinct.len(),
        keys.len(),
        "{context}: a STAN was reused: {keys:?}"
    );
    assert!(
        run.switch.key_reuse.is_empty(),
        "{context}: {:?}",
        run.switch.key_reuse
    );
    let answered: BTreeSet<TransactionKey> = (journal.iter())
        .filter_map(|record| match record {
            TerminalRecord::Answered { key, .. } => Some(key.clone()),
            _ => None,
        })
        .collect();
    for key in run.switch.requests.keys() {
        assert!(
            answered.contains(key) || run.switch.reversed.contains(key),
            "{context}: {key} neither answered nor reversed"
        );
    }
    check_money(&journal, &shown, &run.switch, closed, context);
    assert!(
        run.terminal.reversal_queue().is_empty(),
        "{context}: reversals left"
    );
    assert!(run.terminal.is_idle(), "{context}: not idle");
    assert_eq!(
        run.terminal.batch().value(),
        if closed { 2 } else { 1 },
        "{context}"
    );
}

/// What the customer saw as approved is exactly what the switch holds live,
/// and the closed batch's totals are the switch's own.
fn check_money(
    journal: &[TerminalRecord],
    shown: &BTreeMap<OperationId, Vec<Outcome>>,
    switch: &FakeSwitch,
    closed: bool,
    context: &str,
) {
    let mut operation_of = BTreeMap::new();
    for record in journal {
        if let TerminalRecord::Pending {
            operation, request, ..
        } = record
        {
            operation_of.insert(request.trace.key(), *operation);
        }
    }
    for (key, (request, _)) in &switch.requests {
        if request.processing == ProcessingCode::Balance {
            continue;
        }
        let operation = *operation_of
            .get(key)
            .unwrap_or_else(|| panic!("{context}: {key} sent, never journalled"));
        let approved = matches!(shown[&operation][0], Outcome::Approved { .. });
        let current = pending_keys(journal)
            .into_iter()
            .rfind(|candidate| operation_of[candidate] == operation);
        if current.as_ref() == Some(key) {
            assert_eq!(
                approved,
                switch.live(key),
                "{context}: {key} shown {:?}",
                shown[&operation]
            );
        } else {
            assert!(!switch.live(key), "{context}: superseded {key} still live");
        }
    }
    if !closed {
        assert!(switch.closed.is_empty(), "{context}");
        return;
    }
    let closed_totals = (journal.iter()).find_map(|record| match record {
        TerminalRecord::CloseStarted { totals, batch, .. } if batch.value() == 1 => Some(*totals),
        _ => None,
    });
    assert_eq!(closed_totals, Some(switch.own_totals(1)), "{context}");
    assert_eq!(switch.closed.get(&1), Some(&switch.own_totals(1)), "{context}");
}

#[test]
fn an_uninterrupted_session_ends_correctly_and_its_journal_survives_the_disk() {
    let terminal = Terminal::boot(config(), Vec::new());
    let mut run = Run::new(terminal, FakeSwitch::default(), Millis(0));
    let effects = run.terminal.start(Millis(0));
    run.execute(effects);
    run_commands(&mut run, &script());
    check(&[], &run, "no crash");
    let close = run
        .shows
        .iter()
        .find(|display| display.operation == OperationId(7))
        .unwrap();
    assert_eq!(
        close.outcome,
        Outcome::BatchClosed { uploaded: 2 },
        "the first sale and the refund"
    );
    let kinds: Vec<_> = run
        .shows
        .iter()
        .map(|display| (display.kind, display.outcome.clone()))
        .collect();
    assert!(kinds.contains(&(
        OperationKind::Financial(ProcessingCode::Sale),
        Outcome::FailedReversed {
            reason: ResponseCode::ResponseTooLate
        }
    )));
    let bytes: Vec<u8> = run.journal.iter().flat_map(encode_record).collect();
    let recovered = decode_journal::<TerminalRecord>(&bytes);
    assert_eq!(recovered.tail, Tail::Clean);
    assert_eq!(recovered.records, run.journal);
}

#[test]
fn every_journal_prefix_recovers_to_a_correct_end() {
    let terminal = Terminal::boot(config(), Vec::new());
    let mut full = Run::new(terminal, FakeSwitch::default(), Millis(0));
    let effects = full.terminal.start(Millis(0));
    full.execute(effects);
    run_commands(&mut full, &script());
    let records = full.journal.clone();
    assert!(
        records.len() >= 30,
        "the session is not trivial: {} records",
        records.len()
    );
    let final_switch = (full.switch.clone(), full.now);
    for cut in 0..=records.len() {
        let just_after = if cut == 0 {
            (FakeSwitch::default(), Millis(0))
        } else {
            full.snapshots[cut - 1].clone()
        };
        let just_before = full
            .snapshots
            .get(cut)
            .cloned()
            .unwrap_or_else(|| final_switch.clone());
        for (moment, (switch, crash_at)) in [("after", just_after), ("before", just_before)] {
            let context = format!("crash with {cut} records, switch as {moment} the next append");
            let prefix = &records[..cut];
            let now = crash_at.plus(1_000);
            let mut run = Run::new(Terminal::boot(config(), prefix.to_vec()), switch, now);
            let effects = run.terminal.start(now);
            run.execute(effects);
            let accepted: BTreeSet<OperationId> = (prefix.iter())
                .filter_map(|record| match record {
                    TerminalRecord::Accepted { command } => Some(command.operation()),
                    _ => None,
                })
                .collect();
            let remaining: Vec<TerminalCommand> = script()
                .into_iter()
                .filter(|command| !accepted.contains(&command.operation()))
                .collect();
            run_commands(&mut run, &remaining);
            check(prefix, &run, &context);
        }
    }
}
