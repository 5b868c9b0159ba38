//! Which limit each client comes near, and when: the rate-limit aggregates' hourly
//! near-limit records summed per entity and limit, with the hour of the day (UTC) they
//! cluster in. Upstream does not document what `entityId` holds; the records are matched
//! against the OAuth client ids the usage names, and an entity no client matches is kept
//! as it came, under its own id.

use std::collections::BTreeMap;

use chrono::Timelike;
use serde::Serialize;
use usage_ext::RateLimitRecord;

/// A limit one client (or entity) came near in the window.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NearLimit {
    /// The limit's key (`limitName`), e.g. `client.credentials.token.rate.per.minute`.
    pub limit_key: String,
    pub namespace: String,
    /// The limit's value the records were made against (`max`), when it reads as a number.
    pub limit_value: Option<i64>,
    /// Hours with near-limit records.
    pub near_limit_hours: u32,
    /// Near-limit records in all.
    pub records: i64,
    /// The hour of the day (UTC, 0 to 23) with the most records; the earliest of a tie.
    pub peak_hour_utc: u8,
    /// Every hour of the day tied at the most records (one when the peak stands out), and
    /// those records: what the peak is said as ([`NearLimit::peak`]).
    pub peak_hours_utc: Vec<u8>,
    pub peak_records: i64,
    /// The users the records name (`userId`), for a limit per user of an app: the entity
    /// is the app, near the limit as these users. Empty for a limit of client credentials.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// Each hour with records, oldest first, and its records (for the pages' strips).
    #[serde(skip)]
    pub hours: Vec<(chrono::DateTime<chrono::Utc>, i64)>,
}

impl NearLimit {
    /// The peak as what it is: `09:00 UTC` when one hour stands out, `09:00-11:00 UTC (tied,
    /// 4 records each)` when a run of hours ties, `02:00, 05:00 UTC (tied, ...)` otherwise,
    /// and `no hour stands out` when every hour of the day ties.
    pub fn peak(&self) -> String {
        let hours = &self.peak_hours_utc;
        let each = format!(
            "tied, {} record{} each",
            self.peak_records,
            if self.peak_records == 1 { "" } else { "s" }
        );
        match hours.as_slice() {
            [] => format!("{:02}:00 UTC", self.peak_hour_utc),
            [one] => format!("{one:02}:00 UTC"),
            all if all.len() == 24 => "no hour stands out".to_string(),
            [first, .., last] if hours.windows(2).all(|w| w[1] == w[0] + 1) => {
                format!("{first:02}:00-{last:02}:00 UTC ({each})")
            }
            many => {
                let listed: Vec<String> = many.iter().map(|h| format!("{h:02}:00")).collect();
                format!("{} UTC ({each})", listed.join(", "))
            }
        }
    }
}

/// Every entity's limits, the most hours first, then by key. A limit's records that name
/// users are the entity's (the app's), their hours counted once however many users share
/// them.
pub fn per_entity(records: &[RateLimitRecord]) -> BTreeMap<String, Vec<NearLimit>> {
    struct Sum {
        value: Option<i64>,
        hours: BTreeMap<chrono::DateTime<chrono::Utc>, i64>,
        records: i64,
        by_hour: [i64; 24],
        users: std::collections::BTreeSet<String>,
    }
    let mut sums: BTreeMap<(String, String, String), Sum> = BTreeMap::new();
    for r in records.iter().filter(|r| r.count > 0) {
        let key = (
            r.entity_id.clone().unwrap_or_default(),
            r.limit_key.clone().unwrap_or_default(),
            r.namespace.clone().unwrap_or_default(),
        );
        let sum = sums.entry(key).or_insert_with(|| Sum {
            value: r.max,
            hours: BTreeMap::new(),
            records: 0,
            by_hour: [0; 24],
            users: Default::default(),
        });
        if let Some(user) = r.user_id.as_ref().filter(|u| !u.is_empty()) {
            sum.users.insert(user.clone());
        }
        // The value the latest records were made against: a limit raised mid-window shows
        // its new value.
        sum.value = r.max.or(sum.value);
        let hour_records = sum.hours.entry(r.bucket_start).or_insert(0);
        *hour_records = hour_records.saturating_add(r.count);
        sum.records = sum.records.saturating_add(r.count);
        let hour = r.bucket_start.hour() as usize;
        sum.by_hour[hour] = sum.by_hour[hour].saturating_add(r.count);
    }
    let mut entities: BTreeMap<String, Vec<NearLimit>> = BTreeMap::new();
    for ((entity, key, namespace), sum) in sums {
        let most = sum.by_hour.iter().copied().max().unwrap_or(0);
        let tied: Vec<u8> = (0..24u8)
            .filter(|&h| sum.by_hour[usize::from(h)] == most)
            .collect();
        let peak = tied.first().copied().unwrap_or(0);
        entities.entry(entity).or_default().push(NearLimit {
            limit_key: key,
            namespace,
            limit_value: sum.value,
            near_limit_hours: u32::try_from(sum.hours.len()).unwrap_or(u32::MAX),
            records: sum.records,
            peak_hour_utc: peak,
            peak_hours_utc: tied,
            peak_records: most,
            users: sum.users.into_iter().collect(),
            hours: sum.hours.into_iter().collect(),
        });
    }
    for limits in entities.values_mut() {
        limits.sort_by(|a, b| {
            b.near_limit_hours
                .cmp(&a.near_limit_hours)
                .then_with(|| a.limit_key.cmp(&b.limit_key))
        });
    }
    entities
}

