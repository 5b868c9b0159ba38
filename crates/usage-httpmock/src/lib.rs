#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[rustfmt::skip]
#[allow(clippy::all, rustdoc::all, unused_imports)]
mod generated;

pub use generated::*;
/// The httpmock these mocks are built on (0.8). Use it rather than a `httpmock` of your own:
/// with another major version, `MockServer` is another type and the methods of
/// [`MockServerExt`] are not found on it (E0599).
pub use httpmock;
