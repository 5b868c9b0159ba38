#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

#[rustfmt::skip]
#[allow(missing_docs, clippy::all, rustdoc::all)]
mod generated;

mod auth;
mod clock;
mod config;
mod error;
mod path_guard;
mod region;
mod retry;
mod runtime;
mod secret;

pub use auth::{AuthError, ClientCredentials, StaticToken, TokenSource};
pub use clock::{BoxFuture, Clock, TokioClock};
pub use config::{ClientBuilder, ConfigError, env};
pub use error::UsageError;
pub use generated::*;
pub use region::{Endpoints, Region, UnknownRegion};
pub use retry::{RetryPolicy, retry_after};
pub use runtime::{CORRELATION_ID_HEADER, Runtime, UNREADABLE_ERROR_BODY, USER_AGENT_VALUE};
pub use secret::Secret;
/// The models crate, re-exported so one dependency is enough.
pub use usage_models as models;
