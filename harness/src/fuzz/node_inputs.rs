//! Sequences of inputs fed straight into one node, and the node's local
//! contract checked after each (`docs/nodes.md`). Being written.
