//! `check`'s rules: limits on the 429 share, the 429 count and the growth of requests
//! against the window before, per OAuth client or per endpoint, optionally for some clients
//! only or all but some. Given as flags or in a TOML file; a rule that cannot mean anything
//! (an unknown key, a share over 100 %, a negative count) is refused before anything is sent.
//!
//! ```toml
//! [[rule]]
//! max_429_share = "5%"      # or max_429 = 1000, or max_growth = "50%"
//! per = "endpoint"          # or "client" (the default)
//! clients = ["1a2b..."]     # only these; or exclude = [...]
//!
//! [allocation]              # the share of the billing period's fair-use allocation
//! max_share = "80%"
//! licenses = "cx3=250"
//! ```

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::analysis::tally::ClientReport;
use crate::exit::Failure;

/// What a rule is judged on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize, ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Per {
    #[default]
    Client,
    Endpoint,
}

/// What a rule limits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "limit", content = "value")]
pub enum Limit {
    /// 429s per request, 0.0 to 1.0.
    Max429Share(f64),
    /// 429s in the window.
    Max429(u64),
    /// Requests now against the window before, as a fraction: 0.5 is +50 %.
    MaxGrowth(f64),
    /// Hours near any one rate limit in the window (per client only).
    MaxLimitHours(u64),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(flatten)]
    pub limit: Limit,
    pub per: Per,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

impl Rule {
    fn applies_to(&self, client_id: &str) -> bool {
        (self.clients.is_empty() || self.clients.iter().any(|c| c == client_id))
            && !self.exclude.iter().any(|c| c == client_id)
    }

    pub fn needs_previous(&self) -> bool {
        matches!(self.limit, Limit::MaxGrowth(_))
    }

    /// Whether it is judged on the rate-limit records.
    pub fn needs_limits(&self) -> bool {
        matches!(self.limit, Limit::MaxLimitHours(_))
    }
}

/// `5%`, `5 %`, `0.5%` or `5`: a percentage, as a fraction.
pub fn parse_percent(text: &str, what: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%').trim();
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{what} {text:?}: give a percentage such as 5%"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("{what} {text:?}: a percentage of 0 or more"));
    }
    Ok(value / 100.0)
}

pub fn share_limit(text: &str, what: &str) -> Result<f64, String> {
    let share = parse_percent(text, what)?;
    if share > 1.0 {
        return Err(format!("{what} {text:?}: a share is at most 100%"));
    }
    Ok(share)
}

/// One rule of the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRule {
    max_429_share: Option<String>,
    max_429: Option<i64>,
    max_growth: Option<String>,
    #[serde(default)]
    per: Per,
    #[serde(default)]
    clients: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
}

/// The `[limits]` table: the most hours a client may spend near a rate limit.
///
/// ```toml
/// [limits]
/// max_hours = 10
/// clients = ["..."]   # or exclude = ["..."]
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    max_hours: i64,
    #[serde(default)]
    clients: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    rule: Vec<FileRule>,
    allocation: Option<FileAllocation>,
    limits: Option<FileLimits>,
}

/// The `[allocation]` table: a limit on the share of the billing period's fair-use
/// allocation, and how the allocation is known.
///
/// ```toml
/// [allocation]
/// max_share = "80%"            # projected at the period's end; to_date = true for so far
/// licenses = "cx3=250,cx1=40"  # or allocation = 36000000
/// billing_day = 21
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAllocation {
    pub max_share: String,
    #[serde(default)]
    pub to_date: bool,
    pub licenses: Option<String>,
    pub allocation: Option<u64>,
    pub allowances: Option<std::path::PathBuf>,
    pub billing_day: Option<u32>,
}

fn parse_file(text: &str, place: &str) -> Result<File, Failure> {
    toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|span| text[..span.start.min(text.len())].lines().count().max(1))
            .map(|n| format!(" line {n}"))
            .unwrap_or_default();
        Failure::Usage(format!("--rules {place}{line}: {}", e.message()))
    })
}

/// The `[allocation]` table of a rules file, if it has one.
pub fn allocation_from_toml(text: &str, place: &str) -> Result<Option<FileAllocation>, Failure> {
    Ok(parse_file(text, place)?.allocation)
}

fn count_limit(n: i64, what: &str) -> Result<u64, String> {
    u64::try_from(n).map_err(|_| format!("{what} {n}: a count of 0 or more"))
}

