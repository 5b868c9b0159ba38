//! The limits family beside the usage: which limit an integration comes near and when (the
//! rate-limit aggregates), the org's value of each limit beside its default and its docs, the
//! org's requests to raise one, and the operational events. Each helper checks its input
//! before any request and says which request failed.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use futures_util::Stream;
use usage_client::UsageError;
use usage_client::models::{
    ChangeRequestExpand, EventAggregatesQueryRequest, EventAggregatesResponse, EventQueryRequest,
    EventSortOrder, Interval, LimitChangeRequestDetails, OperationalEvent,
    RateLimitAggregationQuery, RateLimitDimension, RateLimitMetric,
};

use crate::error::Error;
use crate::queries::UsageQueries;
use crate::validate::{self, ValidationError};
use crate::windows::DayWindow;

/// The change requests a listing asks for at a time.
const CHANGE_REQUESTS_PAGE: i32 = 100;

/// The most listings [`UsageQueries::change_requests`] sends for one call: the windows it
/// halves stay few for any real org (a listing per 100 requests, and the halving's), so
/// more is a service that keeps saying "more".
pub const MAX_CHANGE_REQUEST_LISTINGS: usize = 200;

/// How many pages of operational events in a row may hold no event yet name a next page
/// before the stream ends with an error: a service that answers empty pages with new
/// cursors forever would otherwise be paged forever.
pub const MAX_EMPTY_EVENT_PAGES: usize = 10;

/// The time buckets of the rate-limit aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// An hour (`PT1H`): when in the day a limit is hit.
    Hour,
    /// A day (`P1D`).
    Day,
}

impl Bucket {
    fn period(self) -> &'static str {
        match self {
            Bucket::Hour => "PT1H",
            Bucket::Day => "P1D",
        }
    }
}

/// One bucket of near-limit records of one entity and limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitRecord {
    /// The bucket's start.
    pub bucket_start: DateTime<Utc>,
    /// The entity the records are of (`entityId`; what it holds per limit is not documented).
    pub entity_id: Option<String>,
    /// The user the records name (`userId`), for a limit per user of an app; none for one
    /// of client credentials.
    pub user_id: Option<String>,
    /// The limit's key (`limitName`).
    pub limit_key: Option<String>,
    /// The limit's namespace.
    pub namespace: Option<String>,
    /// The limit's value the records were made against (`max`), when it reads as a number.
    pub max: Option<i64>,
    /// The near-limit records in the bucket (`oRateLimitRecorded`'s count).
    pub count: i64,
}

/// One of the org's limits: its value, its default and what its docs say of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationLimit {
    /// The limit's key.
    pub key: String,
    /// The org's effective value.
    pub value: Option<i64>,
    /// Its default.
    pub default: Option<i64>,
    /// What it limits.
    pub description: Option<String>,
    /// Whether the org's value can be raised.
    pub configurable: Option<bool>,
    /// Whether it has rate-limit records (operational events enabled).
    pub trackable: Option<bool>,
}

impl OrganizationLimit {
    /// Whether the org's value is above the default.
    pub fn raised(&self) -> bool {
        matches!((self.value, self.default), (Some(v), Some(d)) if v > d)
    }
}

/// A request of the limits family failed (after the client's retries).
fn failed(operation: &'static str) -> impl FnOnce(UsageError) -> Error {
    move |source| Error::Limits {
        operation,
        source: Box::new(source),
    }
}

/// A limit's value as the group's `max` dimension writes it: `600`, or `600.0` (a
/// dimension is text, and the value may come as a float's text); anything else (a fraction,
/// a negative, past i64, not a number) is no value.
fn whole_number(text: &str) -> Option<i64> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|v| *v >= 0)
        .or_else(|| whole(text.trim().parse::<f64>().ok()?))
}

/// A float that is a whole, non-negative number within i64.
fn whole(value: f64) -> Option<i64> {
    // 2^63 is the first float past i64::MAX.
    (value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value < 9.223_372_036_854_776e18)
        .then_some(value as i64)
}

/// An interval the limits family takes: ISO-8601 `start/end`, start before end.
fn interval(text: &str) -> Result<Interval, Error> {
    Ok(Interval::parse(text).map_err(ValidationError::from)?)
}

