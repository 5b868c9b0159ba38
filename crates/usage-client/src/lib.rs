#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// The modules form a one-way stack, bottom first: each imports only those above it here.
mod clock;
mod deadline;
pub mod env;
mod error;
mod operations;
mod secret;
mod sends;

mod retry;
mod transport;

mod auth;

mod pipeline;

mod config;

mod client;
mod slot;

#[rustfmt::skip]
#[allow(clippy::all, rustdoc::all, dead_code)]
mod generated;

mod bridge;

#[rustfmt::skip]
mod api;

pub use auth::{
    ClientCredentials, MAX_TOKEN_LIFETIME, MIN_TOKEN_LIFETIME, StaticToken, TokenSource,
};
pub use client::Client;
pub use clock::{BoxFuture, Clock, TokioClock};
pub use config::{ClientBuilder, Endpoints, Region, outbound_http};
pub use deadline::with_deadline;
pub use error::{
    AuthError, CORRELATION_ID_HEADER, ConfigError, TransportError, UnknownRegion, UsageError,
};
pub use operations::{OPERATIONS, OperationSpec};
pub use pipeline::{UNREADABLE_ERROR_BODY, USER_AGENT_VALUE};
pub use retry::{RetryPolicy, retry_after};
pub use secret::Secret;
/// The models crate, re-exported so one dependency is enough.
pub use usage_models as models;
