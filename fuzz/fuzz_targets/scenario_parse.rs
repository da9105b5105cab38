//! Arbitrary text into the scenario parser, validator and lowering
//! (`payfault::fuzz::scenario_text`): located errors or a plan, never a
//! panic, and a plan that lowers writes back to a file that parses to the
//! same plan.
//!
//! Run: `cargo +nightly fuzz run scenario_parse -- -dict=fuzz/dict/scenario.dict`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use payfault::fuzz::scenario_text::check;

fuzz_target!(|data: &[u8]| {
    // Invalid UTF-8 becomes U+FFFD, as a file read lossily would.
    let text = String::from_utf8_lossy(data);
    if let Err(breach) = check(&text) {
        panic!("{breach}");
    }
});
