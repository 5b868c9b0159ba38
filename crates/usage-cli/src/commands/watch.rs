//! `watch`: the operational events live, polled (`--every`, a minute by default): on a
//! terminal a screen drawn anew after each poll (who is near which limit this hour, the
//! events by client and limit beside yesterday's 429 share, the latest events), piped one
//! NDJSON line per event, each event once. A failed
//! poll is said on stderr and tried again at the next; SIGTERM and Ctrl-C end it cleanly
//! (exit 0), after the lines of the last poll.

use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use futures_util::FutureExt as _;

use crate::analysis::live::LiveView;
use crate::cli::{WatchArgs, resolve};
use crate::commands::declared::{Declared, writes};
use crate::exit::Failure;
use crate::live::EventFeed;
use crate::live::alerts::{self, Alerts};
use crate::live::view;
use crate::render::format::Format;
use crate::render::limits::NamedEvent;
use crate::session::Session;
use crate::signals::Signals;
use crate::source::api::Api;

/// A line per event on a terminal, NDJSON otherwise; it stops on a signal itself.
pub const DECLARED: Declared = Declared {
    own_signals: true,
    ..writes(&[Format::Table, Format::Ndjson])
};

pub struct Plan {
    every: Duration,
    lookback: Duration,
    /// Where alerts go, how often per client and limit, and where the ones sent are kept.
    notify: Option<alerts::Settings>,
}

pub fn plan(args: WatchArgs, vars: &[(String, String)]) -> Result<Plan, Failure> {
    if args.lookback < args.every {
        return Err(Failure::Usage(format!(
            "--lookback {} s is shorter than --every {} s: the events between two polls would be missed",
            args.lookback.as_secs(),
            args.every.as_secs()
        )));
    }
    let notify = resolve::live_alerts(&args.alerts, vars, "watch")?;
    Ok(Plan {
        every: args.every,
        lookback: args.lookback,
        notify,
    })
}

pub async fn exec(session: &Session, api: &Api, plan: &Plan) -> Result<(), Failure> {
    let signals = Signals::listen();
    let lines = session.format == Format::Table
        && session.output.is_none()
        && std::io::stdout().is_terminal();
    let names = api.event_definition_names().await.unwrap_or_else(|why| {
        session.progress.note(&format!("watch: {why}"));
        Default::default()
    });
    let mut feed = EventFeed::new(plan.lookback);
    let mut alerts = plan.notify.as_ref().map(|settings| {
        session.progress.note(&format!(
            "watch: alerts go to the webhook at {}, one per client and limit every {} min",
            settings.webhook.host(),
            settings.every.as_secs() / 60
        ));
        Alerts::new(settings.clone(), session.progress.clone())
    });
    let every = plan.every.as_secs().max(1);
    session.progress.note(&format!(
        "watch: the operational events of the last {} min, then new ones every {every} s \
         (about {} requests an hour); Ctrl-C ends it",
        plan.lookback.as_secs() / 60,
        3600 / every
    ));
    let mut out = session.out()?;
    let stopped = signals.stopped().shared();
    let mut failing = false;
    // On a terminal: the screen, and what it shows beside the events, read again when the
    // hour (the near-limit records) or the day (yesterday's 429 share) turns.
    let mut screen = lines.then(LiveView::default);
    let mut read_hour: Option<(chrono::NaiveDate, u32)> = None;
    let mut read_day: Option<chrono::NaiveDate> = None;
    loop {
        if let Some(view) = screen.as_mut() {
            let now = chrono::Utc::now();
            if read_day != Some(now.date_naive()) {
                read_day = Some(now.date_naive());
                match view::yesterday(api, now).await {
                    Ok(shares) => view.yesterday = shares,
                    Err(why) => session
                        .progress
                        .note(&format!("watch: yesterday's 429 share is left out: {why}")),
                }
            }
            let hour = (now.date_naive(), chrono::Timelike::hour(&now));
            if read_hour != Some(hour) {
                read_hour = Some(hour);
                match view::near_now(api, now).await {
                    Ok(near) => {
                        view.near_now = near;
                        view.near_now_missing = None;
                    }
                    Err(why) => view.near_now_missing = Some(why),
                }
            }
        }
        let polled = tokio::select! {
            polled = feed.poll(chrono::Utc::now(), |interval| {
                let names = &names;
                async move { api.operational_events_named(&interval, None, names).await }
            }) => polled,
            _ = stopped.clone() => break,
        };
        match polled {
            Ok(events) => {
                if failing {
                    session.progress.note("watch: polling again");
                    failing = false;
                }
                let now = chrono::Utc::now();
                if let Some(view) = screen.as_mut() {
                    let polled: Vec<_> = events
                        .iter()
                        .map(|k| (k.event.clone(), k.event_definition_name.clone()))
                        .collect();
                    let since = now
                        - chrono::Duration::from_std(plan.lookback)
                            .unwrap_or(chrono::Duration::hours(1));
                    view.add(&polled, since);
                    view.failing = None;
                }
                for kept in events {
                    if let Some(alerts) = alerts.as_mut() {
                        let id = kept.event.entity_id.as_deref().unwrap_or_default();
                        alerts.on_event(&kept, now, feed.hours_today(id));
                    }
                    let named = NamedEvent {
                        event: kept.event,
                        event_definition_name: kept.event_definition_name,
                    };
                    if screen.is_none() {
                        serde_json::to_writer(&mut out, &named)
                            .map_err(std::io::Error::other)
                            .and_then(|()| writeln!(out))
                            .map_err(Failure::output)?;
                    }
                }
                if let Some(view) = &screen {
                    draw(&mut out, view, now, plan)?;
                }
                out.flush().map_err(Failure::output)?;
            }
            // A lost connection is shown, not fatal: the next poll catches up on what the
            // lookback still holds.
            Err(why) => {
                session.progress.note(&format!(
                    "watch: a poll failed ({why}); trying again in {every} s"
                ));
                failing = true;
                if let Some(view) = screen.as_mut() {
                    view.failing = Some(why.to_string());
                    draw(&mut out, view, chrono::Utc::now(), plan)?;
                    out.flush().map_err(Failure::output)?;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(plan.every) => {}
            _ = stopped.clone() => break,
        }
    }
    if let Some(alerts) = alerts {
        // The alerts under way get a moment; a webhook that holds on is not waited for.
        alerts.finish(Duration::from_secs(5)).await;
    }
    session.progress.note(&format!(
        "watch: stopped ({} events remembered of the last {} min)",
        feed.remembered(),
        plan.lookback.as_secs() / 60
    ));
    Ok(())
}

/// The screen drawn anew in place: the cursor home, the terminal cleared, the view.
fn draw(
    out: &mut dyn std::io::Write,
    view: &LiveView,
    now: chrono::DateTime<chrono::Utc>,
    plan: &Plan,
) -> Result<(), Failure> {
    let text = crate::render::watch::screen(
        view,
        now,
        plan.every.as_secs(),
        plan.lookback.as_secs() / 60,
    );
    write!(out, "\x1b[H\x1b[2J{text}").map_err(Failure::output)
}
