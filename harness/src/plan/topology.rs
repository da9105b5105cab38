//! The built-in topology: one bank that issues and acquires, a switch and
//! two terminals, with cards and merchants in every state the incidents
//! need. Scenario files start from it and change what they name.
//!
//! Amounts are written `major_minor` (`1_000_00` is 1,000.00 EUR).

use serde::{Deserialize, Serialize};

use super::ids::{HostId, LinkId};
use crate::node::bank::accounts::{CardState, CardholderAccount, MerchantAccount, MerchantState};
use crate::node::bank::BankConfig;
use crate::node::switch::{BankLink, SwitchConfig, TerminalLink};
use crate::node::terminal::TerminalConfig;
use crate::node::{BankId, Bugs, Calendar};
use crate::wire::types::{Amount, Currency, Expiry, InstitutionId, MerchantId, Pan, TerminalId};
use crate::wire::MacKey;

/// The nodes of a run and how they are wired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    /// Terminals.
    pub terminals: Vec<TerminalConfig>,
    /// The switch.
    pub switch: SwitchConfig,
    /// Banks.
    pub banks: Vec<BankConfig>,
}

/// A MAC key derived from a name (test material, not secrets).
pub fn key_for(name: &str) -> MacKey {
    let mut key = [0x5Au8; 16];
    for (index, byte) in name.bytes().enumerate() {
        key[index % 16] = key[index % 16].rotate_left(3) ^ byte;
    }
    MacKey(key)
}

fn amount(minor: u64) -> Amount {
    Amount::new(minor).expect("built-in amounts fit twelve digits")
}

fn card(
    number: &str,
    currency: Currency,
    balance_minor: u64,
    state: CardState,
    expiry: &str,
) -> CardholderAccount {
    CardholderAccount {
        pan: Pan::new(number).expect("built-in PAN"),
        currency,
        balance: amount(balance_minor),
        state,
        expiry: Expiry::from_wire(expiry).expect("built-in expiry"),
        transaction_limit: None,
        daily_limit: None,
        daily_count_limit: None,
    }
}

fn merchant(id: &str, balance_minor: u64) -> MerchantAccount {
    merchant_account(
        MerchantId::new(id).expect("built-in merchant id"),
        amount(balance_minor),
    )
}

/// The built-in bank `bank-a`: issues BIN 411111 and acquires every merchant.
pub fn standard_bank() -> BankConfig {
    let mut limited = card(
        "4111110000000007",
        Currency::EUR,
        500_00,
        CardState::Active,
        "2812",
    );
    limited.transaction_limit = Some(amount(100_00));
    limited.daily_limit = Some(amount(200_00));
    limited.daily_count_limit = Some(3);
    let mut capped = merchant("MERCHANT0000002", 0);
    capped.refund_cap = Some(amount(50_00));
    capped.refund_window_ms = Some(3_600_000);
    capped.daily_refund_limit = Some(amount(100_00));
    BankConfig {
        id: BankId("bank-a".into()),
        calendar: Calendar::default(),
        link_key: key_for("bank-a"),
        cardholders: vec![
            card(
                "4111110000000001",
                Currency::EUR,
                1_000_00,
                CardState::Active,
                "2812",
            ),
            card(
                "4111110000000002",
                Currency::EUR,
                20_00,
                CardState::Active,
                "2812",
            ),
            card(
                "4111110000000003",
                Currency::EUR,
                1_000_00,
                CardState::Frozen,
                "2812",
            ),
            card(
                "4111110000000004",
                Currency::EUR,
                1_000_00,
                CardState::Active,
                "2410",
            ),
            card(
                "4111110000000005",
                Currency::EUR,
                1_000_00,
                CardState::NotActivated,
                "2812",
            ),
            card(
                "4111110000000006",
                Currency::EUR,
                1_000_00,
                CardState::Blocked,
                "2812",
            ),
            limited,
            card(
                "4111110000000008",
                Currency::JPY,
                100_000,
                CardState::Active,
                "2812",
            ),
        ],
        merchants: vec![merchant("MERCHANT0000001", 500_00), capped],
        maintenance: Vec::new(),
        bugs: Bugs::none(),
    }
}

/// The acquiring institution (DE32) of the built-in switch and terminals.
pub fn acquirer() -> InstitutionId {
    InstitutionId::new("12345").expect("built-in institution")
}

