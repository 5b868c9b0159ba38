#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

#[rustfmt::skip]
#[allow(missing_docs, clippy::all, rustdoc::all, unused_imports)]
mod generated;

pub use generated::*;
