//! The fuzzing suite's checks, callable from the cargo-fuzz targets in
//! `fuzz/` and from ordinary tests.
//!
//! Each target in `fuzz/fuzz_targets/` is a thin wrapper: it turns libFuzzer's
//! bytes into an input here and panics when the check returns a finding. The
//! checks live in the library so that `payfault from-fuzz` can rebuild a
//! crashing input's run, and so that stable `cargo test` exercises them.
//!
//! - [`node_inputs`]: sequences of messages, timers, commands and crashes
//!   fed straight into one node; its local contract (`docs/nodes.md`).

pub mod node_inputs;
