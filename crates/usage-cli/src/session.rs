//! What every command that talks to the API has: the client (the org's, or the built-in
//! fake's under `--demo`), where progress and data go, and the id to resume if the user
//! interrupts. Built once from the global flags, before the command runs.

use crate::render::untrusted::CsvCells;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use usage_ext::{PollPolicy, UsageQueries};
use usage_fake::{FakeConfig, FakeService};

use crate::cli::{Format, Global};
use crate::config;
use crate::exit::Failure;
use crate::progress::Progress;
use crate::render::output::{Record, Sink};
use crate::source::dataset::History;

/// The fake `--demo` runs against: 120 of the 240 real-looking series of usage-fake's org
/// (5 OAuth clients, 3 users, 16 endpoints), so each client has its own mix of endpoints.
pub fn demo_config() -> FakeConfig {
    FakeConfig {
        rows: 120,
        ..FakeConfig::default()
    }
}

/// The `resume` arguments of the query or job being waited for, shared with the Ctrl-C
/// handler.
pub type Pending = Arc<Mutex<Option<String>>>;

/// A running command's client and outputs.
pub struct Session {
    pub queries: UsageQueries,
    pub progress: Arc<Progress>,
    pub format: Format,
    /// How CSV cells are written (`--exact-csv`).
    pub csv: CsvCells,
    pub output: Option<PathBuf>,
    pub pending: Pending,
    pub demo: bool,
    /// Whose usage this is: `demo`, or the API's base URL (a sync refuses to mix two).
    pub scope: String,
    /// Whether the locale takes UTF-8 (`LC_ALL`, else `LC_CTYPE`, else `LANG`), so that
    /// `▁▂▃` can be drawn.
    pub utf8: bool,
    /// `--from`: the dataset the commands read instead of the API; then they send nothing.
    pub history: Option<History>,
    /// Kept alive until the session ends: dropping it stops the fake.
    _fake: Option<FakeService>,
}

/// How CSV cells are written: as sent with `--exact-csv`, else safe for a spreadsheet.
fn csv_cells(global: &Global) -> CsvCells {
    if global.exact_csv {
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
    /// Where the numbers come from, as a page states it: the demo's fake or the org, and the
    /// dataset they were read from.
    pub fn data_source(&self) -> String {
        let source = if self.demo {
            "demo data (the built-in usage-fake; generated, not an org's)".to_string()
        } else {
            self.scope.clone()
        };
        match &self.history {
            Some(history) => format!("{source}, read from the dataset at {}", history.place()),
            None => source,
        }
    }

    /// The client the flags and environment name: the fake under `--demo`, else the org's.
    pub async fn connect(
        global: &Global,
        vars: &[(String, String)],
        mut stdin: impl BufRead,
        pending: Pending,
    ) -> Result<Self, Failure> {
        let progress = Arc::new(Progress::new(global.quiet, global.verbose));
        let mut fake = None;
        let client = if global.demo {
            let service = FakeService::start(demo_config()).await.map_err(|e| {
                Failure::Usage(format!("--demo: the built-in fake could not start: {e}"))
            })?;
            progress.note(&format!(
                "--demo: running against the built-in usage-fake at {} (offline); the numbers are generated, not your org's.",
                service.base_url()
            ));
            let client = usage_ext::Client::builder()
                .base_url(&service.base_url())
                .client_credentials(service.client_id(), service.client_secret())
                .build()
                .map_err(|e| Failure::Usage(e.to_string()))?;
            fake = Some(service);
            client
        } else {
            let secret = if global.client_secret_stdin {
                let mut line = String::new();
                stdin
                    .read_line(&mut line)
                    .map_err(|e| Failure::Usage(format!("--client-secret-stdin: {e}")))?;
                let line = line.trim_end_matches(['\r', '\n']).to_string();
                if line.is_empty() {
                    return Err(Failure::Usage(
                        "--client-secret-stdin: stdin had no secret on its first line".into(),
                    ));
                }
                Some(line)
            } else {
                None
            };
            config::org_client(global, vars, secret).map_err(|e| Failure::Usage(e.0))?
        };
        let scope = if global.demo {
            "demo".to_string()
        } else {
            client.base_url().to_string()
        };
        let policy = PollPolicy::default().with_max_wait(global.max_wait);
        let queries = UsageQueries::new(client)
            .with_policy(policy)
            .map_err(|e| Failure::Usage(e.to_string()))?;
        Ok(Self {
            queries,
            progress,
            format: format(global),
            csv: csv_cells(global),
            output: global.output.clone(),
            pending,
            demo: global.demo,
            scope,
            utf8: utf8_locale(vars),
            history: None,
            _fake: fake,
        })
    }

    /// A session that reads `history` and never the API: no credentials are needed, no
    /// token is asked for. Its client is there for the commands' types only and points at
    /// the discard port of the loopback, so that a request sent by mistake fails at once
    /// and reaches no org (the tests count that none is sent).
    pub fn offline(
        global: &Global,
        vars: &[(String, String)],
        history: History,
        pending: Pending,
    ) -> Result<Self, Failure> {
        if global.demo {
            return Err(Failure::Usage(
                "--from reads a synced dataset; --demo starts the fake API it would not ask: \
                 give one of them"
                    .into(),
            ));
        }
        let progress = Arc::new(Progress::new(global.quiet, global.verbose));
        let client = usage_ext::Client::builder()
            .base_url("http://127.0.0.1:9")
            .retry_policy(usage_ext::RetryPolicy::disabled())
            .no_proxy()
            .build()
            .map_err(|e| Failure::Usage(e.to_string()))?;
        Ok(Self {
            queries: UsageQueries::new(client),
            progress,
            format: format(global),
            csv: csv_cells(global),
            output: global.output.clone(),
            pending,
            demo: history.scope() == "demo",
            scope: history.scope().to_string(),
            utf8: utf8_locale(vars),
            history: Some(history),
            _fake: None,
        })
    }

    pub fn out(&self) -> Result<Box<dyn Write>, Failure> {
        open_output(self.output.as_deref())
    }

    /// Notes a submitted query or job and remembers how to resume it.
    pub fn submitted(&self, what: &str, id: &str, client: Option<&str>) {
        let resume = resume_command(self.demo, id, client);
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = Some(resume);
        self.progress.note(&format!("Submitted {what} {id}"));
        self.progress.status("submitted");
    }

    /// The wait is over: nothing left to resume, and the spinner goes.
    pub fn done(&self) {
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.progress.clear();
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

/// What the user runs to wait again for query or job `id` (of OAuth client `client`).
pub fn resume_command(demo: bool, id: &str, client: Option<&str>) -> String {
    match client {
        // The demo's fake stops with this process: nothing outlives it to resume.
        _ if demo => format!("{id} (--demo: the fake stopped with the process; run again)"),
        Some(c) => format!("genesys-usage resume {id} --client {c}"),
        None => format!("genesys-usage resume {id}"),
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