/// The distinct hours with a record for any of `limits`: an hour near two limits is one
/// hour near a limit.
pub fn distinct_hours(limits: &[NearLimit]) -> u32 {
    let hours: std::collections::BTreeSet<_> = limits
        .iter()
        .flat_map(|l| l.hours.iter().map(|(at, _)| *at))
        .collect();
    u32::try_from(hours.len()).unwrap_or(u32::MAX)
}

/// A limit across the org (one namespace and key): the distinct hours any entity spent
/// near it, how many of the report's OAuth clients, and how many entities that are none of
/// them (a user, or an id the usage does not name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgLimit {
    pub limit_key: String,
    pub namespace: String,
    pub limit_value: Option<i64>,
    pub near_limit_hours: u32,
    pub clients: usize,
    pub other_entities: usize,
    /// The users the records name, across the apps near it (a limit per user).
    pub users: usize,
}

/// The org's limits by hours spent near them, the most first; `is_client` tells an OAuth
/// client of the report from any other entity.
pub fn org_top(
    per_entity: &BTreeMap<String, Vec<NearLimit>>,
    is_client: impl Fn(&str) -> bool,
) -> Vec<OrgLimit> {
    struct Sum {
        value: Option<i64>,
        hours: std::collections::BTreeSet<chrono::DateTime<chrono::Utc>>,
        clients: usize,
        others: usize,
        users: std::collections::BTreeSet<(String, String)>,
    }
    let mut by_limit: BTreeMap<(&str, &str), Sum> = BTreeMap::new();
    for (entity, limits) in per_entity {
        for limit in limits {
            let sum = by_limit
                .entry((limit.namespace.as_str(), limit.limit_key.as_str()))
                .or_insert_with(|| Sum {
                    value: None,
                    hours: Default::default(),
                    clients: 0,
                    others: 0,
                    users: Default::default(),
                });
            // A user is one per app: the same person in two apps is two users of them.
            sum.users
                .extend(limit.users.iter().map(|u| (entity.clone(), u.clone())));
            sum.value = sum.value.or(limit.limit_value);
            sum.hours.extend(limit.hours.iter().map(|(at, _)| *at));
            // per_entity keeps one entry per entity, namespace and key: no entity twice.
            if is_client(entity) {
                sum.clients += 1;
            } else {
                sum.others += 1;
            }
        }
    }
    let mut top: Vec<OrgLimit> = by_limit
        .into_iter()
        .map(|((namespace, key), sum)| OrgLimit {
            limit_key: key.to_string(),
            namespace: namespace.to_string(),
            limit_value: sum.value,
            near_limit_hours: u32::try_from(sum.hours.len()).unwrap_or(u32::MAX),
            clients: sum.clients,
            other_entities: sum.others,
            users: sum.users.len(),
        })
        .collect();
    top.sort_by(|a, b| {
        b.near_limit_hours
            .cmp(&a.near_limit_hours)
            .then_with(|| a.limit_key.cmp(&b.limit_key))
            .then_with(|| a.namespace.cmp(&b.namespace))
    });
    top
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn record(entity: &str, key: &str, hour: u32, day: u32, count: i64) -> RateLimitRecord {
        RateLimitRecord {
            bucket_start: chrono::Utc
                .with_ymd_and_hms(2026, 11, day, hour, 0, 0)
                .unwrap(),
            entity_id: Some(entity.into()),
            user_id: None,
            limit_key: Some(key.into()),
            namespace: Some("platform.api".into()),
            max: Some(600),
            count,
        }
    }

    #[test]
    fn hours_records_and_the_peak_hour_per_entity_and_limit() {
        let records = [
            record("a", "k1", 2, 1, 3),
            record("a", "k1", 2, 2, 4),
            record("a", "k1", 3, 2, 1),
            record("a", "k2", 9, 1, 1),
            record("b", "k1", 14, 1, 2),
            record("b", "k1", 15, 1, 2),
            record("b", "k1", 16, 1, 0),
        ];
        let per = per_entity(&records);
        let a = &per["a"];
        assert_eq!(a.len(), 2);
        assert_eq!(
            (
                a[0].limit_key.as_str(),
                a[0].near_limit_hours,
                a[0].records,
                a[0].peak_hour_utc
            ),
            ("k1", 3, 8, 2)
        );
        assert_eq!(a[1].limit_key, "k2");
        // A tie between 14:00 and 15:00 is the earlier; a zero count is no hour.
        let b = &per["b"];
        assert_eq!((b[0].near_limit_hours, b[0].peak_hour_utc), (2, 14));
        let top = org_top(&per, |e| e == "a");
        assert_eq!(top[0].limit_key, "k1");
        // a's hours 02:00 on the 1st and the 2nd and 03:00 on the 2nd, b's 14:00 and 15:00
        // on the 1st: 5 distinct hours, one client and one other entity.
        assert_eq!(
            (
                top[0].near_limit_hours,
                top[0].clients,
                top[0].other_entities
            ),
            (5, 1, 1)
        );
        assert_eq!(top[1].limit_key, "k2");
    }

    #[test]
    fn the_org_line_counts_distinct_hours_and_clients_per_namespace_and_key() {
        let mut records = Vec::new();
        // Two clients near k1 in the same hours: the org was near k1 those hours, once.
        for hour in 0..24 {
            records.push(record("a", "k1", hour, 1, 1));
            records.push(record("b", "k1", hour, 1, 1));
        }
        // The same key in another namespace is another limit.
        let mut other = record("a", "k1", 5, 1, 1);
        other.namespace = Some("auth.api".into());
        records.push(other);
        let per = per_entity(&records);
        let top = org_top(&per, |_| true);
        assert_eq!(top.len(), 2);
        assert_eq!(
            (
                top[0].namespace.as_str(),
                top[0].near_limit_hours,
                top[0].clients
            ),
            ("platform.api", 24, 2),
            "never more hours than the day has"
        );
        assert_eq!(
            (
                top[1].namespace.as_str(),
                top[1].near_limit_hours,
                top[1].clients
            ),
            ("auth.api", 1, 1)
        );
        assert_eq!(
            distinct_hours(&per["a"]),
            24,
            "hour 05:00 near both is one hour"
        );
    }

    #[test]
    fn the_peak_says_when_hours_tie() {
        let per = |records: &[RateLimitRecord]| per_entity(records)["a"][0].clone();
        let one = per(&[record("a", "k1", 2, 1, 3), record("a", "k1", 5, 1, 1)]);
        assert_eq!(one.peak(), "02:00 UTC");
        let run = per(&[
            record("a", "k1", 9, 1, 2),
            record("a", "k1", 10, 1, 2),
            record("a", "k1", 11, 1, 2),
            record("a", "k1", 3, 1, 1),
        ]);
        assert_eq!(run.peak(), "09:00-11:00 UTC (tied, 2 records each)");
        let apart = per(&[record("a", "k1", 2, 1, 1), record("a", "k1", 5, 1, 1)]);
        assert_eq!(apart.peak(), "02:00, 05:00 UTC (tied, 1 record each)");
        let all: Vec<_> = (0..24).map(|h| record("a", "k1", h, 1, 1)).collect();
        assert_eq!(per(&all).peak(), "no hour stands out");
    }

    /// An app near a per-user limit as two users, both in one hour: one hour, both users
    /// shown with the app, one client and no other entity in the org's line.
    #[test]
    fn users_are_shown_with_their_app_and_never_counted_as_entities() {
        let as_user = |user: &str, hour: u32| RateLimitRecord {
            user_id: Some(user.into()),
            ..record("app", "org.app.user.rate.per.minute", hour, 1, 1)
        };
        let records = [as_user("u2", 9), as_user("u1", 9), as_user("u1", 10)];
        let per = per_entity(&records);
        assert_eq!(per.len(), 1, "the users are not entities");
        let app = &per["app"][0];
        assert_eq!((app.near_limit_hours, app.records), (2, 3));
        assert_eq!(app.users, ["u1", "u2"]);
        let top = org_top(&per, |e| e == "app");
        assert_eq!(
            (
                top[0].near_limit_hours,
                top[0].clients,
                top[0].other_entities,
                top[0].users
            ),
            (2, 1, 0, 2)
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// A record of one of a few entities, keys and namespaces, in a window of `days`.
        fn records(days: u32) -> impl Strategy<Value = Vec<RateLimitRecord>> {
            let one = (
                0..4usize,
                0..2usize,
                0..2usize,
                0..days * 24,
                0..4i64,
                proptest::option::of(0..1000i64),
                proptest::option::of(0..3usize),
            )
                .prop_map(|(entity, key, namespace, hour, count, max, user)| {
                    RateLimitRecord {
                        bucket_start: chrono::Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
                            + chrono::Duration::hours(i64::from(hour)),
                        entity_id: Some(["a", "b", "c", "x"][entity].into()),
                        user_id: user.map(|u| ["u1", "u2", "u3"][u].into()),
                        limit_key: Some(["k1", "k2"][key].into()),
                        namespace: Some(["platform.api", "auth.api"][namespace].into()),
                        max,
                        count,
                    }
                });
            proptest::collection::vec(one, 0..200)
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            #[test]
            fn hours_are_distinct_and_bounded(days in 1u32..4, records in records(3)) {
                let records: Vec<_> = records
                    .into_iter()
                    .filter(|r| r.bucket_start
                        < chrono::Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
                            + chrono::Duration::days(i64::from(days)))
                    .collect();
                let window = days * 24;
                let per = per_entity(&records);
                for limits in per.values() {
                    let client = distinct_hours(limits);
                    prop_assert!(client <= window);
                    let sum: u32 = limits.iter().map(|l| l.near_limit_hours).sum();
                    prop_assert!(client <= sum);
                    for l in limits {
                        prop_assert!(l.near_limit_hours >= 1);
                        prop_assert!(l.near_limit_hours <= client);
                        prop_assert!(!l.peak_hours_utc.is_empty());
                        prop_assert!(l.peak_hours_utc.iter().all(|h| *h < 24));
                        prop_assert!(l.peak_records >= 1 && l.peak_records <= l.records);
                    }
                }
                let top = org_top(&per, |e| e != "x");
                for org in &top {
                    let theirs: Vec<u32> = per
                        .values()
                        .flatten()
                        .filter(|l| l.limit_key == org.limit_key && l.namespace == org.namespace)
                        .map(|l| l.near_limit_hours)
                        .collect();
                    prop_assert!(org.near_limit_hours <= window);
                    prop_assert!(org.near_limit_hours >= theirs.iter().copied().max().unwrap_or(0));
                    prop_assert!(org.near_limit_hours <= theirs.iter().sum::<u32>());
                    prop_assert_eq!(org.clients + org.other_entities, theirs.len());
                    // Users are never entities: the entities are the apps.
                    let users: std::collections::BTreeSet<_> = records
                        .iter()
                        .filter(|r| r.count > 0
                            && r.limit_key.as_deref() == Some(org.limit_key.as_str())
                            && r.namespace.as_deref() == Some(org.namespace.as_str()))
                        .filter_map(|r| Some((r.entity_id.clone()?, r.user_id.clone()?)))
                        .collect();
                    prop_assert_eq!(org.users, users.len());
                }
                // Each (namespace, key) with a counted record is one line of the org's.
                let limits: std::collections::BTreeSet<_> = records
                    .iter()
                    .filter(|r| r.count > 0)
                    .map(|r| (r.namespace.clone(), r.limit_key.clone()))
                    .collect();
                prop_assert_eq!(top.len(), limits.len());
            }
        }
    }
}