/// A terminal of `merchant` as the built-in topology configures one: the
/// built-in acquirer, a MAC key derived from its id, a 5 s response timeout.
pub fn terminal_config(terminal: TerminalId, merchant: MerchantId) -> TerminalConfig {
    let key = key_for(terminal.as_str());
    let mut config = TerminalConfig::new(terminal, merchant, acquirer(), key);
    config.response_timeout_ms = 5_000;
    config
}

/// The switch's view of `terminals`: id, merchant and MAC key of each.
pub fn terminal_links(terminals: &[TerminalConfig]) -> Vec<TerminalLink> {
    terminals
        .iter()
        .map(|config| TerminalLink {
            terminal: config.terminal.clone(),
            merchant: config.merchant.clone(),
            key: config.key,
        })
        .collect()
}

/// A merchant account in EUR as the built-in bank opens one: active, no
/// refund cap, window or daily limit.
pub fn merchant_account(id: MerchantId, balance: Amount) -> MerchantAccount {
    MerchantAccount {
        id,
        currency: Currency::EUR,
        balance,
        state: MerchantState::Active,
        refund_cap: None,
        refund_window_ms: None,
        daily_refund_limit: None,
    }
}

impl Topology {
    /// One bank (`bank-a`), the switch, terminals `TERM0001` (merchant
    /// `MERCHANT0000001`) and `TERM0002` (`MERCHANT0000002`).
    pub fn standard() -> Topology {
        let bank = standard_bank();
        let pairs = [("TERM0001", "MERCHANT0000001"), ("TERM0002", "MERCHANT0000002")];
        let terminals: Vec<TerminalConfig> = pairs
            .iter()
            .map(|(terminal, merchant)| {
                terminal_config(
                    TerminalId::new(terminal).expect("built-in terminal id"),
                    MerchantId::new(merchant).expect("built-in merchant id"),
                )
            })
            .collect();
        let switch = SwitchConfig {
            calendar: Calendar::default(),
            institution: acquirer(),
            terminals: terminal_links(&terminals),
            banks: vec![BankLink {
                bank: bank.id.clone(),
                key: bank.link_key,
                bins: vec!["411111".into()],
                acquirer: true,
            }],
            merchant_acquirer: Vec::new(),
            bank_timeout_ms: 3_000,
            reversal_retry_ms: 1_000,
            settlement_retry_ms: 1_000,
            pending_max: 64,
            bugs: Bugs::none(),
        };
        Topology {
            terminals,
            switch,
            banks: vec![bank],
        }
    }

    /// Put `terminals` in place of the topology's terminals, and tell the
    /// switch about them.
    pub fn set_terminals(&mut self, terminals: Vec<TerminalConfig>) {
        self.switch.terminals = terminal_links(&terminals);
        self.terminals = terminals;
    }

    /// Every link, the terminals' first, then the banks'.
    pub fn links(&self) -> Vec<LinkId> {
        let mut links: Vec<LinkId> = self
            .terminals
            .iter()
            .map(|terminal| LinkId::Terminal(terminal.terminal.clone()))
            .collect();
        links.extend(self.banks.iter().map(|bank| LinkId::Bank(bank.id.clone())));
        links
    }

    /// The link named `name` (its terminal's or its bank's id).
    pub fn link_named(&self, name: &str) -> Option<LinkId> {
        self.links().into_iter().find(|link| link.name() == name)
    }

    /// Every host that can crash or have its clock skewed: the terminals,
    /// the banks, then the switch.
    pub fn hosts(&self) -> Vec<HostId> {
        let mut hosts: Vec<HostId> = self.links().iter().map(LinkId::host).collect();
        hosts.push(HostId::Switch);
        hosts
    }

    /// The host named `name` (`switch`, a terminal's or a bank's id).
    pub fn host_named(&self, name: &str) -> Option<HostId> {
        self.hosts().into_iter().find(|host| host.name() == name)
    }

    /// Switch the same planted bugs on in every node.
    pub fn set_bugs(&mut self, bugs: &Bugs) {
        for terminal in &mut self.terminals {
            terminal.bugs = bugs.clone();
        }
        self.switch.bugs = bugs.clone();
        for bank in &mut self.banks {
            bank.bugs = bugs.clone();
        }
    }
}
