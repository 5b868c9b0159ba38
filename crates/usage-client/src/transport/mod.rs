//! The HTTP stack's settings and guards, below the request pipeline: TLS, proxies, the
//! encoding of ids into paths, the check that a request addresses its operation, and the
//! capped reading of bodies.

pub(crate) mod body;
pub(crate) mod path_guard;
pub(crate) mod path_segment;
pub(crate) mod proxy;
pub(crate) mod tls;
