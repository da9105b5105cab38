//! # payfault
//!
//! A deterministic fault-injection harness and fuzzing suite for card
//! payments. It runs a POS terminal, a payment switch and a bank together on
//! a simulated network, breaks things on purpose, and proves after every run
//! that no money was lost or moved twice.
//!
//! Data flows one way: scenario file or seed → [`plan::Plan`] → simulation
//! → history → check → report, orchestrated by [`run`]. One folder per
//! concern (docs/architecture.md has the map and the rule that keeps the
//! layers apart):
//!
//! - [`wire`]: the ISO 8583 dialect: codec, framing, MAC, typed messages.
//! - [`node`]: terminal, switch and bank as sans-IO state machines.
//! - [`plan`]: a run as typed data: topology, workload, faults, timing.
//! - [`sim`]: the simulated world that executes a plan.
//! - [`history`]: the evidence a run leaves, in its own words.
//! - [`check`]: the invariants, judged from the history alone.
//! - [`run`]: run a plan (or a scenario file) with planted bugs and check it.
//! - [`scenario`]: scenario files (TOML): parsing with located errors,
//!   lowering to a plan, writing a plan back.
//! - [`explore`]: generated runs from seeds, in parallel; shrinking.
//! - [`report`]: the view of a run; Markdown, JSON and JUnit.
//! - [`mutants`]: how well the harness catches its planted bugs.
//! - [`bench`]: how fast it is, against the protocol's own cost.
//! - [`cover`]: coverage marks, the named situations a run passed.
//! - [`fuzz`]: the checks behind the cargo-fuzz targets in `fuzz/`.
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

pub mod bench;
pub mod check;
pub mod cover;
pub mod explore;
pub mod fuzz;
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
