//! How results are written: tables for people, CSV, JSON and NDJSON for programs, the
//! self-contained HTML pages, Prometheus's exposition; text from the org (names, ids) goes
//! through `untrusted` on its way to a terminal or a spreadsheet.

pub mod allowance;
pub mod check;
pub mod evidence;
pub mod format;
pub mod html;
pub mod limits;
pub mod metrics;
pub mod output;
pub mod report;
pub mod watch;
