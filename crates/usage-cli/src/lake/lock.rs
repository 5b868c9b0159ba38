//! One sync at a time per target. Two runs on one dataset (a cron run and a manual one)
//! would each take the other's unfinished files for a crash's leftovers, so a run takes the
//! target for itself before it reads or removes anything, and a second run refuses at once.
//!
//! - A directory: `_genesys_usage_sync.lock`, locked with the operating system's advisory
//!   file lock (`flock`). The kernel releases it when the process ends, however it ends, so
//!   a run killed with SIGKILL never blocks the next. The file says who holds it.
//! - S3: the object `_genesys_usage_sync.lock`, created only if absent (`If-None-Match`),
//!   holding who and until when. The holder renews it while it runs; a run that finds it
//!   past its expiry, or held by a process of its own host that is gone (a crashed run's),
//!   takes it over with `If-Match` on what it read, so of two runs taking over one lock only
//!   one succeeds. A run checks that the object is still the one it wrote before each file
//!   it writes (a run paused past its expiry finds its lock taken and stops), and gives it
//!   back by writing it `released` with `If-Match`: S3 has no conditional delete that
//!   object_store offers, and an unconditional delete would remove a successor's lock.

use std::io::{Read as _, Seek as _, Write as _};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use object_store::path::Path as ObjectPath;
use object_store::{
    ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload, UpdateVersion,
};
use serde::{Deserialize, Serialize};

use crate::exit::Failure;
use crate::lake::store::Store;

/// The lock's name in the dataset's root.
pub const LOCK_FILE: &str = "_genesys_usage_sync.lock";

/// How long an S3 lock holds without being renewed: past it, a crashed run's lock is taken.
const S3_EXPIRY: Duration = Duration::from_secs(10 * 60);

/// How often a running sync renews its S3 lock: five chances before it expires.
const S3_RENEW_EVERY: Duration = Duration::from_secs(2 * 60);

/// Who holds a lock, as written in it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Holder {
    pid: u32,
    host: String,
    started: DateTime<Utc>,
    /// S3 only: when the lock lapses unless renewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires: Option<DateTime<Utc>>,
    /// S3 only: given back by its run, free to take (no takeover to note).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    released: bool,
}

impl Holder {
    fn this_process(expires: Option<DateTime<Utc>>) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "an unknown host".into());
        Self {
            pid: std::process::id(),
            host,
            started: Utc::now(),
            expires,
            released: false,
        }
    }

    /// Whether the holder is a process of this host that no longer runs: its lock need not
    /// wait for the expiry. Known only where `/proc` lists the processes.
    fn is_dead(&self, this: &Holder) -> bool {
        let proc = std::path::Path::new("/proc");
        self.host == this.host
            && self.pid != this.pid
            && proc.join("self").exists()
            && !proc.join(self.pid.to_string()).exists()
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    fn describe(&self) -> String {
        let started = self.started.format("%Y-%m-%dT%H:%M:%SZ");
        let mut text = format!("process {} on {} since {started}", self.pid, self.host);
        if let Some(expires) = self.expires {
            text.push_str(&format!(
                " (its lock lapses at {} unless renewed)",
                expires.format("%Y-%m-%dT%H:%M:%SZ")
            ));
        }
        text
    }
}

/// The target, held by this run until it is released or the process ends.
pub struct SyncLock {
    held: Held,
    /// Who held the expired lock this run took over, for a note.
    pub took_over: Option<String>,
}

enum Held {
    /// The open, locked file: closing it releases the lock.
    Dir(#[allow(dead_code)] std::fs::File),
    S3 {
        renewing: tokio::task::JoinHandle<()>,
        status: Arc<Mutex<S3Status>>,
        store: Arc<dyn ObjectStore>,
        object: ObjectPath,
        place: String,
    },
}

/// What the renewals know of an S3 lock.
struct S3Status {
    /// The lock's version as this run last wrote it.
    e_tag: Option<String>,
    /// Until when this run holds it for certain.
    valid_until: DateTime<Utc>,
    /// Another run has it now.
    lost: bool,
}

fn held_elsewhere(place: &str, who: &str) -> Failure {
    Failure::Usage(format!(
        "--to {place}: another sync is running on it: {who}. One sync at a time per target: \
         wait for it to end"
    ))
}

/// Takes `store` for this run, or refuses (exit 2) naming who holds it.
pub async fn take(store: &Store) -> Result<SyncLock, Failure> {
    match store {
        Store::Dir(dir) => take_file(&dir.join(LOCK_FILE), &store.describe()),
        Store::S3 {
            store: s3,
            prefix,
            url,
            ..
        } => take_object(s3.clone(), Store::object(prefix, LOCK_FILE), url).await,
    }
}

fn take_file(path: &std::path::Path, place: &str) -> Result<SyncLock, Failure> {
    let cannot = |e: std::io::Error| {
        Failure::Usage(format!(
            "--to {place}: cannot open the lock {}: {e}",
            path.display()
        ))
    };
    // Never truncated on open: a run that finds it locked reads who holds it.
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(cannot)?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0).map_err(cannot)?;
            file.rewind().map_err(cannot)?;
            file.write_all(&Holder::this_process(None).to_bytes())
                .and_then(|()| file.sync_all())
                .map_err(cannot)?;
            Ok(SyncLock {
                held: Held::Dir(file),
                took_over: None,
            })
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            let who = serde_json::from_str::<Holder>(&text)
                .map(|h| h.describe())
                .unwrap_or_else(|_| "a run that has not written who it is yet".into());
            Err(held_elsewhere(place, &who))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(cannot(e)),
    }
}

