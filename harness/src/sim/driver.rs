//! The async driver: runs one sans-IO node on a host, over TCP and a
//! journal file.
//!
//! It boots the node from what its journal kept, then loops: a frame from a
//! peer, an operator command or a due timer goes into the node, and the
//! node's effects are carried out strictly in order. A crash point that the
//! fault plan arms stops the host right there (the world then crashes it), so
//! nothing after that point happens, exactly as if the process died.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};
use turmoil::net::tcp::OwnedWriteHalf;
use turmoil::net::{TcpListener, TcpStream};

use super::disk::{JournalFile, SimJournal};
use super::tally::FaultBook;
use super::trace::{describe_message, Event, EventKind, Trace};
use crate::cover::{hit, Mark};
use crate::node::journal::{decode_journal, encode_record, Tail};
use crate::node::{CrashPoint, Effect, Millis, Peer, Shown, StateMachine};
use crate::plan::{ArmedCrash, ClockModel};
use crate::wire::types::{ApprovalCode, ProcessingCode, ResponseCode, TransactionKey};
use crate::wire::{encode_frame, FrameReader, MacKey, WireMessage};

/// What the world and every host share (one thread, so `RefCell`).
#[derive(Debug, Default)]
pub struct Shared {
    /// The run's trace.
    pub trace: RefCell<Trace>,
    /// What the terminals showed, in order.
    pub shown: RefCell<Vec<(u64, Shown)>>,
    /// Armed crash points and how often each host passed each point.
    pub crashes: RefCell<CrashController>,
    /// Answers (0210, 0430, 0510) that arrived with a valid MAC, as evidence.
    pub answers: RefCell<Vec<AnswerReceived>>,
    /// Requests (0200/0201, 0420/0421, 0500/0501) that arrived with a valid
    /// MAC, as evidence.
    pub requests: RefCell<Vec<RequestReceived>>,
    /// How often the faults the world and the hosts see fired (not traced).
    pub faults: RefCell<FaultBook>,
}

/// An authentic request as a host received it (`sim::evidence` turns it
/// into history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestReceived {
    /// Simulated milliseconds.
    pub at_ms: u64,
    /// The receiver's clock, ms.
    pub clock_ms: u64,
    /// Who received it.
    pub receiver: Peer,
    /// Who sent it.
    pub sender: Peer,
    /// The request.
    pub message: WireMessage,
}

/// An authentic financial answer as a host received it, in the nodes'
/// terms (`sim::evidence` turns it into history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerReceived {
    /// Simulated milliseconds.
    pub at_ms: u64,
    /// Who received it.
    pub receiver: Peer,
    /// Who sent it.
    pub sender: Peer,
    /// MTI: 210, 430 or 510.
    pub mti: u16,
    /// DE3 of a 0210.
    pub processing: Option<ProcessingCode>,
    /// The transaction key.
    pub key: TransactionKey,
    /// DE39.
    pub response: ResponseCode,
    /// DE38.
    pub approval: Option<ApprovalCode>,
}

/// One armed crash as the hosts see it: by host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arm {
    /// The host's name.
    pub host: String,
    /// The crash point's name.
    pub point: String,
    /// Which passage (1-based).
    pub nth: u32,
    /// Restart after this many simulated milliseconds.
    pub restart_after_ms: Option<u64>,
}

impl From<&ArmedCrash> for Arm {
    fn from(crash: &ArmedCrash) -> Arm {
        Arm {
            host: crash.host.name().to_string(),
            point: crash.point.clone(),
            nth: crash.nth,
            restart_after_ms: crash.restart_after_ms,
        }
    }
}

/// Decides whether a host crashes at a crash point.
#[derive(Debug, Default)]
pub struct CrashController {
    armed: Vec<(Arm, bool)>,
    passages: BTreeMap<(String, String), u32>,
    requests: Vec<(String, CrashPoint, Option<u64>)>,
    enabled: bool,
}

impl CrashController {
    /// A controller with these crashes armed.
    pub fn new(armed: Vec<Arm>) -> CrashController {
        CrashController {
            armed: armed.into_iter().map(|crash| (crash, false)).collect(),
            passages: BTreeMap::new(),
            requests: Vec::new(),
            enabled: true,
        }
    }

