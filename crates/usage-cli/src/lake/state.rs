//! The state of a synced dataset (`_genesys_usage_sync.json` beside `usage/`): the schema
//! version, what was asked (the query's shape) of whom (the scope), and the last day whose
//! file is complete. A later sync starts from it; a sync of another shape or scope into the
//! same place is refused, never mixed.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use usage_ext::models::{Granularity, HttpMethod, OrganizationJobGroupBy};

use crate::exit::Failure;

/// The version this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// What the rows are: the group-by set, the filters and the granularity (the metrics are
/// always all six counters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shape {
    pub group_by: Vec<OrganizationJobGroupBy>,
    pub granularity: Granularity,
    pub template_uris: Vec<String>,
    pub http_methods: Vec<HttpMethod>,
    pub platforms: Vec<String>,
    pub user_ids: Vec<String>,
    pub oauth_client_ids: Vec<String>,
}

impl Shape {
    /// The same set whatever the order the flags gave it in.
    pub fn normalized(mut self) -> Self {
        self.group_by.sort();
        self.group_by.dedup();
        self.http_methods.sort();
        self.http_methods.dedup();
        for list in [
            &mut self.template_uris,
            &mut self.platforms,
            &mut self.user_ids,
            &mut self.oauth_client_ids,
        ] {
            list.sort();
            list.dedup();
        }
        self
    }
}

/// Whose usage a dataset holds: the demo's fake, or an org, named by its API's base URL. In
/// the state file, `demo` or the URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Scope {
    Demo,
    Org(String),
}

impl Scope {
    /// Whose numbers they are, as a page states it.
    pub fn whose(&self) -> String {
        match self {
            Scope::Demo => "demo data (the built-in usage-fake; generated, not an org's)".into(),
            Scope::Org(url) => url.clone(),
        }
    }
}

impl From<String> for Scope {
    fn from(text: String) -> Self {
        if text == "demo" {
            Scope::Demo
        } else {
            Scope::Org(text)
        }
    }
}

impl From<Scope> for String {
    fn from(scope: Scope) -> Self {
        scope.to_string()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Demo => f.write_str("demo"),
            Scope::Org(url) => f.write_str(url),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncState {
    pub schema_version: u32,
    /// Whose usage: the demo's, or an org's by its API's base URL.
    pub scope: Scope,
    pub shape: Shape,
    /// The first day ever synced.
    pub first_day: NaiveDate,
    /// The last day whose file is complete.
    pub last_complete_day: NaiveDate,
    pub updated_at: DateTime<Utc>,
    /// The days the rate-limit table holds (`ratelimits/`), when it holds any: a run whose
    /// login may not read the rate-limit aggregates leaves it as it was. Absent in states
    /// of before the table; readers of those ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_days: Option<DayRange>,
    /// The days the events table holds (`events/`), when it holds any: only days the
    /// service still kept whole when they were synced, and none a run whose login may not
    /// read the events wrote. Absent in states of before the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_days: Option<DayRange>,
}

/// A range of days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DayRange {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
}

impl DayRange {
    /// `self` and `other` as one range, when they touch or overlap; else `other`, the
    /// newer: the table claims only days it holds without a gap.
    pub fn joined(self, other: DayRange) -> DayRange {
        let touch = |a: NaiveDate, b: NaiveDate| a.succ_opt().is_none_or(|next| next >= b);
        if touch(self.last_day, other.first_day) && touch(other.last_day, self.first_day) {
            DayRange {
                first_day: self.first_day.min(other.first_day),
                last_day: self.last_day.max(other.last_day),
            }
        } else {
            other
        }
    }
}

/// Only the version, read first, so that a newer state is refused by its version rather
/// than by a field this build does not know.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Version {
    schema_version: u32,
}

impl SyncState {
    /// Reads a state file; a newer version or another file is refused (exit 2).
    pub fn parse(bytes: &[u8], place: &str) -> Result<Self, Failure> {
        let not_ours = |e: serde_json::Error| {
            Failure::Usage(format!(
                "{place} is not a genesys-usage sync state ({e}); move it away or sync elsewhere"
            ))
        };
        let version: Version = serde_json::from_slice(bytes).map_err(not_ours)?;
        if version.schema_version > SCHEMA_VERSION {
            return Err(Failure::Usage(format!(
                "{place} was written by a newer genesys-usage (state version {}, this one \
                 reads {SCHEMA_VERSION}); upgrade genesys-usage",
                version.schema_version
            )));
        }
        serde_json::from_slice(bytes).map_err(not_ours)
    }

