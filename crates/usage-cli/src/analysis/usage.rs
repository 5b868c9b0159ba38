//! What the exporter shows, computed from a refresh's daily rows: per series (client and
//! endpoint), the last complete day's counts and the 7 days', at most a number of endpoints
//! per client with the rest summed as "other"; and the day-by-day history Prometheus's
//! backfill takes. `render::metrics` writes both out.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use usage_ext::models::OrganizationPublicApiUsage;

use crate::analysis::allowance::Report;

/// The label set of a series: client id, client name, method, endpoint.
pub type Key = (String, String, String, String);

/// A series' counts: the last day's, and the 7 days'.
pub type Windows = (Counts, Counts);

/// Requests, 429s and 5xx of one series over one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub requests: i64,
    pub status429: i64,
    pub status5xx: i64,
}

/// A row's labels: client id, client name, method, endpoint.
fn series_key(row: &OrganizationPublicApiUsage) -> Key {
    let client = row.oauth_client.as_ref();
    (
        client.and_then(|c| c.id.clone()).unwrap_or_default(),
        client.and_then(|c| c.name.clone()).unwrap_or_default(),
        row.http_method
            .as_ref()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default(),
        row.template_uri.clone().unwrap_or_default(),
    )
}

impl Counts {
    fn of(row: &OrganizationPublicApiUsage) -> Self {
        Counts {
            requests: row.request_count.unwrap_or(0),
            status429: row.status429.unwrap_or(0),
            status5xx: row.status500.unwrap_or(0),
        }
    }

    fn add(&mut self, other: Counts) {
        self.requests = self.requests.saturating_add(other.requests);
        self.status429 = self.status429.saturating_add(other.status429);
        self.status5xx = self.status5xx.saturating_add(other.status5xx);
    }
}

/// One refresh's data: per series, the last day's counts and the 7 days' counts.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    /// The last complete day the data holds.
    pub last_day: Option<NaiveDate>,
    pub series: BTreeMap<Key, Windows>,
    /// The billing period's figures, when the exporter is given an allocation.
    pub allocation: Option<Report>,
    /// The last complete day's near-limit hours and records per client and limit (empty
    /// when the rate-limit aggregates could not be read).
    pub near_limits: Vec<ClientNearLimit>,
    /// The org's limits of `platform.api`: the effective value beside the default.
    pub org_limits: Vec<OrgLimitValue>,
    /// Whether each family beside the usage was read at the last refresh (`true`) or could
    /// not be (`false`: refused, or failed); a family not asked is absent.
    pub families_up: BTreeMap<&'static str, bool>,
}

/// The families beside the usage, by the name the exporter gives them.
pub const RATE_LIMIT_AGGREGATES: &str = "rate_limit_aggregates";
/// The org's limits and their defaults.
pub const ORGANIZATION_LIMITS: &str = "organization_limits";

/// One client's hours near one limit on the last complete day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientNearLimit {
    pub oauth_client_id: String,
    /// From the usage rows; the id when the client made no request that week.
    pub oauth_client_name: String,
    pub limit_key: String,
    pub namespace: String,
    pub hours: u32,
    pub records: i64,
}

/// One of the org's limits, as the exporter shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgLimitValue {
    pub key: String,
    pub namespace: String,
    pub value: Option<i64>,
    pub default: Option<i64>,
}

impl Usage {
    /// The near-limit records of the last complete day, per client and limit, named as the
    /// usage names the clients.
    pub fn set_near_limits(&mut self, records: &[usage_ext::RateLimitRecord]) {
        let names: HashMap<&str, &str> = self
            .series
            .keys()
            .map(|(id, name, _, _)| (id.as_str(), name.as_str()))
            .collect();
        let mut near = Vec::new();
        for (entity, limits) in crate::analysis::limits::per_entity(records) {
            let name = names
                .get(entity.as_str())
                .copied()
                .unwrap_or(entity.as_str());
            for limit in limits {
                near.push(ClientNearLimit {
                    oauth_client_id: entity.clone(),
                    oauth_client_name: name.to_string(),
                    limit_key: limit.limit_key,
                    namespace: limit.namespace,
                    hours: limit.near_limit_hours,
                    records: limit.records,
                });
            }
        }
        self.near_limits = near;
    }
}

impl Usage {
    /// Sums a refresh's daily rows: the rows of `last_day` into the day's counts, all of them
    /// into the 7 days'. At most `top` endpoints per client keep their own series (the most
    /// requests over the 7 days); the rest are summed as `template_uri="other"`.
    pub fn from_rows(rows: &[OrganizationPublicApiUsage], last_day: NaiveDate, top: usize) -> Self {
        let mut all: HashMap<Key, Windows> = HashMap::new();
        for row in rows {
            let key = series_key(row);
            let counts = Counts::of(row);
            let entry = all.entry(key).or_default();
            entry.1.add(counts);
            if row.date == Some(last_day) {
                entry.0.add(counts);
            }
        }
        let mut by_client: BTreeMap<String, Vec<(Key, Windows)>> = BTreeMap::new();
        for (key, counts) in all {
            by_client
                .entry(key.0.clone())
                .or_default()
                .push((key, counts));
        }
        let mut series = BTreeMap::new();
        for (_, mut endpoints) in by_client {
            endpoints.sort_by(|a, b| b.1.1.requests.cmp(&a.1.1.requests).then(a.0.cmp(&b.0)));
            for (rank, (key, counts)) in endpoints.into_iter().enumerate() {
                let key = if rank < top {
                    key
                } else {
                    (key.0, key.1, "other".into(), "other".into())
                };
                let entry: &mut Windows = series.entry(key).or_default();
                entry.0.add(counts.0);
                entry.1.add(counts.1);
            }
        }
        Usage {
            last_day: Some(last_day),
            series,
            allocation: None,
            near_limits: Vec::new(),
            org_limits: Vec::new(),
            families_up: BTreeMap::new(),
        }
    }
}

/// A history for Prometheus's backfill (`promtool tsdb create-blocks-from openmetrics`):
/// each day's counts per series, as `serve` would have shown them as `window="1d"` once the
/// day was complete (timestamped at the end of the day, 00:00 UTC of the next).
#[derive(Debug, Default)]
pub struct Backfill {
    days: BTreeMap<(Key, NaiveDate), Counts>,
}

impl Backfill {
    /// Adds a row of a daily job; `Err` for a row without a date.
    pub fn add(&mut self, row: &OrganizationPublicApiUsage) -> Result<(), String> {
        let date = row
            .date
            .ok_or("a row has no date: give --granularity Day for --format openmetrics")?;
        let key = series_key(row);
        self.days
            .entry((key, date))
            .or_default()
            .add(Counts::of(row));
        Ok(())
    }

    /// Each series' counts, day by day, in label then date order.
    pub fn days(&self) -> impl Iterator<Item = (&Key, NaiveDate, &Counts)> {
        self.days
            .iter()
            .map(|((key, date), counts)| (key, *date, counts))
    }
}