fn s3_failure(place: &str, e: object_store::Error) -> Failure {
    Failure::store(format!("{place}/{LOCK_FILE}"), e)
}

async fn take_object(
    s3: Arc<dyn ObjectStore>,
    object: ObjectPath,
    place: &str,
) -> Result<SyncLock, Failure> {
    let expires =
        |now: DateTime<Utc>| now + chrono::Duration::from_std(S3_EXPIRY).unwrap_or_default();
    // Twice at most: a lock released between the create and the read is created again.
    for _ in 0..2 {
        let now = Utc::now();
        let holder = Holder::this_process(Some(expires(now)));
        let create = PutOptions::from(PutMode::Create);
        match s3
            .put_opts(&object, PutPayload::from(holder.to_bytes()), create)
            .await
        {
            Ok(put) => return Ok(held_object(s3, object, place, put.e_tag, now, None)),
            Err(object_store::Error::AlreadyExists { .. }) => {}
            Err(e) => return Err(s3_failure(place, e)),
        }
        let found = match s3.get(&object).await {
            Ok(found) => found,
            Err(object_store::Error::NotFound { .. }) => continue,
            Err(e) => return Err(s3_failure(place, e)),
        };
        let e_tag = found.meta.e_tag.clone();
        let bytes = found.bytes().await.map_err(|e| s3_failure(place, e))?;
        let Ok(other) = serde_json::from_slice::<Holder>(&bytes) else {
            return Err(Failure::Usage(format!(
                "--to {place}: {LOCK_FILE} is not a lock this tool wrote; if no sync runs on \
                 the target, delete it"
            )));
        };
        if !other.released && other.expires.is_none_or(|at| at > now) && !other.is_dead(&holder) {
            return Err(held_elsewhere(place, &other.describe()));
        }
        // Expired, or its process is gone: a crashed run's. Taken only if nobody changed it
        // since it was read.
        let update = PutOptions::from(PutMode::Update(UpdateVersion {
            e_tag,
            version: None,
        }));
        match s3
            .put_opts(&object, PutPayload::from(holder.to_bytes()), update)
            .await
        {
            Ok(put) => {
                let before = (!other.released).then(|| other.describe());
                return Ok(held_object(s3, object, place, put.e_tag, now, before));
            }
            Err(object_store::Error::Precondition { .. }) => {
                return Err(held_elsewhere(
                    place,
                    "a run that took over the expired lock just now",
                ));
            }
            Err(e) => return Err(s3_failure(place, e)),
        }
    }
    Err(held_elsewhere(
        place,
        "runs that keep taking and releasing it",
    ))
}

fn held_object(
    s3: Arc<dyn ObjectStore>,
    object: ObjectPath,
    place: &str,
    e_tag: Option<String>,
    now: DateTime<Utc>,
    took_over: Option<String>,
) -> SyncLock {
    let status = Arc::new(Mutex::new(S3Status {
        e_tag,
        valid_until: now + chrono::Duration::from_std(S3_EXPIRY).unwrap_or_default(),
        lost: false,
    }));
    let renewing = tokio::spawn(renew(s3.clone(), object.clone(), status.clone()));
    SyncLock {
        held: Held::S3 {
            renewing,
            status,
            store: s3,
            object,
            place: place.to_string(),
        },
        took_over,
    }
}

/// Pushes the lock's expiry forward while the run goes on. A renewal that fails on the
/// network is tried at the next tick; one refused because the lock changed means another
/// run has it.
async fn renew(s3: Arc<dyn ObjectStore>, object: ObjectPath, status: Arc<Mutex<S3Status>>) {
    let mut ticks = tokio::time::interval(S3_RENEW_EVERY);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let e_tag = status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .e_tag
            .clone();
        let now = Utc::now();
        let until = now + chrono::Duration::from_std(S3_EXPIRY).unwrap_or_default();
        let mut holder = Holder::this_process(Some(until));
        holder.started = now;
        let update = PutOptions::from(PutMode::Update(UpdateVersion {
            e_tag,
            version: None,
        }));
        let answer = s3
            .put_opts(&object, PutPayload::from(holder.to_bytes()), update)
            .await;
        let mut status = status.lock().unwrap_or_else(|e| e.into_inner());
        match answer {
            Ok(put) => {
                status.e_tag = put.e_tag;
                status.valid_until = until;
            }
            Err(
                object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. },
            ) => {
                status.lost = true;
                return;
            }
            Err(e) => tracing::warn!(error = %e, "renewing the sync lock failed; trying again"),
        }
    }
}

