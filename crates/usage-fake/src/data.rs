//! The org's usage, from which every answer is cut, so that two queries over the same days
//! agree as they do on the service: a query grouped by OAuth client sums to the same totals
//! as the ungrouped one, and asking twice gives the same numbers.
//!
//! The org has `series`: one OAuth client calling one endpoint as one user (or as no user,
//! under client credentials). Each series has seeded counts for every day from 2018-01-01
//! (where the service's history starts) up to yesterday (its data lags about a day); never
//! for today or a day to come. A query keeps the series its scope and filters admit, sums
//! their days inside the interval into one row per (group key, date bucket), and drops
//! nothing else: with no groupBy and no granularity that is one total row.
//!
//! The first four series are the fake's own OAuth client's (the one its credentials log in
//! as, [`OWN_CLIENT`]): a reporting tool's modest traffic to the Usage API, as in a real org,
//! where the client a program logs in as is one of the org's clients and its usage queries
//! count in it. The next 240 are the org's integrations (every integration × user × endpoint
//! below, in a seeded order); more than that, for benchmarks, call synthetic endpoints
//! `api/v2/fake/synthetic{n}`. So a query grouped by client, user and templateUri without
//! granularity returns exactly as many rows as the org has series.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;

use chrono::{Datelike, Days, NaiveDate};
use usage_models::Granularity;

use crate::ids::mix;

/// (templateUri, httpMethod): what integrations call most. No leading slash, as the
/// service answers.
const ENDPOINTS: &[(&str, &str)] = &[
    ("api/v2/analytics/conversations/details/query", "POST"),
    ("api/v2/analytics/conversations/aggregates/query", "POST"),
    ("api/v2/routing/queues", "GET"),
    ("api/v2/routing/queues/{queueId}/members", "GET"),
    ("api/v2/users", "GET"),
    ("api/v2/users/{userId}", "GET"),
    ("api/v2/users/{userId}/presences/purecloud", "PATCH"),
    ("api/v2/conversations/{conversationId}", "GET"),
    (
        "api/v2/conversations/calls/{conversationId}/participants/{participantId}",
        "PATCH",
    ),
    ("api/v2/recording/jobs", "POST"),
    (
        "api/v2/workforcemanagement/managementunits/{muId}/schedules",
        "GET",
    ),
    ("api/v2/outbound/campaigns/{campaignId}", "PUT"),
    ("api/v2/flows/datatables/{datatableId}/rows", "GET"),
    ("api/v2/notifications/channels", "POST"),
    ("api/v2/usage/query", "POST"),
    ("api/v2/authorization/roles", "GET"),
    // The Usage API as a reporting tool calls it: only the fake's own client does.
    ("api/v2/usage/query/{executionId}/results", "GET"),
    ("api/v2/usage/aggregates/query/jobs", "POST"),
    ("api/v2/usage/aggregates/query/jobs/{jobId}", "GET"),
];

/// The endpoints the integrations call: the first 16 of [`ENDPOINTS`].
const INTEGRATION_ENDPOINTS: usize = 16;

/// The methods synthetic endpoints take in turn.
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// (client id, client name): the org's OAuth clients, the only ones the fake knows. A
/// client query, summary or job for another client id is a 404, as the service answers.
pub const OAUTH_CLIENTS: &[(&str, &str)] = &[
    ("4c4e8a4a-5b1e-4b8e-9d4b-0f1e2d3c4b5a", "Nightly WFM export"),
    ("9f0e1d2c-3b4a-4968-8766-554433221100", "CRM screen pop"),
    ("1a2b3c4d-5e6f-4a0b-9c1d-2e3f4a5b6c7d", "Data lake sync"),
    ("7d6c5b4a-3f2e-41d0-8b9a-8f7e6d5c4b3a", "Wallboard"),
    ("0f9e8d7c-6b5a-4493-a281-706f5e4d3c2b", "QA scoring bot"),
    OWN_CLIENT,
];

