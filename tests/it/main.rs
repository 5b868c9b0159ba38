//! The cross-crate tests, as one test binary (cargo's own `tests/testsuite/main.rs` habit):
//! one link instead of one per file. Each module is one subject; `cargo test -p usage-tests
//! --test it <module>::` runs one of them.

mod chaos;
mod client_wire;
mod ext_poll;
mod fake;
mod fake_fidelity;
mod hostile_suite;
mod jobs;
mod limits;
mod module_graph;
mod observability;
mod properties;
mod runtime;
mod snapshots;
mod typed_mocks;
