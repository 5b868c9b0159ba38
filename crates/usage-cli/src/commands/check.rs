//! `check`: the window's usage against rules, for cron and CI. One line per breach on
//! stdout, the worst first (`--format json` or `ndjson` for alert pipelines); exit 0 when
//! nothing is breached, 5 when a rule is, 6 when none is but a rule could not be judged (its
//! data could not be read: it never passes). Rules are checked before anything is sent.

use usage_ext::DayWindow;

use crate::analysis::allowance::{ClientPart, PeriodArg};
use crate::analysis::billing::{self, Allocation, PeriodAsk};
use crate::analysis::report::{self, Wants};
use crate::analysis::rules::{self, Limit, Per, Rule};
use crate::cli::{CheckArgs, resolve};
use crate::commands::declared::{DATA, Declared, writes};
use crate::exit::Failure;
use crate::notify::Webhook;

use crate::render::check::{self, AllocationBreach};
use crate::render::output::{thousands, whole};
use crate::session::Session;
use crate::source::Source;

pub const DECLARED: Declared = writes(DATA);

/// A limit on the share of the billing period's fair-use allocation.
pub struct AllocationRule {
    plan: Allocation,
    max_share: f64,
    to_date: bool,
    billing_day: u32,
}

/// What `check` judges: rules per client or endpoint, and the allocation's share.
pub struct Checks {
    pub rules: Vec<Rule>,
    pub allocation: Option<AllocationRule>,
}

/// The rules and the window, resolved before anything is sent.
pub struct Plan {
    pub from: Option<String>,
    checks: Checks,
    /// The window the rules judge (none when only the allocation is judged).
    days: Option<DayWindow>,
    exclude: Vec<String>,
    concurrency: usize,
    /// Where the alert goes (`--notify`), checked before anything is sent.
    notify: Option<Webhook>,
}

pub fn plan(args: CheckArgs, vars: &[(String, String)]) -> Result<Plan, Failure> {
    let checks = rules(&args)?;
    let notify = resolve::webhook(&args.notify, vars)?;
    let days = match checks.rules.is_empty() {
        true => None,
        false => Some(resolve::job_days(&args.window)?),
    };
    Ok(Plan {
        from: args.dataset.from,
        checks,
        days,
        exclude: args.exclude.exclude,
        concurrency: args.jobs.concurrency.get(),
        notify,
    })
}

/// The rules of the flags and of `--rules FILE`; none at all is refused.
fn rules(args: &CheckArgs) -> Result<Checks, Failure> {
    let rule = |limit| Rule {
        limit,
        per: args.per,
        clients: args.clients.clone(),
        exclude: args.exclude.exclude.clone(),
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
    if let Some(hours) = args.max_limit_hours {
        let hours = u64::try_from(hours).map_err(|_| {
            Failure::Usage(format!("--max-limit-hours {hours}: a count of 0 or more"))
        })?;
        if args.per == Per::Endpoint {
            return Err(Failure::Usage(
                "--max-limit-hours is judged per OAuth client: the rate limits are not per endpoint"
                    .into(),
            ));
        }
        rules.push(rule(Limit::MaxLimitHours(hours)));
    }
    if let Some(growth) = &args.max_growth {
        rules.push(rule(Limit::MaxGrowth(
            rules::parse_percent(growth, "--max-growth").map_err(Failure::Usage)?,
        )));
    }
    let mut allocation = None;
    if let Some(share) = &args.max_allocation_share {
        allocation = Some(AllocationRule {
            plan: resolve::allocation(&args.allocation)?,
            max_share: rules::parse_percent(share, "--max-allocation-share")
                .map_err(Failure::Usage)?,
            to_date: args.to_date,
            billing_day: args.allocation.billing_day,
        });
    } else if args.allocation.given() {
        return Err(Failure::Usage(
            "--licenses and --allocation are for --max-allocation-share".into(),
        ));
    }
    if let Some(path) = &args.rules {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::Usage(format!("--rules {}: {e}", path.display())))?;
        let place = path.display().to_string();
        rules.extend(rules::from_toml(&text, &place)?);
        if let Some(file) = rules::allocation_from_toml(&text, &place)?
            && allocation.is_none()
        {
            let at = |what: &str| format!("--rules {place}: [allocation] {what}");
            let billing_day = file.billing_day.unwrap_or(1);
            if !(1..=28).contains(&billing_day) {
                return Err(Failure::Usage(at("billing_day: 1 to 28")));
            }
            allocation = Some(AllocationRule {
                plan: billing::allocation_of(
                    file.licenses.as_deref(),
                    file.allocation,
                    file.allowances.as_deref(),
                )
                .map_err(|e| match e {
                    Failure::Usage(text) => Failure::Usage(at(&text)),
                    other => other,
                })?,
                max_share: rules::parse_percent(&file.max_share, &at("max_share"))
                    .map_err(Failure::Usage)?,
                to_date: file.to_date,
                billing_day,
            });
        }
    }
    if rules.is_empty() && allocation.is_none() {
        return Err(Failure::Usage(
            "check needs a rule: --max-429-share, --max-429, --max-growth, \
             --max-limit-hours, --max-allocation-share or --rules FILE"
                .into(),
        ));
    }
    Ok(Checks { rules, allocation })
}