/// (client id, client name) of the OAuth client the fake's default credentials log in as:
/// one of the org's clients, so that a program asking for its own client's usage gets it.
pub const OWN_CLIENT: (&str, &str) = ("5e1f0c2a-8d7b-4c3e-9a6f-2b1d0e9c8a7f", "Usage reporting");

/// The clients the seeded series are spread over: all but the fake's own.
const INTEGRATIONS: usize = 5;
const OWN: u8 = INTEGRATIONS as u8;
const _: () = assert!(OAUTH_CLIENTS.len() == INTEGRATIONS + 1);

/// The own client's series, (index in [`ENDPOINTS`], usual requests a day): a reporting
/// tool's queries, their polls and its aggregates jobs, all under client credentials.
const OWN_SERIES: [(u32, f64); 4] = [(14, 24.0), (16, 70.0), (17, 6.0), (18, 30.0)];

/// The platform each client's requests are made on, by client. Upstream documents the
/// field (`platform`, a free string) but lists no values: these are the fake's.
const PLATFORMS: &[&str] = &["API", "Embedded", "API", "Web", "API", "API"];

/// The users requests are made as; `""` is none (a client-credentials grant).
const USERS: &[&str] = &[
    "c0ffee00-1111-4222-8333-444455556666",
    "deadbeef-7777-4888-9999-aaaabbbbcccc",
    "",
];

/// The users that sign in to the org's apps (every user but none).
pub(crate) const SIGNED_IN_USERS: [&str; 2] = [USERS[0], USERS[1]];

/// The org every row belongs to.
pub(crate) const ORGANIZATION_ID: &str = "8a1b2c3d-0000-4000-8000-00000000cafe";

const REAL_SERIES: usize = INTEGRATIONS * 3 * INTEGRATION_ENDPOINTS;

/// The org's real-looking series: the own client's 4, then every integration × user ×
/// endpoint (240). More are synthetic.
pub const ORG_SERIES: usize = OWN_SERIES.len() + REAL_SERIES;
const _: () = assert!(INTEGRATIONS * USERS.len() * INTEGRATION_ENDPOINTS == REAL_SERIES);
/// The user of client-credentials grants (none).
const NO_USER: u8 = 2;
const _: () = assert!(USERS[NO_USER as usize].is_empty());
const _: () = assert!(PLATFORMS.len() == OAUTH_CLIENTS.len());

/// The first day with data: the service's history starts in 2018.
fn first_day_with_data() -> NaiveDate {
    NaiveDate::from_ymd_opt(2018, 1, 1).unwrap_or(NaiveDate::MIN)
}

/// The last day with data: yesterday (UTC), as the service's data lags about a day.
pub(crate) fn last_day_with_data() -> NaiveDate {
    let today = chrono::Utc::now().date_naive();
    today.pred_opt().unwrap_or(today)
}

/// `(id, name)` of one of the org's OAuth clients; `None` for a client the org does not
/// have.
pub(crate) fn known_client(id: &str) -> Option<(&'static str, &'static str)> {
    OAUTH_CLIENTS.iter().copied().find(|(c, _)| *c == id)
}

fn client_index(id: &str) -> Option<u8> {
    OAUTH_CLIENTS
        .iter()
        .position(|(c, _)| *c == id)
        .and_then(|i| u8::try_from(i).ok())
}

/// A templateUri: one of the real-looking ones, or a synthetic one past them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Template(u32);

impl Template {
    fn method(self) -> &'static str {
        match ENDPOINTS.get(self.0 as usize) {
            Some(&(_, method)) => method,
            None => METHODS[self.0 as usize % METHODS.len()],
        }
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match ENDPOINTS.get(self.0 as usize) {
            Some(&(uri, _)) => f.write_str(uri),
            None => write!(f, "api/v2/fake/synthetic{}", self.0),
        }
    }
}

