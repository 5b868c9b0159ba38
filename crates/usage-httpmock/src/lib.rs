#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[rustfmt::skip]
#[allow(clippy::all, rustdoc::all, unused_imports)]
mod generated;

pub use generated::*;
