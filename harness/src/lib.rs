//! # payfault
//!
//! A deterministic fault-injection harness and fuzzing suite for card
//! payments. It runs a POS terminal, a payment switch and a bank together on
//! a simulated network, breaks things on purpose, and proves after every run
//! that no money was lost or moved twice.
//!
//! Data flows one way: scenario → (workload, faults) → simulation → history
//! → check → report. This crate grows one folder per concern:
//!
//! - [`wire`]: the ISO 8583 dialect: codec, framing, MAC, typed messages.
//! - [`node`]: terminal, switch and bank as sans-IO state machines.
//! - [`sim`]: the simulated world: drivers, fault proxy, crashes, trace.
//! - [`history`]: the evidence a run leaves, as plain data.
//! - [`check`]: the invariants, judged from the history alone.
//! - [`explore`]: generated runs from seeds.
//! - [`scenario`]: scenario files (TOML): parsing with located errors,
//!   lowering to a world plan, running and judging.
//! - [`report`]: Markdown, JSON and JUnit reports of scenario runs.
//!
//! ```
//! use payfault::wire::{decode, encode, Message, Mti};
//!
//! let mut sale = Message::new(Mti::parse("0200").unwrap());
//! sale.set_text(3, "000000").set_text(4, "000000001250").set_text(49, "978");
//! let bytes = encode(&sale).unwrap();
//! assert_eq!(decode(&bytes).unwrap(), sale);
//! ```

#![warn(missing_docs)]

pub mod check;
pub mod explore;
pub mod history;
pub mod mutants;
pub mod node;
pub mod plan;
pub mod report;
pub mod run;
pub mod scenario;
pub mod sim;
mod suggest;
pub mod wire;
