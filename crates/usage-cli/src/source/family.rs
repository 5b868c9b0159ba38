//! The limits family as a source answers it, beside the usage rows: the hourly near-limit
//! records (the rate-limit aggregates), the org's limits, its requests to raise one, and
//! the operational events with their definitions' names. The API asks for each; a dataset
//! answers the records it keeps and says of the rest that it keeps none. What cannot be
//! read is never a failure of the command (the usage stands without it): it is the reason,
//! said on stderr and, where a rule needed it, judged "not judged".

use std::fmt;

/// Why one of the limits family's tables has no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// The source keeps none of it: a dataset, for what the API alone answers. Nothing
    /// failed; an exporter shows no gauge for it rather than a family down.
    NotKept(String),
    /// It was asked for and could not be read: a permission the login lacks, a failed
    /// request, a dataset that holds part of the window.
    Unread(String),
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unavailable::NotKept(why) | Unavailable::Unread(why) => f.write_str(why),
        }
    }
}

/// One table of the limits family, or why there is none to show.
pub type Family<T> = Result<T, Unavailable>;

/// What a dataset says of a table only the API answers.
pub fn not_kept<T>(what: &str) -> Family<T> {
    Err(Unavailable::NotKept(format!(
        "--from: the dataset keeps no {what}; they come from the API"
    )))
}
