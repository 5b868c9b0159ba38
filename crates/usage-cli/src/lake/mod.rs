//! The dataset `sync` keeps (a directory or S3): the store it lives in, the lock that keeps
//! one sync at a time, its state file, and the day files written whole. Nothing here asks
//! the API; `source::dataset` reads what is written here.

pub mod events;
pub mod lock;
pub mod rate_limits;
pub mod schema;
pub mod state;
pub mod store;
pub mod writer;
