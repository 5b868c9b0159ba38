//! Where rows come from: the Usage API (aggregates query jobs, one per 90 days, with their
//! progress) or a dataset `sync` kept. The commands read usage through here, and the counts
//! a row carries are checked here, once, before anything sums them.

pub mod api;
pub mod counts;
pub mod dataset;
