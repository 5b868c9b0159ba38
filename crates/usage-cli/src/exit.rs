//! How a run ends: one error type, [`Failure`], a variant per kind of failure, its exit code
//! by [`Failure::code`] and its text by `Display`, once. What is printed on stderr is that
//! text, then the root cause when it adds something, then what to do.

use std::error::Error as StdError;
use std::fmt;

use crate::untrusted::message;

/// The documented exit codes (also in `--help` and the README).
pub mod code {
    /// Success.
    pub const OK: u8 = 0;
    /// An API or network error.
    pub const API: u8 = 1;
    /// A usage or configuration error: nothing was sent.
    pub const USAGE: u8 = 2;
    /// The query ended `Failed` or `Cancelled` on the service side.
    pub const ENDED: u8 = 3;
    /// The wait timed out (`--max-wait`).
    pub const TIMED_OUT: u8 = 4;
    /// `check`: a rule is breached (the breaches are on stdout).
    pub const BREACHED: u8 = 5;
    /// `check`: nothing judged is breached, but a rule could not be judged (its data could
    /// not be read; which rule and why are on stdout): a gate must not pass on it.
    pub const NOT_JUDGED: u8 = 6;
    /// What was asked for is not there: an OAuth client with no usage in the window, a
    /// namespace the org does not have. The lookup was sent; nothing else was.
    pub const NOT_FOUND: u8 = 7;
    /// Interrupted (Ctrl-C).
    pub const INTERRUPTED: u8 = 130;
}

/// A cause kept whole, for the chain printed under the message.
pub type Cause = Box<dyn StdError + Send + Sync>;

/// Why a run did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// Bad input or configuration (flags, credentials, region, a rules file, an `--output`
    /// that cannot be written), refused before anything was sent or read.
    Usage(String),
    /// The Usage API or the network failed.
    Api(Box<usage_ext::Error>),
    /// The service answered what it cannot mean: a row outside its interval, a negative
    /// count, an id it does not know.
    Malformed(String),
    /// A dataset that cannot answer (`--from`): none there, a newer version, a shape or a
    /// window it does not hold, a state that does not read. Nothing was read.
    Dataset { place: String, reason: String },
    /// A day file of a dataset that does not read: the command stops, naming it.
    DayFile { place: String, reason: String },
    /// The dataset's store (a directory or S3) failed.
    Store { place: String, cause: Cause },
    /// This run's sync lock was taken or could not be given back in time.
    LockLost { place: String, why: String },
    /// Writing the output failed.
    Output(std::io::Error),
    /// The query ended `Failed`/`Cancelled`.
    Ended(Box<usage_ext::Error>),
    /// `--max-wait` passed.
    TimedOut {
        error: Box<usage_ext::Error>,
        resume: Option<String>,
    },
    /// `check` found breaches, printed on stdout already.
    Breached(usize),
    /// `check` found no breach but could not judge this many rules (printed on stdout).
    NotJudged(usize),
    /// What was asked for is not in the org or the window (after the lookup).
    NotFound(String),
    /// Ctrl-C; `resume` is the command that waits for the query again.
    Interrupted { resume: Option<String> },
}

impl Failure {
    /// A store's failure at `place`.
    pub fn store(place: impl Into<String>, cause: impl Into<Cause>) -> Self {
        Failure::Store {
            place: place.into(),
            cause: cause.into(),
        }
    }

    /// Writing the output failed.
    pub fn output(e: std::io::Error) -> Self {
        Failure::Output(e)
    }

    /// Writing the output failed in a writer that names its errors otherwise (CSV, JSON).
    pub fn output_of(e: impl Into<Cause>) -> Self {
        Failure::Output(std::io::Error::other(e))
    }

    /// The exit code it ends the run with.
    pub fn code(&self) -> u8 {
        match self {
            Failure::Usage(_) | Failure::Dataset { .. } => code::USAGE,
            Failure::Api(_)
            | Failure::Malformed(_)
            | Failure::DayFile { .. }
            | Failure::Store { .. }
            | Failure::LockLost { .. } => code::API,
            // A closed pipe (`| head`) is the reader's choice, not an error.
            Failure::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe => code::OK,
            Failure::Output(_) => code::API,
            Failure::Ended(_) => code::ENDED,
            Failure::TimedOut { .. } => code::TIMED_OUT,
            Failure::Breached(_) => code::BREACHED,
            Failure::NotJudged(_) => code::NOT_JUDGED,
            Failure::NotFound(_) => code::NOT_FOUND,
            Failure::Interrupted { .. } => code::INTERRUPTED,
        }
    }