impl serde::Serialize for Template {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One client calling one endpoint as one user.
#[derive(Clone, Copy)]
struct Series {
    client: u8,
    user: u8,
    template: Template,
}

/// Integration series `i` of the org (the own client's come before them); `order` is the
/// seeded order of the real ones.
fn series_of(order: &[u16], i: usize) -> Series {
    let (combo, template) = match order.get(i) {
        Some(&c) => (usize::from(c), usize::from(c) / 15),
        None => (i - REAL_SERIES, ENDPOINTS.len() + (i - REAL_SERIES) / 15),
    };
    Series {
        client: (combo % INTEGRATIONS) as u8,
        user: (combo / INTEGRATIONS % 3) as u8,
        template: Template(u32::try_from(template).unwrap_or(u32::MAX)),
    }
}

/// The org's series `i`: the own client's first, then the integrations', each with its
/// traits.
fn series_and_traits(order: &[u16], seed: u64, i: usize) -> (Series, Traits) {
    match OWN_SERIES.get(i) {
        Some(&(template, volume)) => (
            Series {
                client: OWN,
                user: NO_USER,
                template: Template(template),
            },
            Traits::own(seed, i, volume),
        ),
        None => {
            let i = i - OWN_SERIES.len();
            (series_of(order, i), Traits::of(seed, i))
        }
    }
}

fn real_order(seed: u64) -> Vec<u16> {
    let mut order: Vec<u16> = (0..REAL_SERIES as u16).collect();
    fastrand::Rng::with_seed(seed).shuffle(&mut order);
    order
}

/// What a row's dimensions can be grouped by, across the query, job and simple search
/// bodies (each names them its own way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dim {
    Client,
    Organization,
    User,
    Template,
    Method,
    Platform,
}

/// A row's group key: the grouped dimensions, `None` where not grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct Key {
    client: Option<u8>,
    organization: bool,
    user: Option<u8>,
    template: Option<u32>,
    method: Option<&'static str>,
    platform: Option<&'static str>,
}

impl Key {
    /// `(id, name)` of the client, when grouped by client.
    pub fn client(&self) -> Option<(&'static str, &'static str)> {
        self.client.map(|c| OAUTH_CLIENTS[usize::from(c)])
    }

    /// The organization id, when grouped by organization.
    pub fn organization(&self) -> Option<&'static str> {
        self.organization.then_some(ORGANIZATION_ID)
    }

    /// The user id (`""` for none), when grouped by user.
    pub fn user(&self) -> Option<&'static str> {
        self.user.map(|u| USERS[usize::from(u)])
    }

    pub fn template(&self) -> Option<Template> {
        self.template.map(Template)
    }

    pub fn method(&self) -> Option<&'static str> {
        self.method
    }

    pub fn platform(&self) -> Option<&'static str> {
        self.platform
    }

    /// The order rows come in: by client name, user, templateUri, method, platform, each
    /// as a rank so that sorting a million rows compares integers, not text.
    fn rank(&self) -> (u8, u8, u32, &'static str, &'static str) {
        let ranks = ranks();
        (
            self.client.map_or(0, |c| ranks.clients[usize::from(c)] + 1),
            self.user.map_or(0, |u| ranks.users[usize::from(u)] + 1),
            self.template
                .map_or(0, |t| match ranks.templates.get(t as usize) {
                    Some(&r) => u32::from(r) + 1,
                    None => t.saturating_add(1),
                }),
            self.method.unwrap_or(""),
            self.platform.unwrap_or(""),
        )
    }
}

/// Each client, user and real template's place in text order.
struct Ranks {
    clients: [u8; OAUTH_CLIENTS.len()],
    users: [u8; USERS.len()],
    templates: [u8; ENDPOINTS.len()],
}

fn ranks() -> &'static Ranks {
    fn places<const N: usize>(texts: [&str; N]) -> [u8; N] {
        let mut order: Vec<usize> = (0..N).collect();
        order.sort_by_key(|&i| texts[i]);
        let mut places = [0u8; N];
        for (place, i) in order.into_iter().enumerate() {
            places[i] = place as u8;
        }
        places
    }
    static RANKS: std::sync::OnceLock<Ranks> = std::sync::OnceLock::new();
    RANKS.get_or_init(|| Ranks {
        clients: places(std::array::from_fn(|i| OAUTH_CLIENTS[i].1)),
        users: places(std::array::from_fn(|i| USERS[i])),
        templates: places(std::array::from_fn(|i| ENDPOINTS[i].0)),
    })
}