    /// Disarm everything (heal phase).
    pub fn disable(&mut self) {
        self.enabled = false;
    }

    /// `host` passes `point`: whether it must crash now.
    pub fn pass(&mut self, host: &str, point: CrashPoint) -> bool {
        let count = self
            .passages
            .entry((host.to_string(), point.0.to_string()))
            .or_insert(0);
        *count += 1;
        let count = *count;
        if !self.enabled {
            return false;
        }
        for (crash, fired) in &mut self.armed {
            if !*fired && crash.host == host && crash.point == point.0 && crash.nth == count {
                *fired = true;
                self.requests
                    .push((host.to_string(), point, crash.restart_after_ms));
                return true;
            }
        }
        false
    }

    /// Whether each armed crash fired, in the order armed.
    pub fn fired(&self) -> Vec<bool> {
        self.armed.iter().map(|(_, fired)| *fired).collect()
    }

    /// Crashes requested since the last call: (host, point, restart delay).
    pub fn take_requests(&mut self) -> Vec<(String, CrashPoint, Option<u64>)> {
        std::mem::take(&mut self.requests)
    }
}

/// Operator commands waiting for a node, surviving its restarts.
#[derive(Debug)]
pub struct CommandQueue<C> {
    queue: RefCell<VecDeque<C>>,
    notify: Notify,
}

impl<C> Default for CommandQueue<C> {
    fn default() -> CommandQueue<C> {
        CommandQueue {
            queue: RefCell::new(VecDeque::new()),
            notify: Notify::new(),
        }
    }
}

impl<C> CommandQueue<C> {
    /// Queue a command and wake the node's driver.
    pub fn push(&self, command: C) {
        self.queue.borrow_mut().push_back(command);
        self.notify.notify_one();
    }

    /// Commands not yet taken by the node.
    pub fn len(&self) -> usize {
        self.queue.borrow().len()
    }

    /// Whether no command is waiting.
    pub fn is_empty(&self) -> bool {
        self.queue.borrow().is_empty()
    }

    fn pop(&self) -> Option<C> {
        self.queue.borrow_mut().pop_front()
    }
}

/// How to run one node on one host.
pub struct HostSpec<N: StateMachine> {
    /// The host's name in the simulation.
    pub name: String,
    /// The node's configuration (used again at every boot).
    pub config: N::Config,
    /// Port to listen on, for nodes that peers connect to.
    pub listen_port: Option<u16>,
    /// Peers this node connects to: peer → `host:port`.
    pub dials: BTreeMap<Peer, String>,
    /// Peers that connect to this node: remote host name → peer.
    pub accepts: BTreeMap<String, Peer>,
    /// Journal file path on the host's disk.
    pub journal_path: PathBuf,
    /// The host's clock.
    pub clock: ClockModel,
    /// Give up connecting after this long.
    pub connect_timeout_ms: u64,
    /// Dial a peer again when a connection we dialed stayed silent this long
    /// after we sent on it.
    pub stale_connection_ms: u64,
    /// Commands for the node.
    pub commands: Rc<CommandQueue<N::Command>>,
    /// The node as it is now (evidence for the checker after the run).
    pub node: Rc<RefCell<Option<N>>>,
    /// The records that are durable on disk, in order (evidence).
    pub durable: Rc<RefCell<Vec<N::Record>>>,
    /// Who this node is, as its peers name it.
    pub me: Peer,
    /// MAC keys per peer, to record only authentic answers as evidence.
    pub evidence_keys: BTreeMap<Peer, MacKey>,
}

/// An open connection to a peer.
struct Connection {
    id: u64,
    writer: OwnedWriteHalf,
    /// Since when we have sent without hearing anything back on it.
    waiting_since_ms: Option<u64>,
}

enum HostEvent {
    Accepted(Peer, TcpStream),
    Frame(Peer, u64, Vec<u8>),
    Closed(Peer, u64),
}

type Effects<N> = Vec<Effect<<N as StateMachine>::Record, <N as StateMachine>::Timer>>;

fn sim_now_ms() -> u64 {
    turmoil::sim_elapsed()
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}

