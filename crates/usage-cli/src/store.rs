//! Where `sync` keeps the dataset: a local directory or an S3 prefix. Every write replaces
//! a whole object: on disk under a temporary name in the same directory, synced, renamed,
//! and the directory synced; on S3 one PUT of the whole file (object_store's semantics),
//! so a reader or a crash never sees half of one.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt as _, PutPayload};

use crate::exit::Failure;

/// The suffix of a file being written; what a crash leaves behind ends with it.
const TEMPORARY: &str = ".genesys-usage-tmp";

/// A dataset's root.
#[derive(Clone)]
pub enum Store {
    Dir(PathBuf),
    S3 {
        store: Arc<AmazonS3>,
        prefix: String,
        url: String,
    },
}

/// An `s3://` target's endpoint: plain http only to a loopback address (a local test
/// server); anything else must be https, so keys and data never cross a network in clear.
fn allow_http(endpoint: &str) -> Result<bool, Failure> {
    let Some(rest) = endpoint.strip_prefix("http://") else {
        return Ok(false);
    };
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(true)
    } else {
        Err(Failure::Usage(format!(
            "AWS_ENDPOINT_URL {endpoint:?}: plain http only to a loopback address; use https"
        )))
    }
}

impl Store {
    /// `--to DIR` or `--to s3://bucket/prefix`, the S3 one configured by the standard AWS
    /// variables of `vars` (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
    /// `AWS_REGION`, `AWS_ENDPOINT_URL`).
    /// `flag` names the target in messages (`--to` for sync, `--from` for a reader).
    pub fn open(flag: &str, to: &str, vars: &[(String, String)]) -> Result<Self, Failure> {
        let Some(rest) = to.strip_prefix("s3://") else {
            if to.contains("://") {
                return Err(Failure::Usage(format!(
                    "{flag} {to:?}: give a directory or s3://bucket/prefix"
                )));
            }
            return Ok(Store::Dir(PathBuf::from(to)));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Failure::Usage(format!(
                "{flag} {to:?}: no bucket; give s3://bucket/prefix"
            )));
        }
        let var = |name: &str| {
            vars.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        let mut builder = AmazonS3Builder::new().with_bucket_name(bucket);
        if let Some(key) = var("AWS_ACCESS_KEY_ID") {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = var("AWS_SECRET_ACCESS_KEY") {
            builder = builder.with_secret_access_key(secret);
        }
        if let Some(token) = var("AWS_SESSION_TOKEN") {
            builder = builder.with_token(token);
        }
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".into());
        builder = builder.with_region(region);
        if let Some(endpoint) = var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL")) {
            builder = builder
                .with_allow_http(allow_http(&endpoint)?)
                .with_endpoint(endpoint);
        }
        let store = builder
            .build()
            .map_err(|e| Failure::Usage(format!("{flag} {to}: {e}")))?;
        Ok(Store::S3 {
            store: Arc::new(store),
            prefix: prefix.trim_matches('/').to_string(),
            url: to.trim_end_matches('/').to_string(),
        })
    }

    /// Where it is, for messages.
    pub fn describe(&self) -> String {
        match self {
            Store::Dir(dir) => dir.display().to_string(),
            Store::S3 { url, .. } => url.clone(),
        }
    }

    pub(crate) fn object(prefix: &str, key: &str) -> ObjectPath {
        if prefix.is_empty() {
            ObjectPath::from(key)
        } else {
            ObjectPath::from(format!("{prefix}/{key}"))
        }
    }

