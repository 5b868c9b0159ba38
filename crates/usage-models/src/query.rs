//! Constructors for the two request bodies, which share one JSON shape.

use crate::{
    ApiUsageClientQuery, ApiUsageOrganizationQuery, ClientGroupBy, Granularity, Metric,
    OrganizationGroupBy,
};

macro_rules! query_builder {
    ($query:ident, $group_by:ident) => {
        impl $query {
            /// A query over `interval` (ISO-8601 `start/end`, e.g.
            /// `2026-10-01T00:00:00Z/2026-11-01T00:00:00Z`), with no granularity, all
            /// metrics and no grouping.
            pub fn new(interval: impl Into<String>) -> Self {
                Self {
                    interval: interval.into(),
                    granularity: None,
                    metrics: Vec::new(),
                    group_by: Vec::new(),
                }
            }

            /// Buckets the rows by day, week or month; each row then carries a `date`.
            pub fn with_granularity(mut self, granularity: Granularity) -> Self {
                self.granularity = Some(granularity);
                self
            }

            /// Selects metrics; none selected means all of them.
            pub fn with_metrics(mut self, metrics: impl IntoIterator<Item = Metric>) -> Self {
                self.metrics = metrics.into_iter().collect();
                self
            }

            /// Groups rows by these dimensions, in this order.
            pub fn with_group_by(mut self, group_by: impl IntoIterator<Item = $group_by>) -> Self {
                self.group_by = group_by.into_iter().collect();
                self
            }
        }
    };
}

query_builder!(ApiUsageOrganizationQuery, OrganizationGroupBy);
query_builder!(ApiUsageClientQuery, ClientGroupBy);
