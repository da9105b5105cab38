//! One node at a time, fed what its peers and its clerk could send it:
//! messages intact, damaged, repeated or signed with the wrong key, crashes
//! at any crash point, reboots from the journal, time passing
//! (`payfault::fuzz::node_inputs`). After every step the node's contract is
//! checked: nothing sent or shown before its journal is synced, a damaged
//! message changes nothing, an approval stays the same approval, the bank's
//! ledger balances and moves each transaction's money once, the switch
//! forwards each transaction at most once, the terminal never reuses a key
//! and never drops a reversal it owes. A broken contract or a panic is a
//! crash; the panic message names the node, the step and what it did.
//!
//! Run: `cargo +nightly fuzz run node_inputs` (from the repository root);
//! with a planted bug on: `PAYFAULT_BUGS=bank-not-idempotent cargo +nightly fuzz run node_inputs`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use payfault::fuzz::target_bugs;
use payfault::fuzz::node_inputs::{check, Case};

fuzz_target!(|case: Case| {
    if let Err(violation) = check(&case, target_bugs()) {
        panic!("{violation}");
    }
});