    /// The object at `key`, or `None` when there is none.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Failure> {
        match self {
            Store::Dir(dir) => match std::fs::read(dir.join(key)) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Failure::Io(e)),
            },
            Store::S3 { store, prefix, url } => match store.get(&Self::object(prefix, key)).await {
                Ok(result) => Ok(Some(
                    result
                        .bytes()
                        .await
                        .map_err(|e| s3_failure(url, key, e))?
                        .to_vec(),
                )),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(s3_failure(url, key, e)),
            },
        }
    }

    /// Replaces the object at `key` whole.
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), Failure> {
        match self {
            Store::Dir(dir) => {
                let path = dir.join(key);
                tokio::task::spawn_blocking(move || write_whole(&path, &bytes))
                    .await
                    .map_err(|e| Failure::Io(std::io::Error::other(e)))?
                    .map_err(Failure::Io)
            }
            Store::S3 { store, prefix, url } => store
                .put(&Self::object(prefix, key), PutPayload::from(bytes))
                .await
                .map(drop)
                .map_err(|e| s3_failure(url, key, e)),
        }
    }

    /// Refuses a target that cannot be written, before anything is sent to the Usage API:
    /// a directory is created and a file written and removed in it; on S3 an object is put
    /// and deleted.
    pub async fn check_writable(&self) -> Result<(), Failure> {
        // Named by the process: two runs probing one target at once (one then refused by
        // the lock) never remove each other's probe.
        let probe = format!(
            "_genesys_usage_write_check.{}{TEMPORARY}",
            std::process::id()
        );
        let refused = |e: String| {
            Failure::Usage(format!("--to {}: cannot write there: {e}", self.describe()))
        };
        match self {
            Store::Dir(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| refused(e.to_string()))?;
                let path = dir.join(&probe);
                std::fs::write(&path, b"").map_err(|e| refused(e.to_string()))?;
                match std::fs::remove_file(&path) {
                    // The run holding the target removed it as a leftover: written, then.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    other => other.map_err(|e| refused(e.to_string())),
                }
            }
            Store::S3 { store, prefix, .. } => {
                let object = Self::object(prefix, &probe);
                store
                    .put(&object, PutPayload::from_static(b""))
                    .await
                    .map_err(|e| refused(e.to_string()))?;
                store
                    .delete(&object)
                    .await
                    .map_err(|e| refused(e.to_string()))
            }
        }
    }

    /// Removes what an interrupted write left: temporary files under a directory (S3 has
    /// none: an object is there whole or not at all). Returns how many.
    pub fn remove_leftovers(&self) -> Result<usize, Failure> {
        let Store::Dir(dir) = self else {
            return Ok(0);
        };
        let mut removed = 0;
        let mut pending = vec![dir.clone()];
        while let Some(next) = pending.pop() {
            let entries = match std::fs::read_dir(&next) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Failure::Io(e)),
            };
            for entry in entries {
                let entry = entry?;
                let path = entry.path();
                if entry.file_type()?.is_dir() {
                    // Only the dataset's own folders: a sync never writes elsewhere.
                    if next == *dir && entry.file_name() != "usage" {
                        continue;
                    }
                    pending.push(path);
                } else if entry.file_name().to_string_lossy().ends_with(TEMPORARY) {
                    std::fs::remove_file(&path)?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

fn s3_failure(url: &str, key: &str, e: object_store::Error) -> Failure {
    Failure::Api(format!("{url}/{key}: {e}").into())
}

/// Writes `bytes` as `path` so that `path` is the old file or the whole new one at any
/// moment: a temporary file beside it, synced, renamed over it, the directory synced.
fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("a file has a directory"))?;
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("a file has a name"))?
        .to_string_lossy();
    let temporary = dir.join(format!("{name}.{}{TEMPORARY}", std::process::id()));
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)?;
    // The rename is durable once the directory's entry is.
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        assert_eq!(allow_http("http://127.0.0.1:5000").ok(), Some(true));
        assert_eq!(allow_http("http://localhost:9000/").ok(), Some(true));
        assert_eq!(allow_http("http://[::1]:9000").ok(), Some(true));
        assert_eq!(allow_http("https://s3.example.com").ok(), Some(false));
        assert!(allow_http("http://s3.example.com").is_err());
        assert!(allow_http("http://10.0.0.1:9000").is_err());
    }

    #[test]
    fn a_write_replaces_the_file_whole_and_leftovers_are_removed() {
        let dir = std::env::temp_dir().join(format!("usage-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::Dir(dir.clone());
        let key = "usage/granularity=day/date=2026-11-30/part-0.parquet";
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(store.put(key, b"first".to_vec())).unwrap();
        runtime
            .block_on(store.put(key, b"second".to_vec()))
            .unwrap();
        assert_eq!(
            runtime.block_on(store.get(key)).unwrap().as_deref(),
            Some(&b"second"[..])
        );
        assert_eq!(runtime.block_on(store.get("none")).unwrap(), None);
        // What a crash between the write and the rename leaves.
        let day = dir.join("usage/granularity=day/date=2026-11-30");
        std::fs::write(day.join(format!("part-0.parquet.1{TEMPORARY}")), b"half").unwrap();
        std::fs::write(
            dir.join(format!("_genesys_usage_sync.json.1{TEMPORARY}")),
            b"{",
        )
        .unwrap();
        assert_eq!(store.remove_leftovers().unwrap(), 2);
        let left: Vec<_> = std::fs::read_dir(&day)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("part-0.parquet")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
