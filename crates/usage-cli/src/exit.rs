//! How a run ends: the exit code, and what is printed on stderr. Errors print their
//! `Display` text, then the root cause when it adds something, then what to do.

use std::error::Error as StdError;

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
    /// Interrupted (Ctrl-C).
    pub const INTERRUPTED: u8 = 130;
}

/// Why a run did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// Credentials or region missing or wrong.
    Config(String),
    /// Bad input, caught before sending.
    Usage(String),
    /// The service or the network failed.
    Api(Box<dyn StdError + Send + Sync>),
    /// The query ended `Failed`/`Cancelled`.
    Ended(Box<usage_ext::Error>),
    /// `--max-wait` passed.
    TimedOut {
        error: Box<usage_ext::Error>,
        resume: Option<String>,
    },
    /// `check` found breaches, printed on stdout already.
    Breached(usize),
    /// Ctrl-C; `resume` is the command that waits for the query again.
    Interrupted { resume: Option<String> },
    /// Writing the output failed.
    Io(std::io::Error),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Io(e)
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

impl Failure {
    /// Prints the failure on stderr and returns its exit code.
    pub fn report(self) -> u8 {
        match self {
            Failure::Config(text) | Failure::Usage(text) => {
                eprintln!("error: {}", message(&text));
                code::USAGE
            }
            Failure::Api(e) => {
                print_error(&*e);
                code::API
            }
            Failure::Ended(e) => {
                print_error(&*e);
                code::ENDED
            }
            Failure::TimedOut { error, resume } => {
                print_error(&*error);
                if let Some(resume) = resume {
                    eprintln!("  the query may still finish: {resume}");
                }
                code::TIMED_OUT
            }
            Failure::Breached(n) => {
                eprintln!("check: {n} rule breach(es)");
                code::BREACHED
            }
            Failure::Interrupted { resume } => {
                match resume {
                    Some(resume) => {
                        eprintln!("interrupted; the query goes on at the service: {resume}")
                    }
                    None => eprintln!("interrupted"),
                }
                code::INTERRUPTED
            }
            // A closed pipe (`| head`) is the reader's choice, not an error.
            Failure::Io(e) if e.kind() == std::io::ErrorKind::BrokenPipe => code::OK,
            Failure::Io(e) => {
                eprintln!("error: writing the output failed: {e}");
                code::API
            }
        }
    }
}