    /// Refuses to add rows of another shape or scope to this dataset.
    pub fn check_same(&self, scope: &Scope, shape: &Shape, place: &str) -> Result<(), Failure> {
        if &self.scope != scope {
            return Err(Failure::Usage(format!(
                "{place} holds the usage of {}, not of {scope}: sync each org to a place of its own",
                self.scope
            )));
        }
        if &self.shape != shape {
            let show = |s: &Shape| serde_json::to_string(s).unwrap_or_default();
            return Err(Failure::Usage(format!(
                "{place} holds rows of another shape: it has {}, this sync asks for {}; \
                 sync to another place or give the same flags",
                show(&self.shape),
                show(shape)
            )));
        }
        Ok(())
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_rate_limit_days_join_only_without_a_gap() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let range = |a: &str, b: &str| DayRange {
            first_day: d(a),
            last_day: d(b),
        };
        let held = range("2026-11-01", "2026-11-10");
        assert_eq!(
            held.joined(range("2026-11-08", "2026-11-20")),
            range("2026-11-01", "2026-11-20"),
            "a re-pull overlapping the end"
        );
        assert_eq!(
            held.joined(range("2026-11-11", "2026-11-12")),
            range("2026-11-01", "2026-11-12"),
            "the next days"
        );
        assert_eq!(
            held.joined(range("2026-11-13", "2026-11-14")),
            range("2026-11-13", "2026-11-14"),
            "a gap: only the newer days are claimed"
        );
        assert_eq!(
            held.joined(range("2026-10-20", "2026-10-31")),
            range("2026-10-20", "2026-11-10"),
            "a backfill before"
        );
    }

    use super::*;

    fn shape() -> Shape {
        Shape {
            group_by: vec![
                OrganizationJobGroupBy::TemplateUri,
                OrganizationJobGroupBy::OauthClientId,
            ],
            granularity: Granularity::Day,
            template_uris: vec![],
            http_methods: vec![],
            platforms: vec![],
            user_ids: vec![],
            oauth_client_ids: vec![],
        }
        .normalized()
    }

    fn state() -> SyncState {
        SyncState {
            schema_version: SCHEMA_VERSION,
            scope: Scope::Demo,
            shape: shape(),
            first_day: "2026-09-01".parse().unwrap(),
            last_complete_day: "2026-11-30".parse().unwrap(),
            updated_at: "2026-12-01T00:00:00Z".parse().unwrap(),
            rate_limit_days: None,
            event_days: None,
        }
    }

    #[test]
    fn a_state_reads_back_and_refuses_another_shape_scope_or_a_newer_version() {
        let bytes = state().to_bytes();
        let back = SyncState::parse(&bytes, "x").unwrap();
        assert_eq!(back, state());
        assert!(back.check_same(&Scope::Demo, &shape(), "x").is_ok());
        let mut other = shape();
        other.group_by.push(OrganizationJobGroupBy::UserId);
        assert!(
            back.check_same(&Scope::Demo, &other.normalized(), "x")
                .is_err()
        );
        let org = Scope::Org("https://api.mypurecloud.com".into());
        assert!(back.check_same(&org, &shape(), "x").is_err());
        assert!(
            String::from_utf8(bytes.clone())
                .unwrap()
                .contains("\"scope\": \"demo\""),
            "the file keeps the scope's spelling"
        );
        let newer = String::from_utf8(bytes)
            .unwrap()
            .replace("\"schemaVersion\": 1", "\"schemaVersion\": 2");
        let err = SyncState::parse(newer.as_bytes(), "x").unwrap_err();
        assert!(
            matches!(&err, Failure::Usage(t) if t.contains("newer")),
            "{err:?}"
        );
        assert!(matches!(
            SyncState::parse(b"[1]", "x"),
            Err(Failure::Usage(_))
        ));
    }
}