/// A row's request counts. 429s are a subset of the 4xx; the statuses sum to `requests`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub requests: i64,
    pub status200: i64,
    pub status300: i64,
    pub status400: i64,
    pub status429: i64,
    pub status500: i64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Self) {
        self.requests += o.requests;
        self.status200 += o.status200;
        self.status300 += o.status300;
        self.status400 += o.status400;
        self.status429 += o.status429;
        self.status500 += o.status500;
    }
}

/// A series' traits, drawn once: how busy it is and whether it meets the rate limit.
struct Traits {
    seed: u64,
    volume: f64,
    /// The share of requests the rate limit refuses (0 for most series).
    limited: f64,
    failing: bool,
    redirected: bool,
}

/// A uniform draw in [0, 1) from 53 bits of `x`.
fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

impl Traits {
    /// The own client's series `i`: about `volume` requests a day, never near a limit and
    /// never failing, as a reporting tool that polls politely.
    fn own(seed: u64, i: usize, volume: f64) -> Self {
        Self {
            seed: mix(seed ^ 0x05e1_f0c2 ^ mix(i as u64)),
            volume,
            limited: 0.0,
            failing: false,
            redirected: false,
        }
    }

    fn of(seed: u64, i: usize) -> Self {
        let seed = mix(seed ^ mix(i as u64));
        let a = mix(seed);
        let b = mix(a);
        // Heavy-tailed daily volumes: most series are small, a few integrations dominate.
        // The busiest meet the rate limit, and a few smaller ones burst into it; the share
        // refused is heavy-tailed too, so one integration stands out.
        let volume = unit(a).powi(4) * 8_000.0 + 1.0;
        let limited = if volume > 4_000.0 || b & 0xff < 13 {
            0.01 + unit(mix(b)).powi(2) * 0.3
        } else {
            0.0
        };
        Self {
            seed,
            volume,
            limited,
            failing: (b >> 8) & 0xff < 25,
            redirected: (b >> 16) & 0xff < 20,
        }
    }

    /// The counts of one day (days since the common era), its client's shape that day
    /// applied.
    fn day(&self, day: i32, shape: Shape) -> Counts {
        let a = mix(self.seed ^ (day as u64).wrapping_mul(0x9e37_79b9));
        let b = mix(a);
        let requests = (self.volume * shape.volume * (0.5 + unit(a))) as i64 + 1;
        let share = |bits: u64, over: i64| ((bits & 0xffff) as i64 * (requests / over)) >> 16;
        let limited = (self.limited + shape.limited).min(0.6);
        let status429 = (requests as f64 * limited * (0.5 + unit(mix(b)))) as i64;
        let status400 = status429 + share(b >> 16, 50);
        let status500 = if self.failing { share(b >> 32, 200) } else { 0 };
        // Redirects are rare but real (the service counts them): not always zero.
        let status300 = if self.redirected {
            share(b >> 48, 100)
        } else {
            0
        };
        Counts {
            requests,
            status200: requests - status400 - status500 - status300,
            status300,
            status400,
            status429,
            status500,
        }
    }
}

/// The clients whose traffic follows the contact centre's (agents' screens, wallboards, QA
/// of the day's calls): quiet at weekends, up and down with the day's calls. The others
/// (the nightly export, the data lake) run on schedules, weekends much like weekdays.
const ATTENDED: [bool; OAUTH_CLIENTS.len()] = [false, true, false, true, true, false];
/// The client that grows through the year: the data lake takes more tables each month.
const GROWING: usize = 2;
/// The client that runs away now and then: a retry loop for a few days, into the rate limit.
const RUNAWAY: usize = 4;
/// The client with a month-end batch: the export of the month's schedules and adherence.
const MONTH_END: usize = 0;

/// How one client's traffic on one day differs from its usual: the demo org's shape, so
/// that the weekly pattern, the trend and the outliers a real org has are there to see.
/// A function of the seed, the client and the date alone, so a day's counts never change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Shape {
    /// Times its usual volume.
    pub volume: f64,
    /// Added to the share the rate limit refuses.
    pub limited: f64,
}