    /// Prints the failure on stderr and returns its exit code.
    pub fn report(self) -> u8 {
        let code = self.code();
        match &self {
            Failure::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            Failure::Breached(_) | Failure::NotJudged(_) | Failure::Interrupted { .. } => {
                eprintln!("{self}")
            }
            _ => print_error(&self),
        }
        if let Failure::TimedOut {
            resume: Some(resume),
            ..
        } = &self
        {
            eprintln!("  the query may still finish: {resume}");
        }
        code
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(text) | Failure::Malformed(text) | Failure::NotFound(text) => {
                f.write_str(text)
            }
            Failure::Api(e) | Failure::Ended(e) | Failure::TimedOut { error: e, .. } => {
                write!(f, "{e}")
            }
            Failure::Dataset { place, reason } => write!(f, "--from {place}: {reason}"),
            Failure::DayFile { place, reason } => write!(
                f,
                "{place}: not a day of this dataset: {reason}; sync the day again \
                 (`sync --since`) or restore the file"
            ),
            Failure::Store { place, cause } => write!(f, "{place}: {cause}"),
            Failure::LockLost { place, why } => write!(
                f,
                "--to {place}: this run lost its lock on the target ({why}); it stops before \
                 writing anything more. Run the sync again."
            ),
            Failure::Output(e) => write!(f, "writing the output failed: {e}"),
            Failure::Breached(n) => write!(f, "check: {n} rule breach(es)"),
            Failure::NotJudged(n) => write!(
                f,
                "check: nothing judged is breached, but {n} rule(s) could not be judged (exit 6)"
            ),
            Failure::Interrupted {
                resume: Some(resume),
            } => {
                write!(f, "interrupted; the query goes on at the service: {resume}")
            }
            Failure::Interrupted { resume: None } => f.write_str("interrupted"),
        }
    }
}

impl StdError for Failure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Failure::Api(e) | Failure::Ended(e) | Failure::TimedOut { error: e, .. } => e.source(),
            Failure::Store { cause, .. } => Some(cause.as_ref()),
            Failure::Output(e) => Some(e),
            _ => None,
        }
    }
}

impl From<usage_ext::Error> for Failure {
    fn from(e: usage_ext::Error) -> Self {
        use usage_ext::Error as E;
        match e {
            E::Invalid(_) => Failure::Usage(e.to_string()),
            E::FailureState { .. } | E::JobFailed { .. } | E::JobCancelled { .. } => {
                Failure::Ended(Box::new(e))
            }
            // The session fills in the resume command: it knows the client of a client query.
            E::ExceededMaxWait { .. } => Failure::TimedOut {
                error: Box::new(e),
                resume: None,
            },
            other => Failure::Api(Box::new(other)),
        }
    }
}

/// The last error of a source chain.
fn root_cause<'a>(e: &'a (dyn StdError + 'static)) -> &'a (dyn StdError + 'static) {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause
}

/// An error's text quotes what the service sent (a body, an id, a name): it is shown
/// escaped, never obeyed by the terminal.
fn print_error(e: &(dyn StdError + 'static)) {
    let text = e.to_string();
    eprintln!("error: {}", message(&text));
    let root = root_cause(e).to_string();
    if !text.contains(&root) {
        eprintln!("  cause: {}", message(&root));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_code() {
        let io = |kind| std::io::Error::new(kind, "x");
        assert_eq!(Failure::Usage("x".into()).code(), code::USAGE);
        let dataset = Failure::Dataset {
            place: "d".into(),
            reason: "r".into(),
        };
        assert_eq!(dataset.code(), code::USAGE);
        let day = Failure::DayFile {
            place: "d".into(),
            reason: "r".into(),
        };
        assert_eq!(day.code(), code::API);
        assert_eq!(
            Failure::store("s3://b/p", io(std::io::ErrorKind::Other)).code(),
            code::API
        );
        assert_eq!(
            Failure::output(io(std::io::ErrorKind::BrokenPipe)).code(),
            code::OK
        );
        assert_eq!(
            Failure::output(io(std::io::ErrorKind::StorageFull)).code(),
            code::API
        );
        assert_eq!(Failure::Breached(2).code(), code::BREACHED);
        assert_eq!(
            Failure::Interrupted { resume: None }.code(),
            code::INTERRUPTED
        );
    }

    #[test]
    fn a_store_failure_keeps_its_cause() {
        let failure = Failure::store("/data/x", std::io::Error::other("disk on fire"));
        assert_eq!(failure.to_string(), "/data/x: disk on fire");
        assert_eq!(
            root_cause(&failure).to_string(),
            "disk on fire",
            "the cause is kept, not flattened"
        );
    }
}
