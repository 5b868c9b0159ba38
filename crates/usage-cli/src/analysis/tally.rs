//! The report: per OAuth client, its requests, its 429s and their share, and the endpoints
//! that got the most 429s; with the trend when the data has it: the client's 429s day by
//! day, and the change against the window of the same length before. Rows are summed as
//! they arrive, so a jobs report holds one entry per (client, endpoint) and per (client,
//! day), never the rows.

use crate::analysis::limits::NearLimit;
use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::Serialize;
use usage_ext::DayWindow;

/// One endpoint of a client: `httpMethod templateUri`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    pub http_method: String,
    pub template_uri: String,
    pub request_count: i64,
    pub status429: i64,
    /// Not called by this client in the previous window (false without a comparison).
    pub new: bool,
    /// Its requests in the previous window, when there is a comparison.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_request_count: Option<i64>,
}

/// One OAuth client's line of the report.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClientReport {
    pub oauth_client_id: String,
    pub oauth_client_name: String,
    pub request_count: i64,
    pub status429: i64,
    /// 429s per request, 0.0 to 1.0.
    pub status429_share: f64,
    /// The endpoints with the most 429s (then requests), at most `--top`.
    pub top_endpoints: Vec<Endpoint>,
    /// Its 429s on each day of the window, oldest first (empty without daily data).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub daily429: Vec<i64>,
    /// The comparison with the previous window, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<Previous>,
    /// The limits it came near in the window, the most hours first (through the jobs,
    /// when the rate-limit aggregates answered).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<NearLimit>,
    /// The distinct hours it had a record for any of `limits` (an hour near two limits is
    /// one hour): what `check --max-limit-hours` judges.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub near_limit_hours: Option<u32>,
}

/// A client's figures in the window of the same length before, and the change.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Previous {
    pub request_count: i64,
    pub status429: i64,
    pub status429_share: f64,
    pub change: Change,
    /// (now - before) / before; `None` for a new client.
    pub request_count_change: Option<f64>,
    /// The 429 share now minus before, -1.0 to 1.0 (percentage points / 100).
    pub status429_share_change: f64,
}

/// How a client compares with the previous window.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum Change {
    /// No requests before.
    New,
    /// No requests now.
    Gone,
    /// Requests in both.
    Changed,
}

#[derive(Default)]
struct Client {
    name: String,
    requests: i64,
    status429: i64,
    /// By template URI, then method: looked up with borrowed strings, so that adding a row
    /// allocates only for an endpoint not seen before (a dataset's million rows).
    endpoints: HashMap<String, HashMap<String, (i64, i64)>>,
    daily429: BTreeMap<NaiveDate, i64>,
}

/// The running sums.
#[derive(Default)]
pub struct Tally {
    clients: HashMap<String, Client>,
}

impl Tally {
    fn client(&mut self, client_id: &str, client_name: &str) -> &mut Client {
        if !self.clients.contains_key(client_id) {
            self.clients
                .insert(client_id.to_string(), Client::default());
        }
        let client = self
            .clients
            .get_mut(client_id)
            .expect("inserted if it was missing");
        if client.name.is_empty() {
            client.name = client_name.to_string();
        }
        client
    }

    /// Adds one row's counts.
    pub fn add(
        &mut self,
        client_id: &str,
        client_name: &str,
        http_method: &str,
        template_uri: &str,
        requests: i64,
        status429: i64,
    ) {
        let client = self.client(client_id, client_name);
        client.requests = client.requests.saturating_add(requests);
        client.status429 = client.status429.saturating_add(status429);
        let methods = match client.endpoints.get_mut(template_uri) {
            Some(methods) => methods,
            None => client
                .endpoints
                .entry(template_uri.to_string())
                .or_default(),
        };
        let endpoint = match methods.get_mut(http_method) {
            Some(endpoint) => endpoint,
            None => methods.entry(http_method.to_string()).or_default(),
        };
        endpoint.0 = endpoint.0.saturating_add(requests);
        endpoint.1 = endpoint.1.saturating_add(status429);
    }