/// The rules of a TOML file's text; `place` names it in messages.
pub fn from_toml(text: &str, place: &str) -> Result<Vec<Rule>, Failure> {
    let file = parse_file(text, place)?;
    let mut rules = Vec::new();
    for (n, rule) in file.rule.into_iter().enumerate() {
        let at = |what: &str| format!("--rules {place}: rule {}: {what}", n + 1);
        let mut limits = Vec::new();
        if let Some(share) = &rule.max_429_share {
            limits.push(Limit::Max429Share(
                share_limit(share, &at("max_429_share")).map_err(Failure::Usage)?,
            ));
        }
        if let Some(count) = rule.max_429 {
            limits.push(Limit::Max429(
                count_limit(count, &at("max_429")).map_err(Failure::Usage)?,
            ));
        }
        if let Some(growth) = &rule.max_growth {
            limits.push(Limit::MaxGrowth(
                parse_percent(growth, &at("max_growth")).map_err(Failure::Usage)?,
            ));
        }
        if limits.is_empty() {
            return Err(Failure::Usage(at(
                "no limit: give max_429_share, max_429 or max_growth",
            )));
        }
        for limit in limits {
            rules.push(Rule {
                limit,
                per: rule.per,
                clients: rule.clients.clone(),
                exclude: rule.exclude.clone(),
            });
        }
    }
    if let Some(limits) = file.limits {
        let at = format!("--rules {place}: [limits] max_hours");
        rules.push(Rule {
            limit: Limit::MaxLimitHours(
                count_limit(limits.max_hours, &at).map_err(Failure::Usage)?,
            ),
            per: Per::Client,
            clients: limits.clients,
            exclude: limits.exclude,
        });
    }
    Ok(rules)
}

/// A rule that could not be judged, and why: the data it rests on could not be read (the
/// rate-limit aggregates refused, a dataset without them, the window before out of reach).
/// It never passes: `check` ends with its own exit code, so a gate cannot go green on
/// missing data.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotJudged {
    pub rule: Rule,
    pub not_judged: String,
}

impl NotJudged {
    /// One line for people: `not judged: maxLimitHours 10 per client: why`.
    pub fn line(&self) -> String {
        format!(
            "not judged: {} per {}: {}",
            self.rule.limit.name_and_value(),
            match self.rule.per {
                Per::Client => "client",
                Per::Endpoint => "endpoint",
            },
            self.not_judged
        )
    }
}

impl Limit {
    /// The rule's name as JSON and CSV write it, and its value as given.
    pub fn name_and_value(&self) -> String {
        match self {
            Limit::Max429Share(v) => format!("{} {}%", self.name(), v * 100.0),
            Limit::Max429(v) => format!("{} {v}", self.name()),
            Limit::MaxGrowth(v) => format!("{} {}%", self.name(), v * 100.0),
            Limit::MaxLimitHours(v) => format!("{} {v}", self.name()),
        }
    }

    /// The rule's name as JSON and CSV write it.
    pub fn name(&self) -> &'static str {
        match self {
            Limit::Max429Share(_) => "max429Share",
            Limit::Max429(_) => "max429",
            Limit::MaxGrowth(_) => "maxGrowth",
            Limit::MaxLimitHours(_) => "maxLimitHours",
        }
    }
}

/// A rule broken: what, where, the value and the limit.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Breach {
    pub rule: Rule,
    pub oauth_client_id: String,
    pub oauth_client_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_uri: Option<String>,
    /// The rate limit a `maxLimitHours` breach is of: its key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_key: Option<String>,
    /// And the value the near-limit records were made against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_value: Option<i64>,
    /// The share or growth as a fraction, or the count.
    pub value: f64,
    pub limit: f64,
}

impl Breach {
    /// How far over its limit, for putting the worst first.
    fn severity(&self) -> f64 {
        if self.limit > 0.0 {
            self.value / self.limit
        } else {
            f64::INFINITY
        }
    }

    /// One line for people: `429 share of GET api/v2/users for Data lake sync (id): 31.87 %, limit 5.00 %`.
    pub fn line(&self) -> String {
        let (what, value, limit) = match self.rule.limit {
            Limit::Max429Share(_) => (
                "429 share",
                format!("{:.2} %", self.value * 100.0),
                format!("{:.2} %", self.limit * 100.0),
            ),
            Limit::Max429(_) => (
                "429s",
                format!("{}", self.value as u64),
                format!("{}", self.limit as u64),
            ),
            Limit::MaxGrowth(_) => (
                "growth of requests",
                format!("{:+.0} %", self.value * 100.0),
                format!("+{:.0} %", self.limit * 100.0),
            ),
            Limit::MaxLimitHours(_) => {
                let key = self.rate_limit_key.as_deref().unwrap_or("a rate limit");
                let what = match self.rate_limit_value {
                    Some(v) => format!("hours near {key} ({v})"),
                    None => format!("hours near {key}"),
                };
                let client = format!("{} ({})", self.oauth_client_name, self.oauth_client_id);
                return format!(
                    "{what} of {client}: {}, limit {}",
                    self.value as u64, self.limit as u64
                );
            }
        };
        let client = format!("{} ({})", self.oauth_client_name, self.oauth_client_id);
        match (&self.http_method, &self.template_uri) {
            (Some(method), Some(uri)) => {
                format!("{what} of {method} {uri} for {client}: {value}, limit {limit}")
            }
            _ => format!("{what} of {client}: {value}, limit {limit}"),
        }
    }
}