impl Shape {
    pub fn of(seed: u64, client: usize, day: NaiveDate) -> Self {
        let mut volume = 1.0;
        let mut limited = 0.0;
        let weekday = day.weekday().num_days_from_monday();
        if ATTENDED.get(client).copied().unwrap_or(false) {
            // Monday's backlog, Friday's early finish, a skeleton crew at weekends.
            volume *= [1.12, 1.04, 1.0, 0.98, 0.9, 0.32, 0.2][weekday as usize];
            // The day's calls: one draw per day for the whole org, within ±12 %.
            let calls = mix(seed ^ 0xca11 ^ (day.num_days_from_ce() as u64).wrapping_mul(31));
            volume *= 0.88 + 0.24 * unit(calls);
        } else if weekday >= 5 {
            volume *= 0.85;
        }
        if client == GROWING {
            // 60 % a year, compounded daily, from the start of 2026 (and back before it),
            // within a quarter and four times the base.
            let from = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or(NaiveDate::MIN);
            let years = (day - from).num_days() as f64 / 365.0;
            volume *= 1.6f64.powf(years).clamp(0.25, 4.0);
        }
        if client == RUNAWAY {
            // In about one month in three, a deploy with a retry loop: three to five days
            // at five times the traffic, much of it refused, until someone rolls it back.
            let month = u64::from(day.year_ce().1) * 12 + u64::from(day.month0());
            let draw = mix(seed ^ 0x0ff_107 ^ month.wrapping_mul(0x9e37_79b9));
            let start = 3 + (draw >> 8) % 20;
            let days = 3 + (draw >> 16) % 3;
            let d = u64::from(day.day());
            if draw.is_multiple_of(3) && d >= start && d < start + days {
                volume *= 5.0;
                limited += 0.3;
            }
        }
        if client == MONTH_END {
            let last = day
                .succ_opt()
                .is_none_or(|next| next.month() != day.month());
            let before_last = day
                .checked_add_days(Days::new(2))
                .is_none_or(|next| next.month() != day.month());
            if last {
                volume *= 6.0;
            } else if before_last {
                volume *= 2.5;
            }
        }
        Self { volume, limited }
    }
}

/// A row of an answer, before it is written in one API's shape.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cell {
    pub key: Key,
    pub date: Option<NaiveDate>,
    pub counts: Counts,
}

/// The filters the jobs and simple search offer; empty lists filter nothing.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filters {
    pub template_uris: Vec<String>,
    pub http_methods: Vec<String>,
    pub platforms: Vec<String>,
    pub user_ids: Vec<String>,
    pub oauth_client_ids: Vec<String>,
    pub oauth_client_names: Vec<String>,
    pub organization_ids: Vec<String>,
}

/// What an answer is cut from: the scope, the days, the grouping and the filters.
#[derive(Debug, Clone)]
pub(crate) struct Cut {
    /// The one client a client query sees; `None`: the whole org.
    pub client: Option<String>,
    pub dims: Vec<Dim>,
    pub granularity: Option<Granularity>,
    /// The first and the last day of the interval, both included.
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub filters: Filters,
    /// The jobs' `sortBy`: fields, each descending or not, applied after the default order.
    pub sort: Vec<(SortField, bool)>,
}

impl Cut {
    fn grouped(&self, d: Dim) -> bool {
        self.dims.contains(&d)
    }

    fn admits(&self, s: &Series, scope: Option<u8>) -> bool {
        let f = &self.filters;
        let any = |list: &[String], value: &str| list.is_empty() || list.iter().any(|v| v == value);
        let (id, name) = OAUTH_CLIENTS[usize::from(s.client)];
        scope.is_none_or(|c| c == s.client)
            && any(&f.oauth_client_ids, id)
            && any(&f.oauth_client_names, name)
            && any(&f.user_ids, USERS[usize::from(s.user)])
            && any(&f.http_methods, s.template.method())
            && any(&f.platforms, PLATFORMS[usize::from(s.client)])
            && any(&f.organization_ids, ORGANIZATION_ID)
            && (f.template_uris.is_empty() || any(&f.template_uris, &s.template.to_string()))
    }

