//! How results are written: tables for people, CSV, JSON and NDJSON for programs, the
//! self-contained HTML pages, Prometheus's exposition, and text from the org (names, ids)
//! escaped for a terminal or a spreadsheet.

pub mod html;
pub mod metrics;
pub mod output;
pub mod untrusted;
