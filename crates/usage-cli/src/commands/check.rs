//! `check`: the window's usage against rules, for cron and CI. One line per breach on
//! stdout, the worst first (`--format json` or `ndjson` for alert pipelines); exit 0 when
//! nothing is breached, 5 when a rule is. Rules are checked before anything is sent.

use std::io::Write;

use crate::cli::{CheckArgs, Format, Per};
use crate::commands::report::{Wants, jobs_report};
use crate::exit::Failure;
use crate::rules::{self, Limit, Rule};
use crate::session::Session;
use crate::untrusted;

/// The rules of the flags and of `--rules FILE`; none at all is refused.
pub fn rules(args: &CheckArgs) -> Result<Vec<Rule>, Failure> {
    let rule = |limit| Rule {
        limit,
        per: args.per,
        clients: args.clients.clone(),
        exclude: args.exclude.clone(),
    };
    let mut rules = Vec::new();
    if let Some(share) = &args.max_429_share {
        let share = rules::parse_percent(share, "--max-429-share").map_err(Failure::Usage)?;
        if share > 1.0 {
            return Err(Failure::Usage(format!(
                "--max-429-share {}: a share is at most 100%",
                args.max_429_share.as_deref().unwrap_or_default()
            )));
        }
        rules.push(rule(Limit::Max429Share(share)));
    }
    if let Some(count) = args.max_429 {
        let count = u64::try_from(count)
            .map_err(|_| Failure::Usage(format!("--max-429 {count}: a count of 0 or more")))?;
        rules.push(rule(Limit::Max429(count)));
    }
    if let Some(growth) = &args.max_growth {
        rules.push(rule(Limit::MaxGrowth(
            rules::parse_percent(growth, "--max-growth").map_err(Failure::Usage)?,
        )));
    }
    if let Some(path) = &args.rules {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::Usage(format!("--rules {}: {e}", path.display())))?;
        rules.extend(rules::from_toml(&text, &path.display().to_string())?);
    }
    if rules.is_empty() {
        return Err(Failure::Usage(
            "check needs a rule: --max-429-share, --max-429, --max-growth or --rules FILE".into(),
        ));
    }
    Ok(rules)
}

pub async fn exec(session: &Session, args: &CheckArgs, rules: &[Rule]) -> Result<(), Failure> {
    let wants = Wants {
        daily: false,
        before: rules.iter().any(Rule::needs_previous),
        endpoints: rules.iter().any(|r| r.per == Per::Endpoint),
    };
    let (days, clients, before) = jobs_report(
        session,
        &args.window,
        usize::MAX,
        args.concurrency.get(),
        wants,
    )
    .await?;
    if wants.before && before.is_none() && session.history.is_none() {
        session.progress.note(
            "check: the window before is past the year the API keeps; growth rules are not judged",
        );
    }
    let breaches = rules::judge(rules, &clients);
    let mut out = session.out()?;
    match session.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &breaches).map_err(std::io::Error::other)?;
            writeln!(out)?;
        }
        Format::Ndjson => {
            for breach in &breaches {
                serde_json::to_writer(&mut out, breach).map_err(std::io::Error::other)?;
                writeln!(out)?;
            }
        }
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(&mut out);
            writer
                .write_record([
                    "oauthClientId",
                    "oauthClientName",
                    "httpMethod",
                    "templateUri",
                    "limit",
                    "value",
                    "limitValue",
                ])
                .map_err(std::io::Error::other)?;
            for b in &breaches {
                let kind = match b.rule.limit {
                    Limit::Max429Share(_) => "max429Share",
                    Limit::Max429(_) => "max429",
                    Limit::MaxGrowth(_) => "maxGrowth",
                };
                writer
                    .write_record(session.csv.record([
                        b.oauth_client_id.as_str(),
                        b.oauth_client_name.as_str(),
                        b.http_method.as_deref().unwrap_or_default(),
                        b.template_uri.as_deref().unwrap_or_default(),
                        kind,
                        &b.value.to_string(),
                        &b.limit.to_string(),
                    ]))
                    .map_err(std::io::Error::other)?;
            }
            writer.flush()?;
        }
        // Refused before anything is sent: `--format html` is the report's.
        Format::Table | Format::Html | Format::Openmetrics => {
            for breach in &breaches {
                writeln!(out, "{}", untrusted::terminal(&breach.line()))?;
            }
        }
    }
    out.flush()?;
    if breaches.is_empty() {
        session.progress.note(&format!(
            "check: {} rule(s), {} OAuth client(s), {days}: nothing breached",
            rules.len(),
            clients.len()
        ));
        Ok(())
    } else {
        Err(Failure::Breached(breaches.len()))
    }
}
