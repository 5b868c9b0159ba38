#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

#[rustfmt::skip]
#[allow(missing_docs, clippy::all, rustdoc::all)]
mod generated;
mod path_guard;
mod runtime;

pub use generated::*;
pub use runtime::Runtime;
/// The models crate, re-exported so one dependency is enough.
pub use usage_models as models;
