//! The fault proxy: a host on every link that speaks the framing and can
//! drop, duplicate, delay (and so reorder) or corrupt single messages.
//!
//! [`FaultProxy`] decides per message with no IO, from the link's
//! [`LinkFaults`] and a seeded RNG; [`run_proxy`] carries the decisions out
//! over TCP. In live mode the same code runs as a real TCP proxy.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::tally::LinkFired;
use super::trace::{describe_message, EventKind};
use crate::plan::{Direction, Injection, LinkFaults, MessageAction, MessageMatch, MessageRule};
use crate::wire::typed::OriginalData;
use crate::wire::types::{Amount, InstitutionId, ProcessingCode, Stan, TransmissionTime};
use crate::wire::{MacKey, Mti};

/// One delivery the proxy decided on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Deliver after this many simulated milliseconds.
    pub delay_ms: u64,
    /// The message bytes (possibly corrupted).
    pub bytes: Vec<u8>,
}

/// The decision logic of one link's proxy.
#[derive(Debug)]
pub struct FaultProxy {
    link: String,
    faults: LinkFaults,
    matched: Vec<u32>,
    rng: ChaCha8Rng,
    enabled: bool,
    held: usize,
    captured: Vec<Vec<u8>>,
    injected: usize,
    insider_key: Option<MacKey>,
    fired: LinkFired,
}

/// Requests a proxy keeps for a hostile host to replay or forge from.
const CAPTURED_MAX: usize = 256;

/// The terminal id an insider names instead of its own: no terminal of any
/// topology (ids are the operator's, this one is reserved).
pub const INSIDER_TERMINAL: &str = "ROGUE999";

/// DE90 naming a 0200 of `stan` at the local date and time of `request`
/// (DE13 + DE12), acquired by its DE32.
fn naming(request: &crate::wire::Message, stan: Stan) -> Option<OriginalData> {
    let date_time = format!("{}{}", request.text(13)?, request.text(12)?);
    Some(OriginalData {
        mti: Mti::from_value(200)?,
        stan,
        local_date_time: TransmissionTime::from_wire(&date_time).ok()?,
        acquirer: InstitutionId::new(request.text(32)?).ok()?,
    })
}

const PPM: u32 = 1_000_000;

/// The fields a rule can select on, read from the raw message.
struct Selectors {
    mti: Option<u16>,
    processing: Option<ProcessingCode>,
    stan: Option<u32>,
}

fn selectors(bytes: &[u8]) -> Selectors {
    match crate::wire::decode(bytes) {
        Ok(message) => Selectors {
            mti: Some(message.mti.value()),
            processing: message
                .text(3)
                .and_then(|code| ProcessingCode::from_wire(code).ok()),
            stan: message.text(11).and_then(|stan| stan.parse().ok()),
        },
        Err(_) => Selectors {
            mti: None,
            processing: None,
            stan: None,
        },
    }
}

fn filter_matches(matching: &MessageMatch, direction: Direction, selectors: &Selectors) -> bool {
    matching.direction.is_none_or(|wanted| wanted == direction)
        && matching.mti.is_none_or(|wanted| selectors.mti == Some(wanted))
        && matching
            .processing
            .is_none_or(|wanted| selectors.processing == Some(wanted))
        && matching.stan.is_none_or(|wanted| selectors.stan == Some(wanted))
}

fn in_window(rule: &MessageRule, now_ms: u64) -> bool {
    rule.from_ms.is_none_or(|from| now_ms >= from) && rule.until_ms.is_none_or(|until| now_ms < until)
}

impl FaultProxy {
    /// A proxy for `link` with its faults and its own seed.
    pub fn new(link: impl Into<String>, faults: LinkFaults, seed: u64) -> FaultProxy {
        let matched = vec![0; faults.rules.len()];
        let fired = LinkFired::new(faults.rules.len(), faults.injections.len());
        FaultProxy {
            link: link.into(),
            faults,
            matched,
            rng: ChaCha8Rng::seed_from_u64(seed),
            enabled: true,
            held: 0,
            captured: Vec::new(),
            injected: 0,
            insider_key: None,
            fired,
        }
    }