/// Every breach of `rules` in the report, the worst (furthest over its limit) first.
pub fn judge(rules: &[Rule], clients: &[ClientReport]) -> Vec<Breach> {
    let mut breaches = Vec::new();
    for rule in rules {
        for client in clients
            .iter()
            .filter(|c| rule.applies_to(&c.oauth_client_id))
        {
            let breach = |value: f64, limit: f64, endpoint: Option<(&str, &str)>| Breach {
                rule: rule.clone(),
                oauth_client_id: client.oauth_client_id.clone(),
                oauth_client_name: client.oauth_client_name.clone(),
                http_method: endpoint.map(|e| e.0.to_string()),
                template_uri: endpoint.map(|e| e.1.to_string()),
                rate_limit_key: None,
                rate_limit_value: None,
                value,
                limit,
            };
            if let Limit::MaxLimitHours(max) = rule.limit {
                // The hours near any of its limits, each hour once; named by the limit it
                // spent the most hours near (the report's order).
                let hours = client
                    .near_limit_hours
                    .unwrap_or_else(|| crate::analysis::limits::distinct_hours(&client.limits));
                if let Some(near) = client.limits.first()
                    && u64::from(hours) > max
                {
                    breaches.push(Breach {
                        rate_limit_key: Some(near.limit_key.clone()),
                        rate_limit_value: near.limit_value,
                        ..breach(f64::from(hours), max as f64, None)
                    });
                }
                continue;
            }
            match rule.per {
                Per::Client => {
                    let previous = client.previous.as_ref().map(|p| p.request_count);
                    if let Some(value) =
                        measure(rule.limit, client.request_count, client.status429, previous)
                        && value.0 > value.1
                    {
                        breaches.push(breach(value.0, value.1, None));
                    }
                }
                Per::Endpoint => {
                    for e in &client.top_endpoints {
                        if let Some(value) = measure(
                            rule.limit,
                            e.request_count,
                            e.status429,
                            e.previous_request_count,
                        ) && value.0 > value.1
                        {
                            breaches.push(breach(
                                value.0,
                                value.1,
                                Some((&e.http_method, &e.template_uri)),
                            ));
                        }
                    }
                }
            }
        }
    }
    breaches.sort_by(|a, b| b.severity().total_cmp(&a.severity()));
    breaches
}

