//! Typed identities of the hosts and links of a run.
//!
//! A host is a terminal, the switch or a bank; a link joins a terminal to
//! the switch or the switch to a bank, and carries a fault proxy. Both are
//! ordered by their host name, so maps keyed by them iterate in the same
//! order as the host names do (the order the trace shows them in).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::node::{BankId, Peer};
use crate::wire::types::TerminalId;

/// The switch's host name.
pub const SWITCH_HOST: &str = "switch";

/// A host of the world: a node that can crash, restart and have a clock.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum HostId {
    /// A POS terminal, named by its id (`TERM0001`).
    Terminal(TerminalId),
    /// The payment switch (`switch`).
    Switch,
    /// A bank, named by its id (`bank-a`).
    Bank(BankId),
}

impl HostId {
    /// The host's name in the simulation and the trace.
    pub fn name(&self) -> &str {
        match self {
            HostId::Terminal(terminal) => terminal.as_str(),
            HostId::Switch => SWITCH_HOST,
            HostId::Bank(bank) => &bank.0,
        }
    }

    /// The node kind, as crash points are grouped: `terminal`, `switch`,
    /// `bank`.
    pub fn kind(&self) -> &'static str {
        match self {
            HostId::Terminal(_) => "terminal",
            HostId::Switch => "switch",
            HostId::Bank(_) => "bank",
        }
    }

    /// The peer this host is to the nodes.
    pub fn peer(&self) -> Peer {
        match self {
            HostId::Terminal(terminal) => Peer::Terminal(terminal.clone()),
            HostId::Switch => Peer::Switch,
            HostId::Bank(bank) => Peer::Bank(bank.clone()),
        }
    }
}

impl From<&Peer> for HostId {
    fn from(peer: &Peer) -> HostId {
        match peer {
            Peer::Terminal(terminal) => HostId::Terminal(terminal.clone()),
            Peer::Switch => HostId::Switch,
            Peer::Bank(bank) => HostId::Bank(bank.clone()),
        }
    }
}

impl Ord for HostId {
    fn cmp(&self, other: &HostId) -> Ordering {
        self.name()
            .cmp(other.name())
            .then_with(|| self.kind().cmp(other.kind()))
    }
}

impl PartialOrd for HostId {
    fn partial_cmp(&self, other: &HostId) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a text is not a host or link id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a {what} (expected {expected})")]
pub struct IdError {
    text: String,
    what: &'static str,
    expected: &'static str,
}

fn tagged(text: &str) -> Option<(&str, &str)> {
    text.split_once(':')
}

impl FromStr for HostId {
    type Err = IdError;

    /// The serialized form: `switch`, `terminal:TERM0001`, `bank:bank-a`.
    fn from_str(text: &str) -> Result<HostId, IdError> {
        let error = || IdError {
            text: text.to_string(),
            what: "host",
            expected: "`switch`, `terminal:<id>` or `bank:<id>`",
        };
        if text == SWITCH_HOST {
            return Ok(HostId::Switch);
        }
        match tagged(text) {
            Some(("terminal", id)) => TerminalId::new(id).map(HostId::Terminal).map_err(|_| error()),
            Some(("bank", id)) if !id.is_empty() => Ok(HostId::Bank(BankId(id.to_string()))),
            _ => Err(error()),
        }
    }
}

impl TryFrom<String> for HostId {
    type Error = IdError;
    fn try_from(text: String) -> Result<HostId, IdError> {
        text.parse()
    }
}

impl From<HostId> for String {
    fn from(host: HostId) -> String {
        match host {
            HostId::Terminal(terminal) => format!("terminal:{terminal}"),
            HostId::Switch => SWITCH_HOST.to_string(),
            HostId::Bank(bank) => format!("bank:{bank}"),
        }
    }
}

/// A link with a fault proxy: a terminal's link to the switch, or the
/// switch's link to a bank. Named by the end that is not the switch.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum LinkId {
    /// Terminal to switch.
    Terminal(TerminalId),
    /// Switch to bank.
    Bank(BankId),
}

impl LinkId {
    /// The end of the link that is not the switch (`TERM0001`, `bank-a`).
    pub fn name(&self) -> &str {
        match self {
            LinkId::Terminal(terminal) => terminal.as_str(),
            LinkId::Bank(bank) => &bank.0,
        }
    }