impl UsageQueries {
    /// The near-limit records of `interval` in `bucket`s, one row per bucket, entity and
    /// limit (grouped by `entityId`, `limitName`, `namespace` and `max`).
    pub async fn rate_limit_records(
        &self,
        interval_text: &str,
        bucket: Bucket,
    ) -> Result<Vec<RateLimitRecord>, Error> {
        interval(interval_text)?;
        let query = RateLimitAggregationQuery {
            interval: interval_text.to_string(),
            granularity: Some(bucket.period().to_string()),
            time_zone: None,
            group_by: vec![
                RateLimitDimension::EntityId,
                RateLimitDimension::UserId,
                RateLimitDimension::LimitName,
                RateLimitDimension::Namespace,
                RateLimitDimension::Max,
            ],
            filter: None,
            metrics: vec![RateLimitMetric::ORateLimitRecorded],
            flatten_multivalued_dimensions: None,
            views: Vec::new(),
            alternate_time_dimension: None,
        };
        let answer = self
            .client()
            .post_analytics_ratelimits_aggregates_query(&query)
            .await
            .map_err(failed("postAnalyticsRatelimitsAggregatesQuery"))?;
        let mut records = Vec::new();
        for result in answer.results {
            let group = |name: &str| result.group.get(name).cloned();
            for data in result.data {
                let start = data
                    .interval
                    .as_deref()
                    .and_then(|i| Interval::parse(i).ok())
                    .map(|i| i.start);
                let mut count = 0i64;
                let stats_max = data
                    .metrics
                    .iter()
                    .filter(|m| m.metric.as_deref() == Some("oRateLimitRecorded"))
                    .find_map(|m| m.stats.as_ref()?.max);
                for recorded in data
                    .metrics
                    .iter()
                    .filter(|m| m.metric.as_deref() == Some("oRateLimitRecorded"))
                    .filter_map(|m| m.stats.as_ref()?.count)
                {
                    // A count below zero is a lie, not a number to clamp: the whole answer
                    // is suspect.
                    if recorded < 0 {
                        return Err(Error::Limits {
                            operation: "postAnalyticsRatelimitsAggregatesQuery",
                            source: Box::new(UsageError::Decode {
                                reason: format!(
                                    "a negative count of near-limit records in the bucket {}",
                                    data.interval.as_deref().unwrap_or("with no interval")
                                ),
                                snippet: format!("\"count\":{recorded}"),
                            }),
                        });
                    }
                    count = count.saturating_add(recorded);
                }
                let Some(bucket_start) = start else { continue };
                records.push(RateLimitRecord {
                    bucket_start,
                    entity_id: group("entityId"),
                    user_id: group("userId"),
                    limit_key: group("limitName"),
                    namespace: group("namespace"),
                    max: group("max")
                        .as_deref()
                        .and_then(whole_number)
                        .or_else(|| stats_max.and_then(whole)),
                    count,
                });
            }
        }
        records.sort_by(|a, b| {
            (a.bucket_start, &a.entity_id, &a.limit_key, &a.user_id).cmp(&(
                b.bucket_start,
                &b.entity_id,
                &b.limit_key,
                &b.user_id,
            ))
        });
        Ok(records)
    }