    fn key(&self, s: &Series) -> Key {
        Key {
            client: self.grouped(Dim::Client).then_some(s.client),
            organization: self.grouped(Dim::Organization),
            user: self.grouped(Dim::User).then_some(s.user),
            template: self.grouped(Dim::Template).then_some(s.template.0),
            method: self.grouped(Dim::Method).then(|| s.template.method()),
            platform: self
                .grouped(Dim::Platform)
                .then(|| PLATFORMS[usize::from(s.client)]),
        }
    }

    /// The date a day's counts are reported under: the start of its bucket, never before
    /// the interval's first day. Weeks start on Monday and months on the 1st (calendar
    /// months, not 30 days).
    fn bucket(&self, day: NaiveDate) -> Option<NaiveDate> {
        let start = match self.granularity.as_ref()? {
            Granularity::Week => day
                .checked_sub_days(Days::new(u64::from(day.weekday().num_days_from_monday())))
                .unwrap_or(day),
            Granularity::Month => day.with_day(1).unwrap_or(day),
            _ => day,
        };
        Some(start.max(self.first))
    }

    /// Every row of the answer over an org of `series` series seeded with `seed`, ordered by
    /// date, then client name, user, templateUri and method.
    pub fn rows(&self, seed: u64, series: usize) -> Vec<Cell> {
        self.rows_until(seed, series, last_day_with_data())
    }

    /// The rows up to `until` rather than the last day with data: the day so far, which
    /// the fresher families (the near-limit records, the events) answer for while the
    /// usage lags a day.
    pub(crate) fn rows_until(&self, seed: u64, series: usize, until: NaiveDate) -> Vec<Cell> {
        let first = self.first.max(first_day_with_data());
        let last = self.last.min(until);
        if first > last {
            return Vec::new();
        }
        let scope = match &self.client {
            Some(id) => match client_index(id) {
                Some(c) => Some(c),
                None => return Vec::new(),
            },
            None => None,
        };
        // Grouped by client (or scoped to one), user and templateUri, every series is a key
        // of its own and nothing needs merging.
        let distinct = (scope.is_some() || self.grouped(Dim::Client))
            && self.grouped(Dim::User)
            && self.grouped(Dim::Template);
        let order = real_order(seed);
        // Each client's shape, day by day, drawn once for every series of it.
        let shapes: Vec<[Shape; OAUTH_CLIENTS.len()]> = first
            .iter_days()
            .take_while(|d| *d <= last)
            .map(|d| std::array::from_fn(|c| Shape::of(seed, c, d)))
            .collect();
        let mut cells = Vec::new();
        for i in 0..series {
            let (s, traits) = series_and_traits(&order, seed, i);
            if !self.admits(&s, scope) {
                continue;
            }
            let key = self.key(&s);
            let mut open: Option<Cell> = None;
            for (day, shape) in first.iter_days().zip(&shapes) {
                let counts = traits.day(day.num_days_from_ce(), shape[usize::from(s.client)]);
                let date = self.bucket(day);
                match &mut open {
                    Some(cell) if cell.date == date => cell.counts += counts,
                    _ => {
                        cells.extend(open.take());
                        open = Some(Cell { key, date, counts });
                    }
                }
            }
            cells.extend(open);
        }
        if !distinct {
            cells = merge(cells);
        }
        cells.sort_unstable_by_key(|c| (c.date, c.key.rank()));
        if !self.sort.is_empty() {
            cells.sort_by(|a, b| {
                self.sort
                    .iter()
                    .fold(Ordering::Equal, |o, &(field, descending)| {
                        o.then_with(|| {
                            let by = field.compare(a, b);
                            if descending { by.reverse() } else { by }
                        })
                    })
            });
        }
        cells
    }
}

/// A field a job's rows can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortField {
    Date,
    Platform,
    HttpMethod,
    TemplateUri,
    OauthClientId,
    OauthClientName,
    UserId,
    OrganizationId,
    RequestCount,
    Status200,
    Status300,
    Status400,
    Status429,
    Status500,
}