struct Driver<N: StateMachine> {
    spec: Rc<HostSpec<N>>,
    shared: Rc<Shared>,
    journal: SimJournal,
    pending_records: Vec<N::Record>,
    writers: BTreeMap<Peer, Connection>,
    timers: BTreeMap<N::Timer, Millis>,
    events: mpsc::UnboundedSender<HostEvent>,
    next_connection: u64,
}

/// Run `spec`'s node on the current host until the host is crashed.
pub async fn run_host<N>(spec: Rc<HostSpec<N>>, shared: Rc<Shared>) -> turmoil::Result
where
    N: StateMachine + 'static,
    N::Config: Clone,
{
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let journal = SimJournal::open(&spec.journal_path)?;
    let mut driver = Driver::<N> {
        spec: spec.clone(),
        shared,
        journal,
        pending_records: Vec::new(),
        writers: BTreeMap::new(),
        timers: BTreeMap::new(),
        events: sender.clone(),
        next_connection: 0,
    };
    let start_effects = driver.boot()?;
    if let Some(port) = spec.listen_port {
        let listener = TcpListener::bind(("0.0.0.0", port)).await?;
        tokio::task::spawn_local(accept_loop(listener, spec.accepts.clone(), sender));
    }
    driver.execute(start_effects).await;
    loop {
        while let Some(command) = spec.commands.pop() {
            let now = driver.now();
            let effects = driver.with_node(|node| node.on_command(now, command));
            driver.execute(effects).await;
        }
        let deadline = driver.next_deadline();
        tokio::select! {
            biased;
            Some(event) = receiver.recv() => driver.on_event(event).await,
            _ = spec.commands.notify.notified() => {}
            _ = sleep_until_sim(deadline) => driver.fire_due_timers().await,
        }
    }
}

async fn sleep_until_sim(deadline_sim_ms: Option<u64>) {
    match deadline_sim_ms {
        Some(deadline) => {
            let now = sim_now_ms();
            tokio::time::sleep(Duration::from_millis(deadline.saturating_sub(now))).await;
        }
        None => std::future::pending().await,
    }
}

async fn accept_loop(
    listener: TcpListener,
    accepts: BTreeMap<String, Peer>,
    events: mpsc::UnboundedSender<HostEvent>,
) {
    while let Ok((stream, address)) = listener.accept().await {
        let name = turmoil::reverse_lookup(address.ip()).unwrap_or_default();
        match accepts.get(&name) {
            Some(peer) => {
                let _ = events.send(HostEvent::Accepted(peer.clone(), stream));
            }
            None => drop(stream),
        }
    }
}

async fn read_loop(
    mut reader: turmoil::net::tcp::OwnedReadHalf,
    peer: Peer,
    connection: u64,
    events: mpsc::UnboundedSender<HostEvent>,
) {
    let mut frames = FrameReader::new();
    let mut buffer = vec![0u8; 4096];
    loop {
        match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(count) => frames.push(&buffer[..count]),
        }
        loop {
            match frames.next_frame() {
                Ok(Some(frame)) => {
                    let _ = events.send(HostEvent::Frame(peer.clone(), connection, frame));
                }
                Ok(None) => break,
                Err(_) => {
                    let _ = events.send(HostEvent::Closed(peer, connection));
                    return;
                }
            }
        }
    }
    let _ = events.send(HostEvent::Closed(peer, connection));
}

