#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cursor;
mod error;
mod execution;
mod jobs;
mod limits;
mod policy;
mod poll;
mod queries;
mod simple_search;
pub mod validate;
mod windows;

pub use error::Error;
pub use execution::Execution;
pub use jobs::{Job, JobRow, Pages};
pub use limits::{
    Bucket, MAX_CHANGE_REQUEST_LISTINGS, MAX_EMPTY_EVENT_PAGES, OrganizationLimit, RateLimitRecord,
};
pub use policy::{InvalidPolicy, PollPolicy};
pub use poll::{LAST_POLL_ROOM, PollEvent, PollStatus};
pub use queries::{MAX_PAGE_SIZE, UsageQueries};
pub use simple_search::SimpleSearch;
pub use windows::{
    DayWindow, MAX_HISTORY_DAYS, OnWindowEvent, WINDOW_DAYS, WindowEvent, WindowJobs,
    earliest_first_day, split_days,
};
// What the common path needs, so that `usage-ext` is the one dependency to add.
/// The client crate, for everything else (`usage_ext::client::AuthError`, ...).
pub use usage_client as client;
pub use usage_client::{Client, ClientBuilder, Region, RetryPolicy, UsageError, models};
