//! What every command writes with: where progress and notes go (stderr), where the data
//! goes (stdout or `--output`) and in which format, and the id to resume if the user
//! interrupts. Built once from the global flags, before the command runs; where the rows
//! come from is the command's `Source`, not the session's.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use usage_ext::{Execution, JobRow, Pages};

use crate::cli::{Format, Global};
use crate::exit::Failure;
use crate::progress::{Pending, Progress};
use crate::render::output::{Record, Sink};
use crate::source::api::Api;
use crate::untrusted::CsvCells;

/// A running command's outputs.
pub struct Session {
    pub progress: Arc<Progress>,
    pub format: Format,
    /// How CSV cells are written (`--exact-csv`).
    pub csv: CsvCells,
    pub output: Option<PathBuf>,
    pub pending: Pending,
    /// Whether the locale takes UTF-8 (`LC_ALL`, else `LC_CTYPE`, else `LANG`), so that
    /// `▁▂▃` can be drawn.
    pub utf8: bool,
}

/// How CSV cells are written: as sent with `--exact-csv`, else safe for a spreadsheet; and
/// to a terminal (no `--output`, stdout a terminal), escaped as the table is.
fn csv_cells(global: &Global) -> CsvCells {
    use std::io::IsTerminal as _;
    if global.output.is_none() && std::io::stdout().is_terminal() {
        CsvCells::OnTerminal {
            exact: global.exact_csv,
        }
    } else if global.exact_csv {
        CsvCells::Exact
    } else {
        CsvCells::ForSpreadsheets
    }
}

/// The format: `--format`, else the `--output` file's extension, else the table.
pub fn format(global: &Global) -> Format {
    global
        .format
        .or_else(|| {
            let ext = global.output.as_ref()?.extension()?.to_str()?;
            match ext.to_ascii_lowercase().as_str() {
                "csv" => Some(Format::Csv),
                "json" => Some(Format::Json),
                "ndjson" | "jsonl" => Some(Format::Ndjson),
                "html" | "htm" => Some(Format::Html),
                _ => None,
            }
        })
        .unwrap_or(Format::Table)
}

impl Session {
    pub fn new(global: &Global, vars: &[(String, String)], pending: Pending) -> Self {
        Self {
            progress: Arc::new(Progress::new(global.quiet, global.verbose)),
            format: format(global),
            csv: csv_cells(global),
            output: global.output.clone(),
            pending,
            utf8: utf8_locale(vars),
        }
    }

    pub fn out(&self) -> Result<Box<dyn Write>, Failure> {
        open_output(self.output.as_deref())
    }

    /// Waits for a usage query and prints its rows.
    pub async fn query_rows(
        &self,
        api: &Api,
        execution: Execution,
        client: Option<&str>,
    ) -> Result<(), Failure> {
        api.submitted("usage query", &execution.execution_id, client);
        let result = execution
            .wait_with(api.queries(), |e| api.polled(e))
            .await?;
        api.done();
        self.rows(&result.results)
    }

    /// Streams a job's rows page by page: memory holds one page, whatever the format but
    /// the table.
    pub async fn job_pages<R>(&self, api: &Api, mut pages: Pages<R>) -> Result<(), Failure>
    where
        R: Record + JobRow,
    {
        let mut sink =
            Sink::<R>::new(self.format, self.csv, self.out()?).map_err(Failure::output)?;
        while let Some(page) = pages.next_page().await {
            for row in &page? {
                sink.row(row).map_err(Failure::output)?;
            }
            self.progress
                .status(&format!("paging · {} rows", sink.count()));
        }
        api.done();
        sink.finish().map_err(Failure::output)
    }

    /// Prints every row of a finished query.
    pub fn rows<R: Record>(&self, rows: &[R]) -> Result<(), Failure> {
        let out = self.out()?;
        let write = || {
            let mut sink = Sink::<R>::new(self.format, self.csv, out)?;
            for row in rows {
                sink.row(row)?;
            }
            sink.finish()
        };
        write().map_err(Failure::output)
    }
}

/// Refuses an `--output` that cannot be written, before anything is sent: a job spent
/// against the org's rate limit for a file that cannot be written is a job wasted. An
/// existing file is opened without being changed; a new one is created and removed.
pub fn check_output(path: Option<&Path>) -> Result<(), Failure> {
    let Some(path) = path else {
        return Ok(());
    };
    let refuse = |e: std::io::Error| {
        Failure::Usage(format!(
            "--output {}: cannot write there ({e}); nothing was sent",
            path.display()
        ))
    };
    if path.is_dir() {
        return Err(refuse(std::io::Error::other("it is a directory")));
    }
    if path.exists() {
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map(drop)
            .map_err(refuse)
    } else {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(refuse)?;
        std::fs::remove_file(path).map_err(refuse)
    }
}

/// Where data goes: the `--output` file, or stdout; buffered either way.
pub fn open_output(path: Option<&Path>) -> Result<Box<dyn Write>, Failure> {
    Ok(match path {
        Some(path) => Box::new(BufWriter::new(std::fs::File::create(path).map_err(
            |e| Failure::Usage(format!("cannot write {}: {e}", path.display())),
        )?)),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    })
}

/// The locale's character set, as C programs pick it: the first of `LC_ALL`, `LC_CTYPE`
/// and `LANG` that is set decides.
fn utf8_locale(vars: &[(String, String)]) -> bool {
    ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|name| {
            vars.iter()
                .find(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| v.to_ascii_lowercase())
        })
        .is_some_and(|locale| locale.contains("utf-8") || locale.contains("utf8"))
}

#[cfg(test)]
mod tests {
    use super::utf8_locale;

    #[test]
    fn the_first_locale_variable_set_decides() {
        let vars = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(utf8_locale(&vars(&[("LANG", "en_US.UTF-8")])));
        assert!(utf8_locale(&vars(&[("LC_ALL", "C.utf8"), ("LANG", "C")])));
        assert!(!utf8_locale(&vars(&[
            ("LC_ALL", "C"),
            ("LANG", "en_US.UTF-8")
        ])));
        assert!(!utf8_locale(&vars(&[("LC_ALL", ""), ("LANG", "POSIX")])));
        assert!(!utf8_locale(&[]));
    }
}