/// The value a limit is judged on, and the limit; `None` when it cannot be judged (growth
/// without requests before: a new client or endpoint has no growth to speak of).
fn measure(limit: Limit, requests: i64, status429: i64, before: Option<i64>) -> Option<(f64, f64)> {
    match limit {
        Limit::Max429Share(max) => {
            (requests > 0).then(|| (status429 as f64 / requests as f64, max))
        }
        Limit::Max429(max) => Some((status429 as f64, max as f64)),
        Limit::MaxGrowth(max) => {
            let before = before.filter(|b| *b > 0)?;
            Some(((requests as f64 - before as f64) / before as f64, max))
        }
        // Judged on the client's limits, not on counts.
        Limit::MaxLimitHours(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::tally::Tally;

    #[test]
    fn percentages_and_bad_rules() {
        assert_eq!(parse_percent("5%", "x"), Ok(0.05));
        assert_eq!(parse_percent("5 %", "x"), Ok(0.05));
        assert_eq!(parse_percent("150%", "x"), Ok(1.5));
        assert!(parse_percent("-5%", "x").is_err());
        assert!(parse_percent("five", "x").is_err());
        assert!(
            share_limit("120%", "x")
                .unwrap_err()
                .contains("at most 100%")
        );
        let err = |text: &str| match from_toml(text, "r.toml") {
            Err(Failure::Usage(t)) => t,
            other => panic!("{other:?}"),
        };
        assert!(err("[[rule]]\nmax_share = \"5%\"\n").contains("unknown field"));
        assert!(err("[[rule]]\nmax_429_share = \"120%\"\n").contains("at most 100%"));
        assert!(err("[[rule]]\nmax_429 = -3\n").contains("0 or more"));
        assert!(err("[[rule]]\nper = \"client\"\n").contains("no limit"));
        let per = err("[[rule]]\nmax_429 = 1\nper = \"org\"\n");
        assert!(
            per.contains("line 3") && per.contains("`endpoint`"),
            "{per}"
        );
        let rules = from_toml(
            "[[rule]]\nmax_429_share = \"5%\"\nmax_429 = 10\nper = \"endpoint\"\nexclude = [\"b\"]\n",
            "r.toml",
        )
        .unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].limit, Limit::Max429Share(0.05));
        assert_eq!(rules[1].per, Per::Endpoint);
        assert_eq!(rules[1].exclude, vec!["b".to_string()]);
    }

    #[test]
    fn breaches_name_what_where_the_value_and_the_limit_worst_first() {
        let mut now = Tally::default();
        now.add("a", "A", "GET", "x", 100, 30);
        now.add("a", "A", "GET", "y", 100, 1);
        now.add("b", "B", "GET", "x", 100, 8);
        now.add("c", "C", "GET", "x", 300, 0);
        let mut before = Tally::default();
        before.add("c", "C", "GET", "x", 100, 0);
        before.add("a", "A", "GET", "x", 190, 0);
        let clients = now.finish(usize::MAX, None, Some(before));
        let rule = |limit, per| Rule {
            limit,
            per,
            clients: vec![],
            exclude: vec![],
        };
        let share = judge(&[rule(Limit::Max429Share(0.05), Per::Client)], &clients);
        let who: Vec<&str> = share.iter().map(|b| b.oauth_client_id.as_str()).collect();
        assert_eq!(who, ["a", "b"], "a: 15.5 %, b: 8 %, worst first");
        assert_eq!(share[0].line(), "429 share of A (a): 15.50 %, limit 5.00 %");
        let endpoints = judge(&[rule(Limit::Max429(10), Per::Endpoint)], &clients);
        assert_eq!(endpoints.len(), 1);
        assert_eq!(endpoints[0].line(), "429s of GET x for A (a): 30, limit 10");
        let growth = judge(&[rule(Limit::MaxGrowth(0.5), Per::Client)], &clients);
        assert_eq!(growth.len(), 1, "c tripled; a grew 5 %, b is new");
        assert_eq!(
            growth[0].line(),
            "growth of requests of C (c): +200 %, limit +50 %"
        );
        let mut only_b = rule(Limit::Max429Share(0.05), Per::Client);
        only_b.clients = vec!["b".into()];
        assert_eq!(judge(&[only_b], &clients).len(), 1);
        let mut not_a = rule(Limit::Max429Share(0.05), Per::Client);
        not_a.exclude = vec!["a".into()];
        assert_eq!(judge(&[not_a], &clients)[0].oauth_client_id, "b");
    }

    #[test]
    fn limit_hours_are_the_distinct_hours_near_any_limit() {
        use chrono::TimeZone as _;
        let mut now = Tally::default();
        now.add("a", "A", "GET", "x", 100, 30);
        let mut clients = now.finish(usize::MAX, None, None);
        // Limit k1 in hours 0..7 of a day, k2 in hours 7..14: 14 distinct hours, 7 each; and
        // k3 in hours 0..3 again, which adds no hour.
        let record = |key: &str, hour: u32| usage_ext::RateLimitRecord {
            bucket_start: chrono::Utc
                .with_ymd_and_hms(2026, 11, 2, hour, 0, 0)
                .unwrap(),
            entity_id: Some("a".into()),
            user_id: None,
            limit_key: Some(key.into()),
            namespace: Some("platform.api".into()),
            max: Some(600),
            count: 1,
        };
        let records: Vec<_> = (0..7)
            .map(|h| record("k1", h))
            .chain((7..14).map(|h| record("k2", h)))
            .chain((0..3).map(|h| record("k3", h)))
            .collect();
        clients[0].limits = crate::analysis::limits::per_entity(&records)["a"].clone();
        let rule = |hours| Rule {
            limit: Limit::MaxLimitHours(hours),
            per: Per::Client,
            clients: vec![],
            exclude: vec![],
        };
        let over = judge(&[rule(10)], &clients);
        assert_eq!(
            over.len(),
            1,
            "7 hours near k1 and 7 others near k2 are 14 > 10"
        );
        assert_eq!(over[0].value, 14.0);
        assert_eq!(over[0].rate_limit_key.as_deref(), Some("k1"));
        assert!(judge(&[rule(14)], &clients).is_empty(), "14 is not over 14");
    }
}
