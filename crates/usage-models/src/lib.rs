#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[rustfmt::skip]
#[allow(clippy::all)]
mod generated;
mod error_body;
mod interval;
mod open_enum;
mod query;
mod row;
mod timestamp;

pub use generated::*;
pub use interval::{Interval, IntervalError};
pub use open_enum::UnknownValue;
pub use timestamp::Timestamp;
