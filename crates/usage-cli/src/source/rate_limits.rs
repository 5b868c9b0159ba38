//! The second table a source answers beside the usage rows: the hourly near-limit records of
//! a window (the rate-limit aggregates), or why there are none to show.

/// The near-limit records of a window, or why there are none to show.
pub enum RateLimits {
    Records(Vec<usage_ext::RateLimitRecord>),
    /// What to say on stderr instead: a permission the login lacks, a dataset that keeps
    /// none, a failed request. The usage stands without them.
    Unavailable(String),
}