    /// Adds one day's 429s of a client (a row of a daily job grouped by client).
    pub fn add_day(&mut self, client_id: &str, client_name: &str, date: NaiveDate, status429: i64) {
        let day = self
            .client(client_id, client_name)
            .daily429
            .entry(date)
            .or_default();
        *day = day.saturating_add(status429);
    }

    /// The report: clients by 429s, then requests (then id, for a stable order). With
    /// `days`, each client's 429s day by day; with `previous` (the tally of the window of
    /// the same length before), the change, and after the others the clients gone since.
    pub fn finish(
        self,
        top: usize,
        days: Option<DayWindow>,
        previous: Option<Tally>,
    ) -> Vec<ClientReport> {
        let mut before = previous.map(|p| p.clients);
        let daily = |c: &Client| {
            days.map_or_else(Vec::new, |days| {
                days.first()
                    .iter_days()
                    .take(days.days() as usize)
                    .map(|d| c.daily429.get(&d).copied().unwrap_or(0))
                    .collect()
            })
        };
        let mut clients: Vec<ClientReport> = self
            .clients
            .into_iter()
            // A client seen only in the daily rows has no totals to report.
            .filter(|(_, c)| !c.endpoints.is_empty())
            .map(|(id, c)| {
                let earlier = before.as_mut().map(|b| b.remove(&id).unwrap_or_default());
                let mut endpoints: Vec<Endpoint> = c
                    .endpoints
                    .iter()
                    .flat_map(|(uri, methods)| {
                        methods.iter().map(move |(m, counts)| (m, uri, counts))
                    })
                    .map(|(method, uri, &(requests, status429))| {
                        let before = earlier.as_ref().map(|e| {
                            e.endpoints
                                .get(uri)
                                .and_then(|methods| methods.get(method))
                                .map_or(0, |(r, _)| *r)
                        });
                        Endpoint {
                            new: before == Some(0),
                            previous_request_count: before,
                            http_method: method.clone(),
                            template_uri: uri.clone(),
                            request_count: requests,
                            status429,
                        }
                    })
                    .collect();
                endpoints.sort_by(|a, b| {
                    (
                        b.status429,
                        b.request_count,
                        &a.template_uri,
                        &a.http_method,
                    )
                        .cmp(&(
                            a.status429,
                            a.request_count,
                            &b.template_uri,
                            &b.http_method,
                        ))
                });
                endpoints.truncate(top);
                ClientReport {
                    daily429: daily(&c),
                    previous: earlier.map(|e| compare(c.requests, c.status429, &e)),
                    limits: Vec::new(),
                    near_limit_hours: None,
                    oauth_client_id: id,
                    oauth_client_name: c.name,
                    request_count: c.requests,
                    status429: c.status429,
                    status429_share: share(c.status429, c.requests),
                    top_endpoints: endpoints,
                }
            })
            .collect();
        clients.sort_by(|a, b| {
            (b.status429, b.request_count, &a.oauth_client_id).cmp(&(
                a.status429,
                a.request_count,
                &b.oauth_client_id,
            ))
        });
        let mut gone: Vec<ClientReport> = before
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, e)| e.requests > 0)
            .map(|(id, e)| ClientReport {
                daily429: daily(&Client::default()),
                previous: Some(compare(0, 0, &e)),
                limits: Vec::new(),
                near_limit_hours: None,
                oauth_client_id: id,
                oauth_client_name: e.name,
                request_count: 0,
                status429: 0,
                status429_share: 0.0,
                top_endpoints: Vec::new(),
            })
            .collect();
        gone.sort_by(|a, b| a.oauth_client_id.cmp(&b.oauth_client_id));
        clients.extend(gone);
        clients
    }
}

