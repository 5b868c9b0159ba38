//! The report: per OAuth client, its requests, its 429s and their share, and the endpoints
//! that got the most 429s. Rows are summed as they arrive, so a jobs report holds one entry
//! per (client, endpoint), never the rows.

use std::collections::HashMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::cli::Format;
use crate::output::{thousands, write_table};

/// One endpoint of a client: `httpMethod templateUri`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    pub http_method: String,
    pub template_uri: String,
    pub request_count: i64,
    pub status429: i64,
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
}

#[derive(Default)]
struct Client {
    name: String,
    requests: i64,
    status429: i64,
    endpoints: HashMap<(String, String), (i64, i64)>,
}

/// The running sums.
#[derive(Default)]
pub struct Tally {
    clients: HashMap<String, Client>,
}

impl Tally {
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
        let client = self.clients.entry(client_id.to_string()).or_default();
        if client.name.is_empty() {
            client.name = client_name.to_string();
        }
        client.requests = client.requests.saturating_add(requests);
        client.status429 = client.status429.saturating_add(status429);
        let endpoint = client
            .endpoints
            .entry((http_method.to_string(), template_uri.to_string()))
            .or_default();
        endpoint.0 = endpoint.0.saturating_add(requests);
        endpoint.1 = endpoint.1.saturating_add(status429);
    }

    /// The report: clients by 429s, then requests (then id, for a stable order).
    pub fn finish(self, top: usize) -> Vec<ClientReport> {
        let mut clients: Vec<ClientReport> = self
            .clients
            .into_iter()
            .map(|(id, c)| {
                let mut endpoints: Vec<Endpoint> = c
                    .endpoints
                    .into_iter()
                    .map(|((method, uri), (requests, status429))| Endpoint {
                        http_method: method,
                        template_uri: uri,
                        request_count: requests,
                        status429,
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
        clients
    }
}

fn share(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Writes the report in `format`. `heading` is the table's first line (the window and the
/// API asked).
pub fn write(
    out: &mut dyn Write,
    format: Format,
    heading: &str,
    clients: &[ClientReport],
) -> io::Result<()> {
    match format {
        Format::Table => write_report_table(out, heading, clients),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, clients)?;
            writeln!(out)
        }
        Format::Ndjson => {
            for client in clients {
                serde_json::to_writer(&mut *out, client)?;
                writeln!(out)?;
            }
            Ok(())
        }
        Format::Csv => {
            // One line per (client, endpoint), the client's totals repeated on each.
            let mut writer = csv::Writer::from_writer(out);
            writer.write_record([
                "oauthClientId",
                "oauthClientName",
                "requestCount",
                "status429",
                "status429Share",
                "rank",
                "httpMethod",
                "templateUri",
                "endpointRequestCount",
                "endpointStatus429",
            ])?;
            for c in clients {
                let client = [
                    c.oauth_client_id.clone(),
                    c.oauth_client_name.clone(),
                    c.request_count.to_string(),
                    c.status429.to_string(),
                    format!("{:.6}", c.status429_share),
                ];
                for (rank, e) in c.top_endpoints.iter().enumerate() {
                    let mut record = client.to_vec();
                    record.extend([
                        (rank + 1).to_string(),
                        e.http_method.clone(),
                        e.template_uri.clone(),
                        e.request_count.to_string(),
                        e.status429.to_string(),
                    ]);
                    writer.write_record(&record)?;
                }
                if c.top_endpoints.is_empty() {
                    let mut record = client.to_vec();
                    record.extend([
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ]);
                    writer.write_record(&record)?;
                }
            }
            writer.flush()
        }
    }
}

fn write_report_table(
    out: &mut dyn Write,
    heading: &str,
    clients: &[ClientReport],
) -> io::Result<()> {
    let requests: i64 = clients.iter().map(|c| c.request_count).sum();
    let limited: i64 = clients.iter().map(|c| c.status429).sum();
    writeln!(out, "{heading}")?;
    writeln!(
        out,
        "{} OAuth clients, {} requests, {} answered 429 ({:.2} %)",
        clients.len(),
        thousands(requests),
        thousands(limited),
        share(limited, requests) * 100.0
    )?;
    writeln!(out)?;
    let mut rows = Vec::new();
    for c in clients {
        rows.push(vec![
            format!("{} ({})", c.oauth_client_name, c.oauth_client_id),
            thousands(c.request_count),
            thousands(c.status429),
            format!("{:.2}", c.status429_share * 100.0),
        ]);
        for e in &c.top_endpoints {
            rows.push(vec![
                format!("  {:<6} {}", e.http_method, e.template_uri),
                thousands(e.request_count),
                thousands(e.status429),
                format!("{:.2}", share(e.status429, e.request_count) * 100.0),
            ]);
        }
    }
    write_table(
        out,
        &[
            "OAuth client (id) / top endpoints by 429s",
            "requests",
            "429s",
            "429 %",
        ],
        &rows,
        |c| matches!(c, "requests" | "429s" | "429 %"),
    )
}

#[cfg(test)]
mod tests {
    use super::Tally;

    #[test]
    fn clients_and_endpoints_are_ranked_by_429s_then_requests() {
        let mut t = Tally::default();
        t.add("a", "A", "GET", "x", 100, 0);
        t.add("a", "A", "GET", "y", 10, 5);
        t.add("a", "A", "GET", "x", 100, 1);
        t.add("b", "B", "POST", "z", 1_000, 5);
        t.add("c", "C", "POST", "z", 50, 6);
        let report = t.finish(1);
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
    }
}
