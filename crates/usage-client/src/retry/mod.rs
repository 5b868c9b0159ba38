//! Retries, below the request pipeline and the token source, which both use them: the
//! classifier says whether a failed send may be sent again, the policy how often and after
//! how long, the quota how many retries the whole client may still spend, and the driver
//! is the one loop that applies all three.

mod classify;
mod driver;
mod policy;
mod quota;

pub use classify::retry_after;
pub(crate) use classify::{Class, classify};
pub(crate) use driver::{Retrying, Stop, Tally, Turn, Verdict, drive};
pub use policy::RetryPolicy;
pub(crate) use quota::RetryQuota;