fn compare(requests: i64, status429: i64, before: &Client) -> Previous {
    let (now, then) = (
        share(status429, requests),
        share(before.status429, before.requests),
    );
    Previous {
        request_count: before.requests,
        status429: before.status429,
        status429_share: then,
        change: match (before.requests > 0, requests > 0) {
            (false, _) => Change::New,
            (true, false) => Change::Gone,
            (true, true) => Change::Changed,
        },
        request_count_change: (before.requests > 0)
            .then(|| (requests as f64 - before.requests as f64) / before.requests as f64),
        status429_share_change: now - then,
    }
}

/// The org's figures over a report's clients: the clients that called, their requests
/// and 429s (saturating: a sum of huge counts is the largest there is, never a panic).
pub struct Totals {
    pub calling: usize,
    pub requests: i64,
    pub limited: i64,
}

impl Totals {
    pub fn of(clients: &[ClientReport]) -> Self {
        Self {
            calling: clients.iter().filter(|c| c.request_count > 0).count(),
            requests: clients
                .iter()
                .fold(0i64, |sum, c| sum.saturating_add(c.request_count)),
            limited: clients
                .iter()
                .fold(0i64, |sum, c| sum.saturating_add(c.status429)),
        }
    }
}

pub fn share(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_and_endpoints_are_ranked_by_429s_then_requests() {
        let mut t = Tally::default();
        t.add("a", "A", "GET", "x", 100, 0);
        t.add("a", "A", "GET", "y", 10, 5);
        t.add("a", "A", "GET", "x", 100, 1);
        t.add("b", "B", "POST", "z", 1_000, 5);
        t.add("c", "C", "POST", "z", 50, 6);
        let report = t.finish(1, None, None);
        let ids: Vec<&str> = report.iter().map(|c| c.oauth_client_id.as_str()).collect();
        // a and c both have 6 429s; a has more requests. b has 5.
        assert_eq!(ids, ["a", "c", "b"]);
        assert_eq!(report[0].request_count, 210);
        assert_eq!(report[0].top_endpoints.len(), 1, "--top 1");
        assert_eq!(
            report[0].top_endpoints[0].template_uri, "y",
            "most 429s first"
        );
        assert!((report[0].status429_share - 6.0 / 210.0).abs() < 1e-12);
        assert!(report[0].previous.is_none() && report[0].daily429.is_empty());
    }

    #[test]
    fn the_change_against_the_previous_window_names_new_gone_and_new_endpoints() {
        let day = |d: &str| d.parse::<NaiveDate>().unwrap();
        let days = DayWindow::new(day("2026-11-24"), day("2026-11-26")).unwrap();
        let mut now = Tally::default();
        now.add("a", "A", "GET", "x", 138, 10);
        now.add("a", "A", "GET", "y", 1, 0);
        now.add("n", "N", "GET", "x", 5, 0);
        now.add_day("a", "A", day("2026-11-24"), 2);
        now.add_day("a", "A", day("2026-11-26"), 8);
        let mut before = Tally::default();
        before.add("a", "A", "GET", "x", 100, 5);
        before.add("g", "G", "GET", "x", 7, 1);
        let report = now.finish(5, Some(days), Some(before));
        let by_id = |id: &str| report.iter().find(|c| c.oauth_client_id == id).unwrap();
        let a = by_id("a");
        assert_eq!(a.daily429, vec![2, 0, 8]);
        let p = a.previous.as_ref().unwrap();
        assert!((p.request_count_change.unwrap() - 0.39).abs() < 1e-12);
        // 10/139 now against 5/100 before.
        assert!((p.status429_share_change - (10.0 / 139.0 - 0.05)).abs() < 1e-12);
        let new_endpoints: Vec<&str> = a
            .top_endpoints
            .iter()
            .filter(|e| e.new)
            .map(|e| e.template_uri.as_str())
            .collect();
        assert_eq!(new_endpoints, ["y"]);
        assert_eq!(by_id("n").previous.as_ref().unwrap().change, Change::New);
        let g = by_id("g");
        assert_eq!(g.previous.as_ref().unwrap().change, Change::Gone);
        assert_eq!(g.request_count, 0);
        assert_eq!(
            report.last().unwrap().oauth_client_id,
            "g",
            "gone ones last"
        );
    }
}