impl SortField {
    /// A `sortBy.fieldName`: a row's field (`requestCount`, `oauthClient.name`) or the
    /// metric or groupBy value naming it (`Requests`, `TemplateUri`), in any case.
    pub fn parse(name: &str) -> Option<Self> {
        let name: String = name
            .chars()
            .filter(|c| *c != '.')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        Some(match name.as_str() {
            "date" => Self::Date,
            "platform" => Self::Platform,
            "httpmethod" => Self::HttpMethod,
            "templateuri" => Self::TemplateUri,
            "oauthclientid" | "oauthclient" => Self::OauthClientId,
            "oauthclientname" => Self::OauthClientName,
            "userid" | "user" => Self::UserId,
            "organizationid" => Self::OrganizationId,
            "requestcount" | "requests" => Self::RequestCount,
            "status200" => Self::Status200,
            "status300" => Self::Status300,
            "status400" => Self::Status400,
            "status429" => Self::Status429,
            "status500" => Self::Status500,
            _ => return None,
        })
    }

    fn compare(self, a: &Cell, b: &Cell) -> Ordering {
        let (ka, kb) = (&a.key, &b.key);
        let (ca, cb) = (&a.counts, &b.counts);
        match self {
            Self::Date => a.date.cmp(&b.date),
            Self::Platform => ka.platform.cmp(&kb.platform),
            Self::HttpMethod => ka.method.cmp(&kb.method),
            Self::TemplateUri => match (ka.template(), kb.template()) {
                (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
                (x, y) => x.is_some().cmp(&y.is_some()),
            },
            Self::OauthClientId => ka.client().map(|c| c.0).cmp(&kb.client().map(|c| c.0)),
            Self::OauthClientName => ka.client().map(|c| c.1).cmp(&kb.client().map(|c| c.1)),
            Self::UserId => ka.user().cmp(&kb.user()),
            Self::OrganizationId => ka.organization.cmp(&kb.organization),
            Self::RequestCount => ca.requests.cmp(&cb.requests),
            Self::Status200 => ca.status200.cmp(&cb.status200),
            Self::Status300 => ca.status300.cmp(&cb.status300),
            Self::Status400 => ca.status400.cmp(&cb.status400),
            Self::Status429 => ca.status429.cmp(&cb.status429),
            Self::Status500 => ca.status500.cmp(&cb.status500),
        }
    }
}

/// One cell per (key, date), summed.
fn merge(cells: Vec<Cell>) -> Vec<Cell> {
    let mut sums: HashMap<(Key, Option<NaiveDate>), Counts> = HashMap::new();
    for cell in cells {
        *sums.entry((cell.key, cell.date)).or_default() += cell.counts;
    }
    sums.into_iter()
        .map(|((key, date), counts)| Cell { key, date, counts })
        .collect()
}

/// The days an old query's interval covers: from the start's day to the day of the last
/// instant before its end (the end is exclusive).
pub(crate) fn query_days(interval: &usage_models::Interval) -> (NaiveDate, NaiveDate) {
    let last = interval.end - chrono::Duration::milliseconds(1);
    (
        interval.start.date_naive(),
        last.date_naive().max(interval.start.date_naive()),
    )
}

/// The days a job's interval covers: start and end both included, as upstream documents.
pub(crate) fn job_days(interval: &usage_models::Interval) -> (NaiveDate, NaiveDate) {
    (interval.start.date_naive(), interval.end.date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(dims: &[Dim], granularity: Option<Granularity>) -> Cut {
        Cut {
            client: None,
            dims: dims.to_vec(),
            granularity,
            first: NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
            last: NaiveDate::from_ymd_opt(2026, 9, 30).unwrap(),
            filters: Filters::default(),
            sort: Vec::new(),
        }
    }

    fn total(cells: &[Cell]) -> Counts {
        let mut sum = Counts::default();
        for c in cells {
            sum += c.counts;
        }
        sum
    }

    #[test]
    fn every_grouping_sums_to_the_same_total() {
        let all = cut(&[Dim::Client, Dim::User, Dim::Template], None).rows(7, 300);
        assert_eq!(all.len(), 300, "one row per series");
        let one = cut(&[], None).rows(7, 300);
        assert_eq!(one.len(), 1, "no groupBy, no granularity: one total row");
        assert_eq!(total(&all), total(&one));
        let daily = cut(&[Dim::Method], Some(Granularity::Day)).rows(7, 300);
        assert_eq!(total(&daily), total(&one));
        let monthly = cut(&[Dim::Platform], Some(Granularity::Month)).rows(7, 300);
        assert_eq!(total(&monthly), total(&one));
    }

    /// Requests of each client per day over `first..=last`, the whole org's real series.
    fn by_client_day(first: &str, last: &str) -> HashMap<(u8, NaiveDate), i64> {
        let cut = Cut {
            first: first.parse().unwrap(),
            last: last.parse().unwrap(),
            ..cut(&[Dim::Client], Some(Granularity::Day))
        };
        cut.rows(crate::FakeConfig::default().seed, REAL_SERIES)
            .into_iter()
            .map(|c| ((c.key.client.unwrap(), c.date.unwrap()), c.counts.requests))
            .collect()
    }

    #[test]
    fn the_demo_org_has_a_weekly_pattern_a_trend_a_runaway_and_a_month_end() {
        let days = by_client_day("2025-01-01", "2026-10-31");
        let mean = |client: u8, keep: &dyn Fn(NaiveDate) -> bool| {
            let v: Vec<i64> = days
                .iter()
                .filter(|((c, d), _)| *c == client && keep(*d))
                .map(|(_, r)| *r)
                .collect();
            v.iter().sum::<i64>() as f64 / v.len().max(1) as f64
        };
        let weekend = |d: NaiveDate| d.weekday().number_from_monday() > 5;
        // The CRM screen pop follows the agents: weekends a fraction of weekdays.
        let crm = 1;
        let ratio = mean(crm, &weekend) / mean(crm, &|d| !weekend(d));
        assert!((0.15..0.4).contains(&ratio), "weekend/weekday {ratio}");
        // The data lake grows: October 2026 well above January 2025.
        let month = |y: i32, m: u32| move |d: NaiveDate| d.year() == y && d.month() == m;
        let growth = mean(GROWING as u8, &month(2026, 10)) / mean(GROWING as u8, &month(2025, 1));
        assert!(growth > 1.8, "growth {growth}");
        // The nightly export's month-end batch.
        let last_day = |d: NaiveDate| d.succ_opt().unwrap().month() != d.month();
        let batch = mean(MONTH_END as u8, &last_day) / mean(MONTH_END as u8, &|d| d.day() < 20);
        assert!(batch > 4.0, "month end {batch}");
        // The QA bot runs away for a few days in some months, and not in most.
        let months_with_runaway: std::collections::BTreeSet<(i32, u32)> = days
            .keys()
            .filter(|(c, d)| {
                *c == RUNAWAY as u8
                    && Shape::of(crate::FakeConfig::default().seed, RUNAWAY, *d).volume > 4.0
            })
            .map(|(_, d)| (d.year(), d.month()))
            .collect();
        assert!(
            (3..=14).contains(&months_with_runaway.len()),
            "{months_with_runaway:?}"
        );
        let runaway = mean(RUNAWAY as u8, &|d| {
            Shape::of(crate::FakeConfig::default().seed, RUNAWAY, d).volume > 4.0 && !weekend(d)
        }) / mean(RUNAWAY as u8, &|d| !weekend(d));
        assert!(runaway > 3.0, "runaway {runaway}");
    }

    #[test]
    fn synthetic_series_are_distinct() {
        let rows = cut(&[Dim::Client, Dim::User, Dim::Template], None).rows(1, 5_000);
        assert_eq!(rows.len(), 5_000);
        let keys: std::collections::HashSet<Key> = rows.iter().map(|c| c.key).collect();
        assert_eq!(keys.len(), 5_000);
    }
}
