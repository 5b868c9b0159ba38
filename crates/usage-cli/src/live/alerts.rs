//! The live feed's alerts (`watch --notify`): at most one per client and limit every
//! `--notify-every` (an hour by default, Okta's practice), kept across a restart in a small
//! state file, so a watch restarted by its service manager does not alert again. Each is
//! sent on its own task, so a slow webhook never holds the feed up; one that is not taken
//! (after its retries) is not marked sent, and the next event of its client and limit tries
//! again. Sent, then marked: a crash between the two may send one twice, never lose one.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::lake::events::Kept;
use crate::notify::{Alert, Webhook};
use crate::progress::Progress;
use crate::render::limits::{NamedEvent, event_alert};

/// A client and a limit: the event's entity, its definition and the value it was near.
type Key = String;

/// What was sent when, by client and limit, as the state file keeps it.
type Sent = BTreeMap<Key, DateTime<Utc>>;

/// Where a feed's alerts go, how often per client and limit, where the ones sent are kept,
/// and which command sends them.
#[derive(Clone)]
pub struct Settings {
    pub webhook: Webhook,
    pub every: Duration,
    pub state: PathBuf,
    pub command: String,
}

/// The alerts of a feed.
pub struct Alerts {
    command: String,
    webhook: Arc<Webhook>,
    every: chrono::Duration,
    state: PathBuf,
    sent: Arc<Mutex<Sent>>,
    progress: Arc<Progress>,
    /// The deliveries under way, awaited when the feed ends.
    sending: Vec<tokio::task::JoinHandle<()>>,
}

impl Alerts {
    /// Alerts to `webhook`, one per client and limit every `every`, remembered in `state`
    /// (a file that does not exist yet is an empty memory; one that does not read is said
    /// and started afresh).
    pub fn new(settings: Settings, progress: Arc<Progress>) -> Self {
        let Settings {
            webhook,
            every,
            state,
            command,
        } = settings;
        let sent: Sent = match std::fs::read(&state) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                progress.note(&format!(
                    "{command}: {} does not read ({e}); alerts start afresh",
                    state.display()
                ));
                Sent::new()
            }),
            Err(_) => Sent::new(),
        };
        Self {
            command,
            webhook: Arc::new(webhook),
            every: chrono::Duration::from_std(every).unwrap_or(chrono::Duration::hours(1)),
            state,
            sent: Arc::new(Mutex::new(sent)),
            progress,
            sending: Vec::new(),
        }
    }

    /// The same alerts kept in another file (another org's, when an exporter serves
    /// several): `STATE` becomes `STATE` with `-PROFILE` before its extension.
    pub fn for_profile(settings: &Settings, profile: Option<&str>) -> Settings {
        let mut settings = settings.clone();
        if let Some(profile) = profile {
            let stem = settings
                .state
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let safe: String = profile
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            settings.state.set_file_name(format!("{stem}-{safe}.json"));
        }
        settings
    }

    /// Sends `kept`'s alert unless its client and limit had one within `every` of `now`,
    /// with the client's `hours_today` with events.
    pub fn on_event(&mut self, kept: &Kept, now: DateTime<Utc>, hours_today: usize) {
        let command = self.command.clone();
        self.send_once(kept, now, || {
            event_alert(
                &NamedEvent {
                    event: kept.event.clone(),
                    event_definition_name: kept.event_definition_name.clone(),
                },
                hours_today,
                &command,
            )
        });
    }

    fn send_once(&mut self, kept: &Kept, now: DateTime<Utc>, alert: impl FnOnce() -> Alert) {
        let event = &kept.event;
        let key = format!(
            "{}|{}|{}",
            event.entity_id.as_deref().unwrap_or_default(),
            event
                .event_definition
                .as_ref()
                .and_then(|d| d.id.as_deref())
                .unwrap_or_default(),
            event.current_value.as_deref().unwrap_or_default()
        );
        {
            let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
            if sent.get(&key).is_some_and(|at| now - *at < self.every) {
                return;
            }
            // Claimed now, so that the next event of the same client and limit does not
            // send a second while this one is under way.
            sent.insert(key.clone(), now);
        }
        let alert = alert();
        let (webhook, sent, state, progress) = (
            self.webhook.clone(),
            self.sent.clone(),
            self.state.clone(),
            self.progress.clone(),
        );
        let every = self.every;
        let command = self.command.clone();
        self.sending.push(tokio::spawn(async move {
            match webhook.deliver(&alert).await {
                Ok(()) => {
                    let kept = {
                        let mut sent = sent.lock().unwrap_or_else(|e| e.into_inner());
                        sent.retain(|_, at| now - *at < every);
                        sent.clone()
                    };
                    if let Err(e) = save(&state, &kept) {
                        progress.note(&format!(
                            "{command}: the alerts sent could not be kept in {}: {e}",
                            state.display()
                        ));
                    }
                }
                Err(why) => {
                    sent.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
                    progress.note(&format!(
                        "{command}: an alert could not be delivered to the webhook at {}: {why}",
                        webhook.host()
                    ));
                }
            }
        }));
        self.sending.retain(|task| !task.is_finished());
    }

    /// Waits for the deliveries under way, `patience` at most (the feed is ending).
    pub async fn finish(self, patience: Duration) {
        let all = futures_util::future::join_all(self.sending);
        let _ = tokio::time::timeout(patience, all).await;
    }
}

/// The state written whole: a temporary file renamed over the old one.
fn save(state: &std::path::Path, sent: &Sent) -> std::io::Result<()> {
    if let Some(dir) = state.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let partial = state.with_extension("partial");
    std::fs::write(
        &partial,
        serde_json::to_vec_pretty(sent).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(&partial, state)
}

/// Where `command`'s alerts sent are kept by default: `$XDG_STATE_HOME/genesys-usage/`,
/// else `~/.local/state/genesys-usage/` (the XDG base directories' state), a file per
/// command, so that a watch and an exporter keep their own.
pub fn default_state(vars: &[(String, String)], command: &str) -> Option<PathBuf> {
    let var = |name: &str| {
        vars.iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| PathBuf::from(v))
    };
    let base = var("XDG_STATE_HOME").or_else(|| var("HOME").map(|h| h.join(".local/state")))?;
    Some(
        base.join("genesys-usage")
            .join(format!("{command}-alerts.json")),
    )
}
