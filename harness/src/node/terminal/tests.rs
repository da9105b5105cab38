//! Unit tests of the journal-derived state.