async fn judge_allocation(
    session: &Session,
    source: &Source,
    plan: &Plan,
    rule: &AllocationRule,
) -> Result<Option<AllocationBreach>, Failure> {
    let ask = PeriodAsk {
        billing_day: rule.billing_day,
        period: PeriodArg::Current,
        as_of: None,
        exclude: plan.exclude.clone(),
        concurrency: plan.concurrency,
    };
    let report = billing::compute(source, &session.progress, &ask, &rule.plan).await?;
    let value = if rule.to_date {
        report.share_to_date
    } else {
        report.projected_share
    };
    if value <= rule.max_share {
        return Ok(None);
    }
    let top: Vec<ClientPart> = report.clients.iter().take(3).cloned().collect();
    let names: Vec<String> = top
        .iter()
        .map(|c| {
            format!(
                "{} ({}) {:.1} %",
                c.oauth_client_name,
                c.oauth_client_id,
                c.share_of_projection * 100.0
            )
        })
        .collect();
    let what = if rule.to_date {
        format!("{} requests so far", thousands(report.requests_to_date))
    } else {
        format!(
            "{} projected ({} to {})",
            whole(report.projected),
            whole(report.projected_low),
            whole(report.projected_high)
        )
    };
    let line = format!(
        "{} share of the fair-use allocation, billing period {} to {} (estimate, {} days left): \
         {:.2} %, {what} of {} requests, limit {:.2} %; top clients: {}",
        if rule.to_date { "to-date" } else { "projected" },
        report.period_first_day,
        report.period_last_day,
        report.days_left,
        value * 100.0,
        thousands(report.allocation as i64),
        rule.max_share * 100.0,
        names.join(", ")
    );
    let json = serde_json::json!({
        "rule": {"limit": "maxAllocationShare", "value": rule.max_share, "toDate": rule.to_date},
        "value": value,
        "limit": rule.max_share,
        "periodFirstDay": report.period_first_day,
        "periodLastDay": report.period_last_day,
        "allocation": report.allocation,
        "requestsToDate": report.requests_to_date,
        "projected": report.projected,
        "projectedLow": report.projected_low,
        "projectedHigh": report.projected_high,
        "topClients": top,
    });
    Ok(Some(AllocationBreach {
        line,
        json,
        top: top.into_iter().next(),
        value,
        limit: rule.max_share,
    }))
}

pub async fn exec(session: &Session, source: &Source, plan: &Plan) -> Result<(), Failure> {
    let checks = &plan.checks;
    let rules = &checks.rules;
    // The money first: the allocation's breach leads the output.
    let allocation = match &checks.allocation {
        Some(rule) => judge_allocation(session, source, plan, rule).await?,
        None => None,
    };
    let wants = Wants {
        daily: false,
        before: rules.iter().any(Rule::needs_previous),
        endpoints: rules.iter().any(|r| r.per == Per::Endpoint),
    };
    let mut not_judged = Vec::new();
    let (days, clients, before) = match plan.days {
        None => (None, Vec::new(), None),
        Some(days) => {
            let mut report = report::clients(
                source,
                &session.progress,
                days,
                usize::MAX,
                plan.concurrency,
                wants,
            )
            .await?;
            if rules.iter().any(Rule::needs_limits)
                && let Err(why) = report::near_limits(source, &mut report).await
            {
                not_judged.extend(rules.iter().filter(|r| r.needs_limits()).map(|rule| {
                    rules::NotJudged {
                        rule: rule.clone(),
                        not_judged: format!("the rate-limit aggregates: {why}"),
                    }
                }));
            }
            (Some(report.days), report.clients, report.before)
        }
    };
    if let Some(days) = plan.days
        && wants.before
        && before.is_none()
    {
        let previous = report::previous_window(days);
        let why = previous
            .and_then(|w| source.lacks(w))
            .unwrap_or_else(|| "is before the calendar's first day".into());
        let window = previous.map(|w| format!(" ({w})")).unwrap_or_default();
        not_judged.extend(rules.iter().filter(|r| r.needs_previous()).map(|rule| {
            rules::NotJudged {
                rule: rule.clone(),
                not_judged: format!("the window before{window} {why}"),
            }
        }));
    }
    for n in &not_judged {
        session.progress.note(&format!("check: {}", n.line()));
    }
    let judged: Vec<Rule> = rules
        .iter()
        .filter(|r| !not_judged.iter().any(|n| &n.rule == *r))
        .cloned()
        .collect();
    let breaches = rules::judge(&judged, &clients);
    let mut out = session.out()?;
    check::write(
        &mut out,
        session.format,
        session.csv,
        allocation.as_ref(),
        &breaches,
        &not_judged,
    )
    .map_err(Failure::output)?;
    if let Some(webhook) = &plan.notify {
        let alert = check::alert(
            source.describe(),
            days,
            allocation.as_ref(),
            &breaches,
            &not_judged,
        );
        if let Some(alert) = alert {
            match webhook.deliver(&alert).await {
                Ok(()) => session.progress.note(&format!(
                    "check: the alert went to the webhook at {}",
                    webhook.host()
                )),
                Err(why) => session.progress.note(&format!(
                    "check: the alert could not be delivered to the webhook at {}: {why}",
                    webhook.host()
                )),
            }
        }
    }
    let count = breaches.len() + usize::from(allocation.is_some());
    if count > 0 {
        Err(Failure::Breached(count))
    } else if !not_judged.is_empty() {
        Err(Failure::NotJudged(not_judged.len()))
    } else {
        let window = days.map(|d| format!(", {d}")).unwrap_or_default();
        let judged = rules.len() + usize::from(checks.allocation.is_some());
        session.progress.note(&format!(
            "check: {judged} rule(s), {} OAuth client(s){window}: nothing breached",
            clients.len()
        ));
        Ok(())
    }
}
