//! What a command declares of itself, read by the dispatcher: the formats it writes, whether
//! it handles signals itself, whether it serves several orgs. A leaf the commands and the
//! dispatcher both read, so that no command imports the dispatcher.

use crate::cli::Format;

/// What a command declares of itself.
#[derive(Debug, Clone, Copy)]
pub struct Declared {
    /// The formats it writes (the table, CSV, JSON and NDJSON, and more for some).
    pub formats: &'static [Format],
    /// It stops on SIGTERM and Ctrl-C itself (and tidies up): no other handler may race it.
    pub own_signals: bool,
    /// It serves several orgs at once (`--profile a --profile b`).
    pub several_orgs: bool,
}

/// The formats every command that writes data takes.
pub const DATA: &[Format] = &[Format::Table, Format::Csv, Format::Json, Format::Ndjson];

/// The data formats and the HTML page.
pub const DATA_AND_PAGE: &[Format] = &[
    Format::Table,
    Format::Csv,
    Format::Json,
    Format::Ndjson,
    Format::Html,
];

/// A command that writes data and is stopped like any other.
pub const fn writes(formats: &'static [Format]) -> Declared {
    Declared {
        formats,
        own_signals: false,
        several_orgs: false,
    }
}