    /// The host at the end that is not the switch.
    pub fn host(&self) -> HostId {
        match self {
            LinkId::Terminal(terminal) => HostId::Terminal(terminal.clone()),
            LinkId::Bank(bank) => HostId::Bank(bank.clone()),
        }
    }

    /// The proxy host of the link (`link-TERM0001`).
    pub fn proxy_host(&self) -> String {
        format!("link-{}", self.name())
    }

    /// The host on the listening side of the link: the switch for a
    /// terminal's link, the bank for a bank's.
    pub fn server(&self) -> HostId {
        match self {
            LinkId::Terminal(_) => HostId::Switch,
            LinkId::Bank(bank) => HostId::Bank(bank.clone()),
        }
    }

    /// The host on the dialling side of the link.
    pub fn client(&self) -> HostId {
        match self {
            LinkId::Terminal(terminal) => HostId::Terminal(terminal.clone()),
            LinkId::Bank(_) => HostId::Switch,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            LinkId::Terminal(_) => "terminal",
            LinkId::Bank(_) => "bank",
        }
    }
}

impl Ord for LinkId {
    fn cmp(&self, other: &LinkId) -> Ordering {
        self.name()
            .cmp(other.name())
            .then_with(|| self.kind().cmp(other.kind()))
    }
}

impl PartialOrd for LinkId {
    fn partial_cmp(&self, other: &LinkId) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LinkId {
    type Err = IdError;

    /// The serialized form: `terminal:TERM0001`, `bank:bank-a`.
    fn from_str(text: &str) -> Result<LinkId, IdError> {
        let error = || IdError {
            text: text.to_string(),
            what: "link",
            expected: "`terminal:<id>` or `bank:<id>`",
        };
        match tagged(text) {
            Some(("terminal", id)) => TerminalId::new(id).map(LinkId::Terminal).map_err(|_| error()),
            Some(("bank", id)) if !id.is_empty() => Ok(LinkId::Bank(BankId(id.to_string()))),
            _ => Err(error()),
        }
    }
}

impl TryFrom<String> for LinkId {
    type Error = IdError;
    fn try_from(text: String) -> Result<LinkId, IdError> {
        text.parse()
    }
}

impl From<LinkId> for String {
    fn from(link: LinkId) -> String {
        match link {
            LinkId::Terminal(terminal) => format!("terminal:{terminal}"),
            LinkId::Bank(bank) => format!("bank:{bank}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terminal(id: &str) -> TerminalId {
        TerminalId::new(id).unwrap()
    }

    #[test]
    fn hosts_order_by_name_as_the_trace_does() {
        let mut hosts = [
            HostId::Switch,
            HostId::Bank(BankId("bank-a".into())),
            HostId::Terminal(terminal("TERM0002")),
            HostId::Terminal(terminal("TERM0001")),
        ];
        hosts.sort();
        let names: Vec<&str> = hosts.iter().map(HostId::name).collect();
        assert_eq!(names, ["TERM0001", "TERM0002", "bank-a", "switch"]);
    }

    #[test]
    fn ids_round_trip_through_their_text() {
        for host in [
            HostId::Switch,
            HostId::Bank(BankId("bank-a".into())),
            HostId::Terminal(terminal("TERM0001")),
        ] {
            assert_eq!(String::from(host.clone()).parse::<HostId>().unwrap(), host);
        }
        for link in [
            LinkId::Bank(BankId("bank-b".into())),
            LinkId::Terminal(terminal("TERM0003")),
        ] {
            assert_eq!(String::from(link.clone()).parse::<LinkId>().unwrap(), link);
        }
        assert!("bank-a".parse::<HostId>().is_err());
        assert!("terminal:short".parse::<LinkId>().is_err());
        assert!("switch".parse::<LinkId>().is_err());
    }

    #[test]
    fn a_link_knows_its_proxy_and_its_ends() {
        let link = LinkId::Bank(BankId("bank-a".into()));
        assert_eq!(link.proxy_host(), "link-bank-a");
        assert_eq!(link.server(), HostId::Bank(BankId("bank-a".into())));
        assert_eq!(link.client(), HostId::Switch);
        let link = LinkId::Terminal(terminal("TERM0001"));
        assert_eq!(link.server(), HostId::Switch);
        assert_eq!(link.client(), HostId::Terminal(terminal("TERM0001")));
    }
}
