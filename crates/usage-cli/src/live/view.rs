//! What `watch`'s screen shows beside the events, read from the API: the clients near a
//! limit in the current hour (the rate-limit aggregates of today, one request, read again
//! when the hour turns) and yesterday's 429 share per client (one aggregates query job at
//! the start, read again when the day turns).

use std::collections::HashMap;

use chrono::{DateTime, Timelike as _, Utc};
use usage_ext::DayWindow;

use crate::lake::schema::Column;
use crate::source::api::Api;
use crate::source::row::Ask;

/// This hour's near-limit records: (client id, limit key, namespace, value, records).
pub async fn near_now(
    api: &Api,
    now: DateTime<Utc>,
) -> Result<Vec<(String, String, String, Option<i64>, i64)>, String> {
    let today = now.date_naive();
    let day = DayWindow::new(today, today).ok_or("no day today")?;
    let records = api
        .rate_limit_records(day)
        .await
        .map_err(|why| why.to_string())?;
    let hour = now.hour();
    let mut near: Vec<_> = records
        .into_iter()
        .filter(|r| {
            r.count > 0 && r.bucket_start.date_naive() == today && r.bucket_start.hour() == hour
        })
        .map(|r| {
            (
                r.entity_id.unwrap_or_default(),
                r.limit_key.unwrap_or_default(),
                r.namespace.unwrap_or_default(),
                r.max,
                r.count,
            )
        })
        .collect();
    // A per-user limit's records come a user each: one line per client and limit.
    near.sort();
    near.dedup_by(|b, a| {
        let same = a.0 == b.0 && a.1 == b.1 && a.2 == b.2;
        if same {
            a.4 = a.4.saturating_add(b.4);
        }
        same
    });
    Ok(near)
}

/// Yesterday's 429 share per client id (0 to 1), with its name: one job.
pub async fn yesterday(
    api: &Api,
    now: DateTime<Utc>,
) -> Result<HashMap<String, (String, f64)>, String> {
    let yesterday = now.date_naive().pred_opt().ok_or("the calendar ends")?;
    let days = DayWindow::new(yesterday, yesterday).ok_or("no day yesterday")?;
    let asks = [Ask {
        days,
        columns: vec![
            Column::OauthClientId,
            Column::OauthClientName,
            Column::RequestCount,
            Column::Status429,
        ],
        daily: false,
        needs: Vec::new(),
        purpose: "yesterday's 429 share",
    }];
    let mut sums: HashMap<String, (String, i64, i64)> = HashMap::new();
    api.rows(&asks, 1, |_, row| {
        let sum = sums
            .entry(row.text(Column::OauthClientId).to_string())
            .or_insert_with(|| (row.text(Column::OauthClientName).to_string(), 0, 0));
        sum.1 = sum.1.saturating_add(row.count(Column::RequestCount));
        sum.2 = sum.2.saturating_add(row.count(Column::Status429));
        Ok(())
    })
    .await
    .map_err(|e| e.to_string())?;
    api.done();
    Ok(sums
        .into_iter()
        .map(|(id, (name, requests, status429))| {
            let share = if requests > 0 {
                status429 as f64 / requests as f64
            } else {
                0.0
            };
            (id, (name, share))
        })
        .collect())
}
