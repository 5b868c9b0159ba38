#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod execution;
mod policy;
mod queries;
pub mod validate;

pub use error::Error;
pub use execution::{
    Execution, LAST_POLL_ROOM, MAX_CONSECUTIVE_FAILED_POLLS, PollEvent, PollStatus,
};
pub use policy::{InvalidPolicy, PollPolicy};
pub use queries::UsageQueries;
