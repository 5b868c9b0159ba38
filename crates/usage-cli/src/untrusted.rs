//! Names from the org are data, not commands. OAuth client names, template URIs and the ids
//! and messages the service returns are written by whoever administers the org or names a
//! partner's app, so each output makes them safe for what reads it:
//!
//! - a terminal (the table, `check`'s lines, everything on stderr): control characters
//!   (C0, DEL, C1: escape sequences that retitle the window, clear the screen or recolour
//!   what follows) and the bidirectional overrides that reorder what is shown are written
//!   escaped, `\x1b`, `\u{202e}`, never sent;
//! - a spreadsheet (CSV): a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
//!   return and is not a number gets a leading `'`, as OWASP recommends against formula
//!   injection, so the spreadsheet shows it as text; `--exact-csv` writes the bytes as sent.
//!   A CSV written to a terminal is read by the terminal first: its cells are escaped as
//!   the table's are, whichever of the two; to a file or a pipe the bytes stay.
//!
//! JSON, NDJSON, Parquet, HTML and the metrics keep the exact strings: their writers escape
//! what their formats require, and their readers do not execute them.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal as it is.
fn unsafe_on_a_terminal(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escaped(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(|c| unsafe_on_a_terminal(c) && !keep(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !unsafe_on_a_terminal(c) || keep(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

/// `text` as a terminal may be sent it, on one line: every control character escaped.
pub fn terminal(text: &str) -> Cow<'_, str> {
    escaped(text, |_| false)
}

/// A message for stderr: as [`terminal`], but its own line breaks kept.
pub fn message(text: &str) -> Cow<'_, str> {
    escaped(text, |c| c == '\n')
}

/// `cell` as a spreadsheet may read it: text that would be evaluated as a formula gets a
/// leading `'`. A number (`-12`, `-0.25`) stays as it is.
pub fn spreadsheet(cell: &str) -> Cow<'_, str> {
    let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if formula && cell.parse::<f64>().is_err() {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// How CSV cells are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsvCells {
    /// Formulas neutralised (the default: the CSV is offered to spreadsheets).
    #[default]
    ForSpreadsheets,
    /// As sent, byte for byte (`--exact-csv`).
    Exact,
    /// To a terminal: as `exact` says, and the control characters shown escaped.
    OnTerminal { exact: bool },
}

/// One CSV cell, ready for `csv::Writer::write_record`.
pub struct Cell<'a>(Cow<'a, str>);

impl AsRef<[u8]> for Cell<'_> {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl CsvCells {
    /// The cells of one record, as this mode writes them.
    pub fn record<'a, S: AsRef<str> + ?Sized + 'a>(
        self,
        cells: impl IntoIterator<Item = &'a S>,
    ) -> impl Iterator<Item = Cell<'a>> {
        cells.into_iter().map(move |cell| {
            let cell = cell.as_ref();
            Cell(match self {
                CsvCells::ForSpreadsheets => spreadsheet(cell),
                CsvCells::Exact => Cow::Borrowed(cell),
                CsvCells::OnTerminal { exact: true } => terminal(cell),
                CsvCells::OnTerminal { exact: false } => match spreadsheet(cell) {
                    Cow::Borrowed(cell) => terminal(cell),
                    Cow::Owned(cell) => Cow::Owned(terminal(&cell).into_owned()),
                },
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_overrides_are_shown_escaped() {
        let name = "a\u{1b}]0;PWNED\u{7}\u{1b}[31mred\u{9b}2J\u{202e}txt\n";
        assert_eq!(
            terminal(name),
            "a\\x1b]0;PWNED\\x07\\x1b[31mred\\x9b2J\\u{202e}txt\\x0a"
        );
        assert_eq!(message("one\ntwo\u{1b}[2J"), "one\ntwo\\x1b[2J");
        assert!(matches!(terminal("CRM screen pop ▁▂▃ é"), Cow::Borrowed(_)));
    }

    #[test]
    fn formulas_are_neutralised_and_numbers_kept() {
        for formula in [
            "=HYPERLINK(\"http://x\",\"click\")",
            "+1+1",
            "-1+cmd|' /C calc'!A0",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            assert_eq!(spreadsheet(formula), format!("'{formula}"));
        }
        for kept in ["-12", "-0.250000", "+5", "plain", "a=b", ""] {
            assert_eq!(spreadsheet(kept), kept);
        }
        let cells: Vec<Vec<u8>> = CsvCells::Exact
            .record(["=1+1"])
            .map(|c| c.as_ref().to_vec())
            .collect();
        assert_eq!(cells, [b"=1+1".to_vec()]);
    }

    #[test]
    fn a_csv_to_a_terminal_shows_control_characters_escaped() {
        let cell = |cells: CsvCells, text: &str| -> String {
            cells.record([text]).map(|c| c.0.into_owned()).collect()
        };
        let name = "Bot\u{1b}]0;PWNED\u{7}";
        for exact in [true, false] {
            assert_eq!(
                cell(CsvCells::OnTerminal { exact }, name),
                "Bot\\x1b]0;PWNED\\x07"
            );
        }
        assert_eq!(
            cell(CsvCells::OnTerminal { exact: false }, "=1\u{1b}"),
            "'=1\\x1b"
        );
        assert_eq!(cell(CsvCells::OnTerminal { exact: true }, "=1"), "=1");
        assert_eq!(
            cell(CsvCells::ForSpreadsheets, name),
            name,
            "a file keeps the bytes"
        );
    }
}
