//! What the user sees on stderr while a query runs: a spinner with the elapsed time, poll
//! count and status when stderr is a terminal (cleared before any data is printed), the
//! poll trace with `-v`, and notes such as the id to resume. Nothing with `--quiet`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use usage_ext::{PollEvent, PollStatus};

pub struct Progress {
    spinner: Option<ProgressBar>,
    verbose: bool,
    quiet: bool,
}

impl Progress {
    pub fn new(quiet: bool, verbose: bool) -> Self {
        let spinner = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed:>3} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Self {
            spinner,
            verbose: verbose && !quiet,
            quiet,
        }
    }

    /// A line on stderr (above the spinner), unless `--quiet`.
    pub fn note(&self, text: &str) {
        if self.quiet {
            return;
        }
        // Notes name jobs and windows the service returned: shown, never obeyed.
        let text = crate::untrusted::message(text);
        match &self.spinner {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    /// A line on stderr with `-v` only.
    pub fn detail(&self, text: &str) {
        if self.verbose {
            self.note(text);
        }
    }

    pub fn status(&self, text: &str) {
        if let Some(bar) = &self.spinner {
            bar.set_message(crate::untrusted::terminal(text).into_owned());
        }
    }

    pub fn poll(&self, event: &PollEvent) {
        self.status(&format!(
            "{} · poll {}",
            status_text(&event.status),
            event.poll
        ));
        if self.verbose {
            let next = if event.next_delay.is_zero() {
                String::new()
            } else {
                format!(", next poll in {:.2} s", event.next_delay.as_secs_f64())
            };
            self.note(&format!(
                "  poll {:>2} at {:>6.2} s: {}{next}",
                event.poll,
                event.elapsed.as_secs_f64(),
                status_text(&event.status)
            ));
        }
    }

    /// Removes the spinner, so that what follows starts on a clean line.
    pub fn clear(&self) {
        if let Some(bar) = &self.spinner {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}

fn status_text(status: &PollStatus) -> String {
    match status {
        PollStatus::Unlisted(s) => s.clone(),
        other => format!("{other:?}"),
    }
}

/// The `resume` arguments of the query or job being waited for, shared with the Ctrl-C
/// handler, which prints them.
pub type Pending = std::sync::Arc<std::sync::Mutex<Option<String>>>;