impl SyncLock {
    /// Whether this run still holds the target: checked before each file it writes, so
    /// that a run whose lock another took (it was paused past the expiry, or could not
    /// renew) writes nothing more. On S3 the lock object is read back (one HEAD) and must
    /// be the version this run wrote; a write right after the check can still race a
    /// takeover, which the store gives no way to rule out.
    pub async fn check(&self) -> Result<(), Failure> {
        let Held::S3 {
            status,
            place,
            store,
            object,
            ..
        } = &self.held
        else {
            return Ok(());
        };
        let lost = |why: &str| Failure::LockLost {
            place: place.clone(),
            why: why.to_string(),
        };
        let ours = {
            let status = status.lock().unwrap_or_else(|e| e.into_inner());
            if status.lost {
                return Err(lost("another run changed it"));
            }
            if Utc::now() >= status.valid_until {
                return Err(lost(
                    "it could not renew it in time, and another run may have taken it",
                ));
            }
            status.e_tag.clone()
        };
        match store.head(object).await {
            Ok(meta) if ours.is_none() || meta.e_tag == ours => Ok(()),
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {
                status.lock().unwrap_or_else(|e| e.into_inner()).lost = true;
                Err(lost("another run has taken it"))
            }
            Err(e) => Err(s3_failure(place, e)),
        }
    }

    /// Gives the target back: the file is unlocked; the S3 object is written `released`,
    /// only if it is still the version this run wrote (`If-Match`), so that a successor's
    /// lock is never touched.
    pub async fn release(self) {
        match self.held {
            Held::Dir(file) => drop(file),
            Held::S3 {
                renewing,
                status,
                store,
                object,
                ..
            } => {
                renewing.abort();
                let (lost, e_tag) = {
                    let status = status.lock().unwrap_or_else(|e| e.into_inner());
                    (status.lost, status.e_tag.clone())
                };
                if lost {
                    return;
                }
                let mut holder = Holder::this_process(Some(Utc::now()));
                holder.released = true;
                let update = PutOptions::from(PutMode::Update(UpdateVersion {
                    e_tag,
                    version: None,
                }));
                match store
                    .put_opts(&object, PutPayload::from(holder.to_bytes()), update)
                    .await
                {
                    Ok(_) => {}
                    // Taken by another run meanwhile: it is theirs now.
                    Err(
                        object_store::Error::Precondition { .. }
                        | object_store::Error::NotFound { .. },
                    ) => {}
                    Err(e) => tracing::warn!(
                        error = %e,
                        "releasing the sync lock failed; it lapses on its own"
                    ),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use object_store::memory::InMemory;

    use super::*;

    const PLACE: &str = "s3://bucket/prefix";

    fn object() -> ObjectPath {
        ObjectPath::from(format!("prefix/{LOCK_FILE}"))
    }

    async fn read(store: &InMemory) -> Option<Holder> {
        let found = store.get(&object()).await.ok()?;
        serde_json::from_slice(&found.bytes().await.ok()?).ok()
    }

    /// Another host's run taking the lock over (as it does once the lock has lapsed).
    async fn successor_takes(store: &InMemory) {
        let mut other = Holder::this_process(Some(Utc::now() + chrono::Duration::minutes(10)));
        other.host = "another-host".into();
        other.pid = 4242;
        store
            .put(&object(), PutPayload::from(other.to_bytes()))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_run_whose_lock_was_taken_checks_false_and_leaves_the_successors_lock() {
        let store = Arc::new(InMemory::new());
        let lock = take_object(store.clone(), object(), PLACE).await.unwrap();
        lock.check().await.unwrap();
        // Paused past its expiry: another run has taken the target meanwhile.
        successor_takes(&store).await;
        let err = lock.check().await.unwrap_err();
        assert!(
            matches!(&err, Failure::LockLost { why, .. } if why.contains("another run")),
            "{err:?}"
        );
        lock.release().await;
        let holder = read(&store)
            .await
            .expect("the successor's lock is still there");
        assert_eq!((holder.host.as_str(), holder.pid), ("another-host", 4242));
        assert!(!holder.released);
    }

    #[tokio::test]
    async fn a_released_lock_is_taken_at_once_without_a_takeover() {
        let store = Arc::new(InMemory::new());
        let first = take_object(store.clone(), object(), PLACE).await.unwrap();
        let refused = take_object(store.clone(), object(), PLACE).await;
        assert!(
            matches!(&refused, Err(Failure::Usage(t)) if t.contains("another sync is running")),
            "a second run while the first holds it"
        );
        first.release().await;
        assert!(read(&store).await.unwrap().released);
        let second = take_object(store.clone(), object(), PLACE).await.unwrap();
        assert_eq!(
            second.took_over, None,
            "a released lock is no crashed run's"
        );
        second.check().await.unwrap();
        assert!(!read(&store).await.unwrap().released);
        second.release().await;
    }
}
