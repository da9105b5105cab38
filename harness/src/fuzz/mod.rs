//! The fuzzing suite's checks, callable from the cargo-fuzz targets in
//! `fuzz/` and from ordinary tests.
//!
//! Each target in `fuzz/fuzz_targets/` is a thin wrapper: it turns libFuzzer's
//! bytes into an input here and panics when the check returns a finding. The
//! checks live in the library so that `payfault from-fuzz` can rebuild a
//! crashing input's run, and so that stable `cargo test` exercises them.
//!
//! - [`schedule`]: whole runs (topology, workload, faults) from a decision
//!   tape, through the simulation and the full checker;
//! - [`scenario_text`]: arbitrary text into the scenario parser: located
//!   errors or a plan that writes back.

pub mod node_inputs;
pub mod scenario_text;
pub mod schedule;

use crate::node::{Bug, Bugs};

/// The environment variable the fuzz targets read their planted bugs from:
/// names as `payfault mutants` prints them, comma-separated, e.g.
/// `PAYFAULT_BUGS=switch-no-dedupe`.
pub const BUGS_VAR: &str = "PAYFAULT_BUGS";

/// The planted bugs named by `text` (comma-separated, blanks ignored).
pub fn parse_bugs(text: &str) -> Result<Bugs, String> {
    let mut bugs = Vec::new();
    for name in text.split(',').map(str::trim).filter(|name| !name.is_empty()) {
        bugs.push(name.parse::<Bug>()?);
    }
    Ok(Bugs::of(bugs))
}

/// The planted bugs [`BUGS_VAR`] names (none when it is unset), or why it
/// cannot be read.
pub fn bugs_from_env() -> Result<Bugs, String> {
    match std::env::var(BUGS_VAR) {
        Ok(text) => parse_bugs(&text).map_err(|error| format!("{BUGS_VAR}: {error}")),
        Err(std::env::VarError::NotPresent) => Ok(Bugs::none()),
        Err(error) => Err(format!("{BUGS_VAR}: {error}")),
    }
}

/// The planted bugs of a fuzz target's process: [`bugs_from_env`], read
/// once. A name it cannot read ends the process with status 2 and the
/// reason, before any input runs (a target must not fuzz the wrong system).
pub fn target_bugs() -> &'static Bugs {
    static BUGS: std::sync::OnceLock<Bugs> = std::sync::OnceLock::new();
    BUGS.get_or_init(|| {
        bugs_from_env().unwrap_or_else(|error| {
            eprintln!("error: {error}");
            std::process::exit(2)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bug_lists_parse_and_bad_names_are_refused() {
        let bugs = parse_bugs(" switch-no-dedupe, mac-not-verified ,").expect("valid");
        assert_eq!(
            bugs.iter().collect::<Vec<_>>(),
            vec![Bug::SwitchNoDedupe, Bug::MacNotVerified]
        );
        assert!(parse_bugs("").expect("empty").is_empty());
        let error = parse_bugs("switch-no-dedup").expect_err("misspelt");
        assert!(error.contains("switch-no-dedup"), "{error}");
    }
}