    /// The org's limits in `namespace`: each one's effective value beside its default and
    /// its docs (three requests: the effective values, the defaults, the docs).
    pub async fn organization_limits(
        &self,
        namespace: &str,
    ) -> Result<Vec<OrganizationLimit>, Error> {
        validate::id("namespaceName", namespace)?;
        let client = self.client();
        let effective = client
            .get_organizations_limits_namespace(namespace)
            .await
            .map_err(failed("getOrganizationsLimitsNamespace"))?;
        let defaults = client
            .get_organizations_limits_namespace_defaults(namespace)
            .await
            .map_err(failed("getOrganizationsLimitsNamespaceDefaults"))?;
        let docs = client
            .get_organizations_limits_docs()
            .await
            .map_err(failed("getOrganizationsLimitsDocs"))?;
        let documented: Vec<_> = docs
            .namespaces
            .iter()
            .filter(|n| n.name.as_deref() == Some(namespace))
            .flat_map(|n| n.limits.iter())
            .collect();
        let mut keys: Vec<String> = Vec::new();
        for key in effective
            .entities
            .iter()
            .chain(&defaults.entities)
            .filter_map(|l| l.key.clone())
            .chain(documented.iter().filter_map(|d| d.key.clone()))
        {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        Ok(keys
            .into_iter()
            .map(|key| {
                let value_in = |entities: &[usage_client::models::Limit]| {
                    entities
                        .iter()
                        .find(|l| l.key.as_deref() == Some(key.as_str()))
                        .and_then(|l| l.value)
                };
                let doc = documented
                    .iter()
                    .find(|d| d.key.as_deref() == Some(key.as_str()));
                OrganizationLimit {
                    value: value_in(&effective.entities),
                    default: value_in(&defaults.entities)
                        .or_else(|| doc.and_then(|d| d.default_value)),
                    description: doc.and_then(|d| d.description.clone()),
                    configurable: doc.and_then(|d| d.configurable),
                    trackable: doc.and_then(|d| d.trackable),
                    key,
                }
            })
            .collect())
    }

    /// The org's limit change requests made on `days`, each with its status history, every
    /// page followed, oldest first. The spec gives the listing no page or cursor parameter,
    /// only the `after` and `before` timestamps: when the service says a window has more
    /// than a page, the window is halved and each half asked for, until every window fits
    /// in a page. Whether `after` and `before` are inclusive upstream does not say: the
    /// windows are asked a millisecond wider and overlap at their middle, so either reading
    /// gets every request once (by its id, or without one by what it says), and none
    /// outside `days`. More than a page created in a millisecond or two, or more than
    /// [`MAX_CHANGE_REQUEST_LISTINGS`] listings, is an error naming the operation, never a
    /// short answer.
    pub async fn change_requests(
        &self,
        days: DayWindow,
    ) -> Result<Vec<LimitChangeRequestDetails>, Error> {
        let start = |day: chrono::NaiveDate| {
            day.and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc()
                .timestamp_millis()
        };
        // Upstream does not say whether `after` and `before` are inclusive. The windows
        // are asked one millisecond wider on each side and the requests outside the days
        // dropped after, so either reading gets every request of the days and none other.
        let (first, end) = (
            start(days.first()),
            days.last().succ_opt().map_or(i64::MAX, start),
        );
        let (after, before) = (first.saturating_sub(1), end);
        let expand = vec![ChangeRequestExpand::StatusHistory];
        let too_many = |reason: String, snippet: String| Error::Limits {
            operation: "getOrganizationsLimitsChangerequests",
            source: Box::new(UsageError::Decode { reason, snippet }),
        };
        // Depth first, the earlier half on top: a server that always says "more" reaches
        // a one-millisecond window in about 40 listings.
        let mut windows = vec![(after, before)];
        let mut listings = 0usize;
        // A request is kept once: by its id, or without one by what it says.
        let mut seen: HashSet<String> = HashSet::new();
        let mut found = Vec::new();
        while let Some((from, to)) = windows.pop() {
            listings += 1;
            if listings > MAX_CHANGE_REQUEST_LISTINGS {
                return Err(too_many(
                    format!(
                        "the change requests did not fit in {MAX_CHANGE_REQUEST_LISTINGS} \
                         listings of {CHANGE_REQUESTS_PAGE}"
                    ),
                    String::new(),
                ));
            }
            let page = self
                .client()
                .get_organizations_limits_changerequests(
                    Some(from),
                    Some(to),
                    Some(&expand),
                    Some(CHANGE_REQUESTS_PAGE),
                    None,
                )
                .await
                .map_err(failed("getOrganizationsLimitsChangerequests"))?;
            if let Some(next) = page.next_uri {
                if to.saturating_sub(from) < 3 {
                    return Err(too_many(
                        format!(
                            "more than {CHANGE_REQUESTS_PAGE} change requests in one \
                             millisecond, which the listing cannot page through"
                        ),
                        next.chars().take(120).collect(),
                    ));
                }
                // The halves overlap by a millisecond around their middle, so that a
                // request at the middle instant is inside one of them whether the ends are
                // inclusive or not; one that comes twice is kept once.
                let middle = from + (to - from) / 2;
                windows.push((middle, to));
                windows.push((from, middle + 1));
                continue;
            }
            for request in page.entities {
                let identity = match &request.id {
                    Some(id) => format!("id {id}"),
                    None => format!(
                        "{:?} {} {} {} {:?} {}",
                        request.date_created,
                        request.namespace.as_str(),
                        request.key,
                        request.requested_value,
                        request.status.as_ref().map(|s| s.as_str().to_string()),
                        request.description
                    ),
                };
                let inside = request
                    .date_created
                    .is_none_or(|at| (first..end).contains(&at.timestamp_millis()));
                if inside && seen.insert(identity) {
                    found.push(request);
                }
            }
        }
        found.sort_by(|a, b| (a.date_created, &a.id).cmp(&(b.date_created, &b.id)));
        Ok(found)
    }

    /// The operational events of `interval`, oldest first, a page at a time (at most 200
    /// events a page, upstream's largest), as a stream. A cursor the service hands back
    /// twice, a `nextUri` with no cursor, or [`MAX_EMPTY_EVENT_PAGES`] empty pages in a row
    /// that still name a next one end the stream with an error after the events already
    /// handed out, as the jobs' paging does: it never stops short in silence nor loops.
    pub fn operational_events(
        &self,
        interval_text: &str,
    ) -> Result<impl Stream<Item = Result<OperationalEvent, Error>> + use<>, Error> {
        interval(interval_text)?;
        let body = EventQueryRequest {
            interval: interval_text.to_string(),
            event_definition_ids: Vec::new(),
            search_term: None,
            sort_order: Some(EventSortOrder::ASC),
        };
        struct Paging {
            queries: UsageQueries,
            body: EventQueryRequest,
            after: Option<String>,
            seen: HashSet<String>,
            buffered: std::vec::IntoIter<OperationalEvent>,
            /// The error that ends the stream once the page before it is handed out.
            error: Option<Error>,
            done: bool,
            empty_pages: usize,
        }
        let paging = Paging {
            queries: self.clone(),
            body,
            after: None,
            seen: HashSet::new(),
            buffered: Vec::new().into_iter(),
            error: None,
            done: false,
            empty_pages: 0,
        };
        Ok(futures_util::stream::unfold(paging, |mut p| async move {
            loop {
                if let Some(event) = p.buffered.next() {
                    return Some((Ok(event), p));
                }
                if let Some(error) = p.error.take() {
                    return Some((Err(error), p));
                }
                if p.done {
                    return None;
                }
                let page = p
                    .queries
                    .client()
                    .post_usage_events_query(p.after.as_deref(), None, Some("200"), &p.body)
                    .await;
                let page = match page {
                    Ok(page) => page,
                    Err(source) => {
                        p.done = true;
                        return Some((Err(failed("postUsageEventsQuery")(source)), p));
                    }
                };
                // A page with no events but a new cursor is the service still looking;
                // past MAX_EMPTY_EVENT_PAGES in a row it is a service that never ends.
                p.empty_pages = if page.entities.is_empty() {
                    p.empty_pages + 1
                } else {
                    0
                };
                p.buffered = page.entities.into_iter();
                let next_uri = page.next_uri.unwrap_or_default();
                let stop = |reason: &str| Error::Limits {
                    operation: "postUsageEventsQuery",
                    source: Box::new(UsageError::Decode {
                        reason: reason.to_string(),
                        snippet: next_uri.chars().take(120).collect(),
                    }),
                };
                if next_uri.is_empty() {
                    p.done = true;
                    continue;
                }
                p.done = true;
                match crate::cursor::after(&next_uri) {
                    None => {
                        p.error = Some(stop(
                            "the events' nextUri holds no `after` cursor; paging stopped",
                        ))
                    }
                    Some(_) if p.empty_pages >= MAX_EMPTY_EVENT_PAGES => {
                        p.error = Some(stop(&format!(
                            "{MAX_EMPTY_EVENT_PAGES} pages in a row held no event but named a next one; paging stopped"
                        )))
                    }
                    Some(next) if p.seen.insert(next.clone()) => {
                        p.done = false;
                        p.after = Some(next);
                    }
                    Some(_) => {
                        p.error = Some(stop(
                            "the events' nextUri holds a cursor already fetched; paging stopped",
                        ))
                    }
                }
            }
        }))
    }

    /// How many operational events of each definition `interval` has.
    pub async fn operational_event_counts(
        &self,
        interval_text: &str,
    ) -> Result<EventAggregatesResponse, Error> {
        interval(interval_text)?;
        let body = EventAggregatesQueryRequest {
            interval: interval_text.to_string(),
        };
        self.client()
            .post_usage_events_aggregates_query(&body)
            .await
            .map_err(failed("postUsageEventsAggregatesQuery"))
    }
}

#[cfg(test)]
mod tests {
    use super::whole_number;

    #[test]
    fn a_limits_value_reads_as_a_whole_number_or_not_at_all() {
        assert_eq!(whole_number("600"), Some(600));
        assert_eq!(whole_number("600.0"), Some(600));
        assert_eq!(whole_number(" 1e3 "), Some(1000));
        for bad in [
            "600.5",
            "-1",
            "-600.0",
            "NaN",
            "inf",
            "1e30",
            "",
            "six hundred",
        ] {
            assert_eq!(whole_number(bad), None, "{bad:?}");
        }
    }
}