    /// The key an insider on this link signs with (a terminal link's own
    /// key); without one, insider injections find nothing to send.
    pub fn with_insider_key(mut self, key: MacKey) -> FaultProxy {
        self.insider_key = Some(key);
        self
    }

    /// The link's proxy host name, as given.
    pub fn link(&self) -> &str {
        &self.link
    }

    /// How often each of the link's faults fired so far.
    pub fn fired(&self) -> &LinkFired {
        &self.fired
    }

    /// Messages accepted but not yet delivered (delayed ones included).
    pub fn held(&self) -> usize {
        self.held
    }

    /// Switch all faults off (the heal phase) or on again.
    pub fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
    }

    /// Decide what happens to one message; the trace events say what was
    /// done to it (none when it passes untouched).
    pub fn on_message(
        &mut self,
        direction: Direction,
        bytes: Vec<u8>,
        now_ms: u64,
    ) -> (Vec<Delivery>, Vec<EventKind>) {
        if !self.enabled {
            return (vec![Delivery { delay_ms: 0, bytes }], Vec::new());
        }
        if direction == Direction::Request && self.captured.len() < CAPTURED_MAX {
            self.captured.push(bytes.clone());
        }
        let selectors = selectors(&bytes);
        let mut fired = None;
        for (index, rule) in self.faults.rules.iter().enumerate() {
            if !in_window(rule, now_ms) || !filter_matches(&rule.matching, direction, &selectors) {
                continue;
            }
            self.matched[index] += 1;
            let nth_ok = rule.matching.nth.is_none_or(|nth| nth == self.matched[index]);
            if nth_ok && fired.is_none() {
                fired = Some(rule.action.clone());
                self.fired.rules[index] += 1;
            }
        }
        let action = match fired {
            Some(action) => Some(action),
            None => self.random_action(),
        };
        match action {
            Some(action) => self.apply(action, bytes),
            None => (vec![Delivery { delay_ms: 0, bytes }], Vec::new()),
        }
    }

    /// When the next hostile injection is due, if any (faults phase only).
    pub fn next_injection_ms(&self) -> Option<u64> {
        let next = self.faults.injections.get(self.injected)?;
        self.enabled.then_some(next.at_ms)
    }

    /// The hostile messages due by `now_ms`, to send toward the server.
    pub fn due_injections(&mut self, now_ms: u64) -> (Vec<Vec<u8>>, Vec<EventKind>) {
        let (mut messages, mut events) = (Vec::new(), Vec::new());
        while let Some(timed) = self
            .faults
            .injections
            .get(self.injected)
            .filter(|t| t.at_ms <= now_ms && self.enabled)
        {
            let injection = timed.injection.clone();
            let index = self.injected;
            self.injected += 1;
            let link = self.link.clone();
            match self.build_injection(&injection, index) {
                Some(bytes) => {
                    self.fired.injections[index] += 1;
                    let message = describe_message(&bytes);
                    events.push(EventKind::Injected {
                        link,
                        message,
                        how: format!("{injection:?}"),
                    });
                    messages.push(bytes);
                }
                None => events.push(EventKind::Injected {
                    link,
                    message: "nothing captured to inject from".into(),
                    how: format!("{injection:?}"),
                }),
            }
        }
        (messages, events)
    }

    fn build_injection(&self, injection: &Injection, index: usize) -> Option<Vec<u8>> {
        if injection.is_insider() {
            return self.build_insider(injection, index);
        }
        let nth = injection.nth();
        let captured = self.captured.get((nth as usize).checked_sub(1)?)?;
        if let Injection::Replay { .. } = injection {
            return Some(captured.clone());
        }
        let mut message = crate::wire::decode(captured).ok()?;
        match injection {
            Injection::TamperAmount { .. } => {
                let amount = message
                    .text(4)
                    .and_then(|text| text.parse::<u64>().ok())
                    .unwrap_or(0);
                let raised = (amount.saturating_mul(10) + 1).min(999_999_999_999);
                message.set_text(4, &format!("{raised:012}"));
                crate::wire::encode(&message).ok()
            }
            _ => {
                message.set_text(11, &format!("{:06}", 900_000 + nth % 100_000));
                crate::wire::sign(&mut message, &crate::wire::MacKey([0xEE; 16])).ok()
            }
        }
    }

    /// An insider's request: made from a captured one the way the reference
    /// terminal never makes a request, under a STAN of its own (one per
    /// injection of the link, so it is no copy of anything) and signed with
    /// the link's key.
    fn build_insider(&self, injection: &Injection, index: usize) -> Option<Vec<u8>> {
        let key = self.insider_key.as_ref()?;
        let seen = (injection.nth() as usize).checked_sub(1)?;
        let financial = |bytes: &&Vec<u8>| selectors(bytes).mti.is_some_and(|mti| mti == 200 || mti == 201);
        let captured = match injection {
            Injection::InsiderOtherTerminal { .. } => self.captured.get(seen)?,
            _ => self.captured.iter().filter(financial).nth(seen)?,
        };
        let mut message = crate::wire::decode(captured).ok()?;
        let original = message.clone();
        let stan = Stan::new(800_001 + (index % 100_000) as u32)?;
        message.set_text(11, &stan.to_wire());
        if let Some(rrn) = message
            .text(37)
            .map(|rrn| format!("{}{}", &rrn[..rrn.len().min(6)], stan.to_wire()))
        {
            message.set_text(37, &rrn);
        }
        match injection {
            Injection::InsiderOtherTerminal { .. } => {
                message.set_text(41, INSIDER_TERMINAL);
            }
            Injection::InsiderUnknownOriginal { .. } => {
                message.mti = Mti::from_value(200)?;
                message.set_text(3, ProcessingCode::Refund.to_wire());
                // A STAN the terminal never used for anything: the
                // original's time is the captured request's own.
                message.set_text(90, &naming(&original, Stan::new(999_999)?)?.to_wire());
            }
            _ => {
                let amount: u64 = original.text(4)?.parse().ok()?;
                message.mti = Mti::from_value(200)?;
                message.set_text(3, ProcessingCode::Void.to_wire());
                message.set_text(4, &format!("{:012}", (amount + 1).min(Amount::MAX.minor_units())));
                let sale_stan = Stan::from_wire(original.text(11)?).ok()?;
                message.set_text(90, &naming(&original, sale_stan)?.to_wire());
            }
        }
        crate::wire::sign(&mut message, key).ok()
    }

    fn chance(&mut self, ppm: u32) -> bool {
        ppm > 0 && self.rng.random_range(0..PPM) < ppm
    }

    fn random_action(&mut self) -> Option<MessageAction> {
        let random = self.faults.random;
        if !random.is_active() {
            return None;
        }
        if self.chance(random.drop_ppm) {
            self.fired.random_drop += 1;
            return Some(MessageAction::Drop);
        }
        if self.chance(random.duplicate_ppm) {
            self.fired.random_duplicate += 1;
            return Some(MessageAction::Duplicate { copies: 1 });
        }
        if self.chance(random.delay_ppm) {
            self.fired.random_delay += 1;
            let delay_ms = self.rng.random_range(1..=random.delay_ms_max.max(1));
            return Some(MessageAction::Delay { delay_ms });
        }
        if self.chance(random.corrupt_ppm) {
            self.fired.random_corrupt += 1;
            return Some(MessageAction::Corrupt { offset: None });
        }
        None
    }

    fn apply(&mut self, action: MessageAction, mut bytes: Vec<u8>) -> (Vec<Delivery>, Vec<EventKind>) {
        let link = self.link.clone();
        let message = describe_message(&bytes);
        match action {
            MessageAction::Drop => (Vec::new(), vec![EventKind::Dropped { link, message }]),
            MessageAction::Duplicate { copies } => {
                let deliveries = (0..=copies)
                    .map(|_| Delivery {
                        delay_ms: 0,
                        bytes: bytes.clone(),
                    })
                    .collect();
                (
                    deliveries,
                    vec![EventKind::Duplicated {
                        link,
                        message,
                        copies,
                    }],
                )
            }
            MessageAction::Resend { delay_ms } => (
                vec![
                    Delivery {
                        delay_ms: 0,
                        bytes: bytes.clone(),
                    },
                    Delivery { delay_ms, bytes },
                ],
                vec![
                    EventKind::Duplicated {
                        link: link.clone(),
                        message: message.clone(),
                        copies: 1,
                    },
                    EventKind::Delayed {
                        link,
                        message,
                        delay_ms,
                    },
                ],
            ),
            MessageAction::Delay { delay_ms } => (
                vec![Delivery { delay_ms, bytes }],
                vec![EventKind::Delayed {
                    link,
                    message,
                    delay_ms,
                }],
            ),
            MessageAction::Corrupt { offset } => {
                if bytes.is_empty() {
                    return (Vec::new(), vec![EventKind::Dropped { link, message }]);
                }
                let offset = offset
                    .unwrap_or_else(|| self.rng.random_range(0..bytes.len()))
                    .min(bytes.len() - 1);
                let flip = self.rng.random_range(1..=255u8);
                bytes[offset] ^= flip;
                (
                    vec![Delivery { delay_ms: 0, bytes }],
                    vec![EventKind::Corrupted {
                        link,
                        message,
                        offset,
                    }],
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{RandomMessageFaults, TimedInjection};
    use crate::wire::{encode, Message, Mti};

    fn message(mti: &str, stan: &str) -> Vec<u8> {
        let mut message = Message::new(Mti::parse(mti).unwrap());
        message.set_text(3, "000000").set_text(11, stan);
        encode(&message).unwrap()
    }

    fn rule(matching: MessageMatch, action: MessageAction) -> MessageRule {
        MessageRule {
            matching,
            action,
            from_ms: None,
            until_ms: None,
        }
    }

    fn financial(stan: &str, processing: &str, amount: &str) -> Vec<u8> {
        let mut message = Message::new(Mti::parse("0200").unwrap());
        message
            .set_text(3, processing)
            .set_text(4, amount)
            .set_text(11, stan)
            .set_text(12, "101500")
            .set_text(13, "1122")
            .set_text(32, "12345")
            .set_text(37, "RRN000000042")
            .set_text(41, "TERM0001");
        crate::wire::sign(&mut message, &MacKey([7; 16])).unwrap()
    }

    #[test]
    fn an_insider_signs_with_the_link_key_under_a_stan_of_its_own() {
        let key = MacKey([7; 16]);
        let injections = [
            Injection::InsiderOtherTerminal { nth: 1 },
            Injection::InsiderUnknownOriginal { nth: 2 },
            Injection::InsiderVoidAmount { nth: 1 },
        ];
        let faults = LinkFaults {
            injections: injections
                .iter()
                .map(|injection| TimedInjection {
                    at_ms: 10,
                    injection: injection.clone(),
                })
                .collect(),
            ..LinkFaults::default()
        };
        let mut proxy = FaultProxy::new("t>s", faults.clone(), 1).with_insider_key(key);
        // A close between the two financial requests: the financial
        // crafts count financial requests only.
        for bytes in [
            financial("000001", "000000", "000000001250"),
            message("0500", "000002"),
            financial("000003", "000000", "000000000700"),
        ] {
            proxy.on_message(Direction::Request, bytes, 0);
        }
        let (sent, _) = proxy.due_injections(10);
        assert_eq!(sent.len(), 3, "every insider injection fired");
        let decoded: Vec<Message> = sent
            .iter()
            .map(|bytes| crate::wire::verify(bytes, &key).expect("signed with the link's key"))
            .collect();
        let field = |index: usize, number: u8| decoded[index].text(number).unwrap().to_string();
        assert_eq!(field(0, 41), INSIDER_TERMINAL);
        assert_eq!(
            [field(0, 11), field(1, 11), field(2, 11)],
            ["800001", "800002", "800003"]
        );
        assert_eq!(field(1, 3), "200000", "a refund");
        assert_eq!(&field(1, 90)[..10], "0200999999", "of a STAN nobody used");
        assert_eq!(field(1, 4), "000000000700", "from the 2nd financial request");
        assert_eq!(field(2, 3), "020000", "a void");
        assert_eq!(field(2, 4), "000000001251", "one minor unit more");
        assert_eq!(&field(2, 90)[..20], "02000000011122101500", "of the 1st sale");
        assert_eq!(proxy.fired().injections, [1, 1, 1]);
        // Without the key an insider has nothing to sign with.
        let mut keyless = FaultProxy::new("t>s", faults, 1);
        keyless.on_message(
            Direction::Request,
            financial("000001", "000000", "000000001250"),
            0,
        );
        assert!(keyless.due_injections(10).0.is_empty());
        assert_eq!(keyless.fired().injections, [0, 0, 0]);
    }

    #[test]
    fn nth_rule_fires_only_on_the_nth_match() {
        let faults = LinkFaults {
            rules: vec![rule(
                MessageMatch {
                    mti: Some(210),
                    nth: Some(2),
                    ..MessageMatch::default()
                },
                MessageAction::Drop,
            )],
            ..LinkFaults::default()
        };
        let mut proxy = FaultProxy::new("t>s", faults, 1);
        let outcomes: Vec<usize> = ["0200", "0210", "0200", "0210", "0210"]
            .iter()
            .map(|mti| {
                proxy
                    .on_message(Direction::Response, message(mti, "000001"), 0)
                    .0
                    .len()
            })
            .collect();
        assert_eq!(outcomes, vec![1, 1, 1, 0, 1]);
        assert_eq!(proxy.fired().rules, [1], "acted on the 2nd 0210 only");
    }

    #[test]
    fn selectors_and_windows_restrict_rules() {
        let faults = LinkFaults {
            rules: vec![MessageRule {
                matching: MessageMatch {
                    direction: Some(Direction::Request),
                    stan: Some(7),
                    ..MessageMatch::default()
                },
                action: MessageAction::Duplicate { copies: 2 },
                from_ms: Some(100),
                until_ms: Some(200),
            }],
            ..LinkFaults::default()
        };
        let mut proxy = FaultProxy::new("t>s", faults, 1);
        let count = |proxy: &mut FaultProxy, direction, stan, now| {
            proxy.on_message(direction, message("0200", stan), now).0.len()
        };
        assert_eq!(count(&mut proxy, Direction::Request, "000007", 50), 1);
        assert_eq!(count(&mut proxy, Direction::Request, "000007", 150), 3);
        assert_eq!(count(&mut proxy, Direction::Response, "000007", 150), 1);
        assert_eq!(count(&mut proxy, Direction::Request, "000008", 150), 1);
        assert_eq!(count(&mut proxy, Direction::Request, "000007", 200), 1);
        assert_eq!(proxy.fired().rules, [1], "only the message inside the window");
    }

    #[test]
    fn only_the_rule_that_decides_counts_as_fired() {
        let any_0200 = MessageMatch {
            mti: Some(200),
            ..MessageMatch::default()
        };
        let faults = LinkFaults {
            rules: vec![
                rule(any_0200.clone(), MessageAction::Delay { delay_ms: 10 }),
                rule(any_0200, MessageAction::Drop),
                rule(
                    MessageMatch {
                        mti: Some(420),
                        ..MessageMatch::default()
                    },
                    MessageAction::Drop,
                ),
            ],
            ..LinkFaults::default()
        };
        let mut proxy = FaultProxy::new("t>s", faults, 1);
        for _ in 0..3 {
            proxy.on_message(Direction::Request, message("0200", "000001"), 0);
        }
        assert_eq!(proxy.fired().rules, [3, 0, 0]);
    }

    #[test]
    fn corruption_changes_exactly_one_byte_and_delay_is_reported() {
        let faults = LinkFaults {
            rules: vec![
                rule(
                    MessageMatch {
                        mti: Some(200),
                        ..MessageMatch::default()
                    },
                    MessageAction::Corrupt { offset: Some(5) },
                ),
                rule(
                    MessageMatch {
                        mti: Some(210),
                        ..MessageMatch::default()
                    },
                    MessageAction::Delay { delay_ms: 250 },
                ),
            ],
            ..LinkFaults::default()
        };
        let mut proxy = FaultProxy::new("t>s", faults, 3);
        let original = message("0200", "000001");
        let (deliveries, events) = proxy.on_message(Direction::Request, original.clone(), 0);
        let changed: Vec<usize> = (0..original.len())
            .filter(|i| deliveries[0].bytes[*i] != original[*i])
            .collect();
        assert_eq!(changed, vec![5]);
        assert!(matches!(events[0], EventKind::Corrupted { offset: 5, .. }));
        let (deliveries, _) = proxy.on_message(Direction::Response, message("0210", "000001"), 0);
        assert_eq!(deliveries[0].delay_ms, 250);
    }

    #[test]
    fn random_faults_follow_the_seed_and_disable_in_heal() {
        let random = RandomMessageFaults {
            drop_ppm: 300_000,
            duplicate_ppm: 200_000,
            ..RandomMessageFaults::default()
        };
        let faults = LinkFaults {
            rules: Vec::new(),
            random,
            injections: Vec::new(),
        };
        let run = |seed| {
            let mut proxy = FaultProxy::new("t>s", faults.clone(), seed);
            (0..200)
                .map(|_| {
                    proxy
                        .on_message(Direction::Request, message("0200", "000001"), 0)
                        .0
                        .len()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
        let drops = run(9).iter().filter(|n| **n == 0).count();
        assert!((30..=90).contains(&drops), "{drops} drops of 200 at 30%");
        let mut counted = FaultProxy::new("t>s", faults.clone(), 9);
        let copies: usize = (0..200)
            .map(|_| {
                counted
                    .on_message(Direction::Request, message("0200", "000001"), 0)
                    .0
                    .len()
            })
            .sum();
        assert_eq!(counted.fired().random_drop, drops as u64);
        assert_eq!(
            counted.fired().random_duplicate as usize,
            copies + drops - 200,
            "each duplicate delivers one more"
        );
        let mut proxy = FaultProxy::new("t>s", faults, 9);
        proxy.set_enabled(false);
        assert!((0..100).all(|_| proxy
            .on_message(Direction::Request, message("0200", "000001"), 0)
            .0
            .len()
            == 1));
    }
}

/// Run a link's proxy on the current host: accept connections on
/// `listen_port`, connect each to `server_address`, and pass frames both
/// ways through `proxy`'s decisions.
pub async fn run_proxy(
    listen_port: u16,
    server_address: String,
    proxy: std::rc::Rc<std::cell::RefCell<FaultProxy>>,
    shared: std::rc::Rc<super::driver::Shared>,
    host: String,
) -> turmoil::Result {
    let listener = turmoil::net::TcpListener::bind(("0.0.0.0", listen_port)).await?;
    loop {
        let (client, _) = listener.accept().await?;
        let partitioned = shared.faults.borrow().partitioned(&host);
        let Ok(server) = turmoil::net::TcpStream::connect(server_address.as_str()).await else {
            if partitioned {
                shared.faults.borrow_mut().cut(&host);
            }
            drop(client);
            continue;
        };
        let (client_read, client_write) = client.into_split();
        let (server_read, server_write) = server.into_split();
        let context = PumpContext {
            proxy: proxy.clone(),
            shared: shared.clone(),
            host: host.clone(),
            hangup: std::rc::Rc::new(tokio::sync::Notify::new()),
        };
        tokio::task::spawn_local(pump(
            client_read,
            server_write,
            Direction::Request,
            context.clone(),
        ));
        tokio::task::spawn_local(pump(server_read, client_write, Direction::Response, context));
    }
}

#[derive(Clone)]
struct PumpContext {
    proxy: std::rc::Rc<std::cell::RefCell<FaultProxy>>,
    shared: std::rc::Rc<super::driver::Shared>,
    host: String,
    /// Ends both pumps of one connection pair: the partition lost a segment
    /// toward the server, so the pair is dead on the client's side too.
    hangup: std::rc::Rc<tokio::sync::Notify>,
}

fn sim_now_ms() -> u64 {
    turmoil::sim_elapsed()
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}

/// Read frames from `source`, decide, and deliver to `sink` in order of
/// delivery time (a delayed frame is overtaken by later ones).
async fn pump(
    mut source: turmoil::net::tcp::OwnedReadHalf,
    mut sink: turmoil::net::tcp::OwnedWriteHalf,
    direction: Direction,
    context: PumpContext,
) {
    use std::collections::BTreeMap;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut frames = crate::wire::FrameReader::new();
    let mut buffer = vec![0u8; 4096];
    let mut scheduled: BTreeMap<(u64, u64), Vec<u8>> = BTreeMap::new();
    let mut sequence = 0u64;
    loop {
        let next_injection = match direction {
            Direction::Request => context.proxy.borrow().next_injection_ms(),
            Direction::Response => None,
        };
        let next_due = scheduled.keys().next().map(|(at, _)| *at);
        let next_due = match (next_due, next_injection) {
            (Some(due), Some(injection)) => Some(due.min(injection)),
            (due, injection) => due.or(injection),
        };
        let wait = async {
            match next_due {
                Some(at) => {
                    tokio::time::sleep(std::time::Duration::from_millis(at.saturating_sub(sim_now_ms())))
                        .await
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = wait => {
                let now = sim_now_ms();
                if direction == Direction::Request {
                    let (messages, events) = context.proxy.borrow_mut().due_injections(now);
                    for kind in events {
                        context.shared.trace.borrow_mut().push(super::trace::Event { at_ms: now, host: context.host.clone(), kind });
                    }
                    context.proxy.borrow_mut().held += messages.len();
                    for bytes in messages {
                        sequence += 1;
                        scheduled.insert((now, sequence), bytes);
                    }
                }
                while let Some(entry) = scheduled.first_entry() {
                    if entry.key().0 > now {
                        break;
                    }
                    let bytes = entry.remove();
                    context.proxy.borrow_mut().held -= 1;
                    let Ok(frame) = crate::wire::encode_frame(&bytes) else { continue };
                    if sink.write_all(&frame).await.is_err() {
                        context.proxy.borrow_mut().held -= scheduled.len();
                        return;
                    }
                    if direction == Direction::Request {
                        // Toward the server: across the link's partition, if any.
                        let partitioned = context.shared.faults.borrow().partitioned(&context.host);
                        context.shared.faults.borrow_mut().cut(&context.host);
                        if partitioned {
                            // turmoil's TCP never retransmits, so the lost
                            // segment wedges this stream toward the server
                            // for good, while answers held here would still
                            // reach the client and keep its connection looking
                            // alive. A real connection that lost its peer
                            // ends: hang up on the client too, so it dials
                            // again and the retry crosses a healed link.
                            context.shared.trace.borrow_mut().push(super::trace::Event {
                                at_ms: now,
                                host: context.host.clone(),
                                kind: EventKind::Network {
                                    change: format!("hangup {}", context.host),
                                },
                            });
                            context.proxy.borrow_mut().held -= scheduled.len();
                            context.hangup.notify_one();
                            return;
                        }
                    }
                }
            }
            _ = context.hangup.notified() => {
                context.proxy.borrow_mut().held -= scheduled.len();
                return;
            }
            read = source.read(&mut buffer) => {
                let count = match read {
                    Ok(0) | Err(_) => {
                        context.proxy.borrow_mut().held -= scheduled.len();
                        return;
                    }
                    Ok(count) => count,
                };
                frames.push(&buffer[..count]);
                loop {
                    let frame = match frames.next_frame() {
                        Ok(Some(frame)) => frame,
                        Ok(None) => break,
                        Err(_) => {
                            context.proxy.borrow_mut().held -= scheduled.len();
                            return;
                        }
                    };
                    let now = sim_now_ms();
                    let (deliveries, events) = context.proxy.borrow_mut().on_message(direction, frame, now);
                    for kind in events {
                        context.shared.trace.borrow_mut().push(super::trace::Event { at_ms: now, host: context.host.clone(), kind });
                    }
                    context.proxy.borrow_mut().held += deliveries.len();
                    for delivery in deliveries {
                        sequence += 1;
                        scheduled.insert((now + delivery.delay_ms, sequence), delivery.bytes);
                    }
                }
            }
        }
    }
}