impl<N> Driver<N>
where
    N: StateMachine + 'static,
    N::Config: Clone,
{
    fn now(&self) -> Millis {
        let sim = sim_now_ms();
        let local = self.spec.clock.local(sim);
        let clock = self.spec.clock;
        if clock != ClockModel::default() && local != ClockModel::default().local(sim) {
            self.shared.faults.borrow_mut().skewed_read(&self.spec.name);
        }
        local
    }

    fn trace(&self, kind: EventKind) {
        self.shared.trace.borrow_mut().push(Event {
            at_ms: sim_now_ms(),
            host: self.spec.name.clone(),
            kind,
        });
    }

    fn with_node<T>(&self, call: impl FnOnce(&mut N) -> T) -> T {
        let mut slot = self.spec.node.borrow_mut();
        call(slot.as_mut().expect("node booted"))
    }

    fn boot(&mut self) -> std::io::Result<Effects<N>> {
        let bytes = self.journal.read_all()?;
        let recovered = decode_journal::<N::Record>(&bytes);
        let discarded_bytes = bytes.len() - recovered.valid_len;
        if recovered.tail != Tail::Clean {
            self.journal.truncate(recovered.valid_len as u64)?;
        }
        if discarded_bytes > 0 {
            self.shared.faults.borrow_mut().torn_tail_discarded();
        }
        self.trace(EventKind::Boot {
            records: recovered.records.len(),
            discarded_bytes,
        });
        *self.spec.durable.borrow_mut() = recovered.records.clone();
        let node = N::boot(self.spec.config.clone(), recovered.records);
        *self.spec.node.borrow_mut() = Some(node);
        let now = self.now();
        Ok(self.with_node(|node| node.start(now)))
    }

    fn next_deadline(&self) -> Option<u64> {
        self.timers
            .values()
            .min()
            .map(|local| self.spec.clock.sim_at(*local))
    }

    async fn fire_due_timers(&mut self) {
        let now = self.now();
        let due: Vec<N::Timer> = self
            .timers
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(timer, _)| timer.clone())
            .collect();
        for timer in due {
            if self.timers.get(&timer).is_none_or(|at| *at > now) {
                continue;
            }
            self.timers.remove(&timer);
            let effects = self.with_node(|node| node.on_timer(now, timer));
            self.execute(effects).await;
        }
    }

    async fn on_event(&mut self, event: HostEvent) {
        match event {
            HostEvent::Accepted(peer, stream) => self.register(peer, stream),
            HostEvent::Closed(peer, connection) => {
                if self.writers.get(&peer).is_some_and(|open| open.id == connection) {
                    self.writers.remove(&peer);
                }
            }
            HostEvent::Frame(peer, connection, bytes) => {
                if let Some(open) = self.writers.get_mut(&peer).filter(|open| open.id == connection) {
                    open.waiting_since_ms = None;
                }
                self.trace(EventKind::Received {
                    from: peer.to_string(),
                    message: describe_message(&bytes),
                });
                let now = self.now();
                self.record_evidence(&peer, &bytes, now);
                let effects = self.with_node(|node| node.on_message(now, &peer, &bytes));
                self.execute(effects).await;
            }
        }
    }

    fn register(&mut self, peer: Peer, stream: TcpStream) {
        self.next_connection += 1;
        let connection = self.next_connection;
        let (reader, writer) = stream.into_split();
        tokio::task::spawn_local(read_loop(reader, peer.clone(), connection, self.events.clone()));
        self.writers.insert(
            peer,
            Connection {
                id: connection,
                writer,
                waiting_since_ms: None,
            },
        );
    }

    async fn connect(&mut self, peer: &Peer) -> bool {
        let Some(address) = self.spec.dials.get(peer).cloned() else {
            return false;
        };
        let timeout = Duration::from_millis(self.spec.connect_timeout_ms);
        match tokio::time::timeout(timeout, TcpStream::connect(address.as_str())).await {
            Ok(Ok(stream)) => {
                self.register(peer.clone(), stream);
                true
            }
            _ => false,
        }
    }

    async fn send(&mut self, to: Peer, bytes: Vec<u8>) {
        let message = describe_message(&bytes);
        let frame = match encode_frame(&bytes) {
            Ok(frame) => frame,
            Err(_) => {
                self.trace(EventKind::SendFailed {
                    to: to.to_string(),
                    message,
                });
                return;
            }
        };
        self.drop_if_stale(&to);
        if !self.writers.contains_key(&to) && !self.connect(&to).await {
            self.trace(EventKind::SendFailed {
                to: to.to_string(),
                message,
            });
            return;
        }
        let open = self.writers.get_mut(&to).expect("connected above");
        open.waiting_since_ms.get_or_insert(sim_now_ms());
        if open.writer.write_all(&frame).await.is_err() {
            self.writers.remove(&to);
            self.trace(EventKind::SendFailed {
                to: to.to_string(),
                message,
            });
            return;
        }
        self.count_cut(&to);
        self.trace(EventKind::Sent {
            to: to.to_string(),
            message,
        });
    }

    /// A message just sent to `to` went toward the proxy of a link whose
    /// server this host is: a partition of that link cuts it.
    fn count_cut(&self, to: &Peer) {
        let proxy = self
            .spec
            .accepts
            .iter()
            .find(|(_, peer)| *peer == to)
            .map(|(host, _)| host);
        if let Some(proxy) = proxy {
            self.shared.faults.borrow_mut().cut(proxy);
        }
    }

    /// Keep an authentic answer (0210, 0430, 0510) or request (0200/0201,
    /// 0420/0421, 0500/0501) as evidence of what this node was answered or
    /// asked.
    fn record_evidence(&self, sender: &Peer, bytes: &[u8], now: Millis) {
        let Some(key) = self.spec.evidence_keys.get(sender) else {
            return;
        };
        let Ok(message) = crate::wire::verify(bytes, key) else {
            return;
        };
        let Ok(message) = WireMessage::from_message(&message) else {
            return;
        };
        let (mti, processing, key, response, approval) = match message {
            WireMessage::FinancialResponse(response) => (
                210,
                Some(response.processing),
                response.trace.key(),
                response.response,
                response.approval,
            ),
            WireMessage::ReversalResponse(response) => {
                (430, None, response.trace.key(), response.response, None)
            }
            WireMessage::BatchCloseResponse(response) => {
                (510, None, response.trace.key(), response.response, None)
            }
            WireMessage::FinancialRequest(_)
            | WireMessage::ReversalAdvice(_)
            | WireMessage::BatchClose(_) => {
                self.shared.requests.borrow_mut().push(RequestReceived {
                    at_ms: sim_now_ms(),
                    clock_ms: now.0,
                    receiver: self.spec.me.clone(),
                    sender: sender.clone(),
                    message,
                });
                return;
            }
            _ => return,
        };
        self.shared.answers.borrow_mut().push(AnswerReceived {
            at_ms: sim_now_ms(),
            receiver: self.spec.me.clone(),
            sender: sender.clone(),
            mti,
            processing,
            key,
            response,
            approval,
        });
    }

    /// turmoil's TCP never retransmits: a lost segment wedges a stream for
    /// good. Like a real terminal or switch, give up on a connection we dialed
    /// when nothing came back on it for `stale_connection_ms`, and dial again.
    fn drop_if_stale(&mut self, peer: &Peer) {
        if !self.spec.dials.contains_key(peer) {
            return;
        }
        let now = sim_now_ms();
        let stale = self
            .writers
            .get(peer)
            .and_then(|open| open.waiting_since_ms)
            .is_some_and(|since| now.saturating_sub(since) >= self.spec.stale_connection_ms);
        if stale {
            self.writers.remove(peer);
        }
    }

    async fn execute(&mut self, effects: Effects<N>) {
        for effect in effects {
            match effect {
                Effect::Append(record) => {
                    let bytes = encode_record(&record);
                    self.journal
                        .append(&bytes)
                        .expect("simulated disk accepts writes");
                    self.pending_records.push(record);
                }
                Effect::Sync => {
                    self.journal.sync().expect("simulated disk syncs");
                    let mut durable = self.spec.durable.borrow_mut();
                    durable.append(&mut self.pending_records);
                    let records = durable.len();
                    drop(durable);
                    self.trace(EventKind::Synced { records });
                }
                Effect::Send { to, bytes } => self.send(to, bytes).await,
                Effect::SetTimer { timer, at } => {
                    self.timers.insert(timer, at);
                }
                Effect::CancelTimer(timer) => {
                    self.timers.remove(&timer);
                }
                Effect::Show(shown) => {
                    self.shared.shown.borrow_mut().push((sim_now_ms(), shown.clone()));
                    self.trace(EventKind::Shown(shown));
                }
                Effect::CrashPoint(point) => {
                    let crash = self.shared.crashes.borrow_mut().pass(&self.spec.name, point);
                    if crash {
                        if let Some(mark) = Mark::crash_at(point.0) {
                            hit(mark);
                        }
                        self.trace(EventKind::Crash { point: Some(point) });
                        // The world crashes this host at the end of the step;
                        // nothing after this point may happen.
                        std::future::pending::<()>().await;
                    }
                }
            }
        }
    }
}
