//! Where `sync` keeps the dataset: a local directory or an S3 prefix. Every write replaces
//! a whole object: on disk under a temporary name in the same directory, synced, renamed,
//! and the directory synced; on S3 one PUT of the whole file (object_store's semantics),
//! so a reader or a crash never sees half of one.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
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
        /// Where the credentials come from, named in every S3 error.
        credentials: Credentials,
    },
}

/// Where object_store takes S3 credentials from, in its order: the first source whose
/// variables are set, else the instance's metadata service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN if set).
    Keys,
    /// AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN (EKS's IAM roles for service accounts).
    WebIdentity,
    /// AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (ECS).
    Container,
    /// AWS_CONTAINER_CREDENTIALS_FULL_URI with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (EKS
    /// Pod Identity).
    PodIdentity,
    /// None of those set: the instance metadata service (EC2), at this endpoint.
    InstanceMetadata(String),
}

impl Credentials {
    fn of(var: &dyn Fn(&str) -> Option<String>) -> Self {
        let set = |name: &str| var(name).is_some();
        if set("AWS_ACCESS_KEY_ID") || set("AWS_SECRET_ACCESS_KEY") {
            Self::Keys
        } else if set("AWS_WEB_IDENTITY_TOKEN_FILE") && set("AWS_ROLE_ARN") {
            Self::WebIdentity
        } else if set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            Self::Container
        } else if set("AWS_CONTAINER_CREDENTIALS_FULL_URI")
            && set("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
        {
            Self::PodIdentity
        } else {
            Self::InstanceMetadata(
                var("AWS_METADATA_ENDPOINT").unwrap_or_else(|| "http://169.254.169.254".into()),
            )
        }
    }

    /// An S3 error with where its credentials came from.
    fn explain(&self, e: impl std::fmt::Display) -> String {
        format!("{e} (S3 credentials from {})", self.describe())
    }

    /// What was tried, for an error: the source, and for the last resort the variables
    /// that would have named another.
    pub fn describe(&self) -> String {
        match self {
            Self::Keys => "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into(),
            Self::WebIdentity => {
                "web identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, through STS".into()
            }
            Self::Container => "the container's AWS_CONTAINER_CREDENTIALS_RELATIVE_URI".into(),
            Self::PodIdentity => {
                "AWS_CONTAINER_CREDENTIALS_FULL_URI with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
                    .into()
            }
            Self::InstanceMetadata(endpoint) => format!(
                "the instance metadata service at {endpoint}, as none of AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY, AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, \
                 AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, or AWS_CONTAINER_CREDENTIALS_FULL_URI \
                 and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE is set (AWS_PROFILE and ~/.aws are \
                 not read)"
            ),
        }
    }
}

/// The value of `name` in `vars`; an empty one counts as unset.
fn var(vars: &[(String, String)], name: &str) -> Option<String> {
    vars.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
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
    /// `--to DIR` or `--to s3://bucket/prefix`, the S3 one configured by every `AWS_*`
    /// variable of `vars` that object_store knows (its credential chain included), plain
    /// http allowed only to a loopback endpoint.
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
        let var = |name: &str| var(vars, name);
        let mut builder = AmazonS3Builder::new().with_bucket_name(bucket);
        // Every AWS_* setting object_store knows, as AWS's own tools read them where a
        // service runs (web identity on EKS, container credentials on ECS, the instance's
        // metadata); but plain http is this tool's rule, not AWS_ALLOW_HTTP's.
        for (key, value) in vars {
            if !key.starts_with("AWS_") || value.is_empty() || key == "AWS_ALLOW_HTTP" {
                continue;
            }
            if let Ok(config) = key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                builder = builder.with_config(config, value);
            }
        }
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".into());
        builder = builder.with_region(region);
        match var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL")) {
            Some(endpoint) => {
                builder = builder
                    .with_allow_http(allow_http(&endpoint)?)
                    .with_endpoint(endpoint);
            }
            None => builder = builder.with_allow_http(false),
        }
        let credentials = Credentials::of(&var);
        let store = builder
            .build()
            .map_err(|e| Failure::Usage(format!("{flag} {to}: {}", credentials.explain(e))))?;
        Ok(Store::S3 {
            store: Arc::new(store),
            prefix: prefix.trim_matches('/').to_string(),
            url: to.trim_end_matches('/').to_string(),
            credentials,
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
                Err(e) => Err(Failure::store(dir.join(key).display().to_string(), e)),
            },
            Store::S3 {
                store,
                prefix,
                url,
                credentials,
            } => match store.get(&Self::object(prefix, key)).await {
                Ok(result) => Ok(Some(
                    result
                        .bytes()
                        .await
                        .map_err(|e| s3_failure(url, credentials, key, e))?
                        .to_vec(),
                )),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(s3_failure(url, credentials, key, e)),
            },
        }
    }

    /// Replaces the object at `key` whole.
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), Failure> {
        match self {
            Store::Dir(dir) => {
                let path = dir.join(key);
                let place = path.display().to_string();
                tokio::task::spawn_blocking(move || write_whole(&path, &bytes))
                    .await
                    .map_err(|e| Failure::store(place.clone(), e))?
                    .map_err(|e| Failure::store(place, e))
            }
            Store::S3 {
                store,
                prefix,
                url,
                credentials,
            } => store
                .put(&Self::object(prefix, key), PutPayload::from(bytes))
                .await
                .map(drop)
                .map_err(|e| s3_failure(url, credentials, key, e)),
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
            Store::S3 {
                store,
                prefix,
                credentials,
                ..
            } => {
                let refused = |e: object_store::Error| refused(credentials.explain(e));
                let object = Self::object(prefix, &probe);
                store
                    .put(&object, PutPayload::from_static(b""))
                    .await
                    .map_err(refused)?;
                store.delete(&object).await.map_err(refused)
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
            let failed = |e| Failure::store(next.display().to_string(), e);
            let entries = match std::fs::read_dir(&next) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(failed(e)),
            };
            for entry in entries {
                let entry = entry.map_err(failed)?;
                let path = entry.path();
                if entry.file_type().map_err(failed)?.is_dir() {
                    // Only the dataset's own folders: a sync never writes elsewhere.
                    if next == *dir && entry.file_name() != "usage" {
                        continue;
                    }
                    pending.push(path);
                } else if entry.file_name().to_string_lossy().ends_with(TEMPORARY) {
                    std::fs::remove_file(&path)
                        .map_err(|e| Failure::store(path.display().to_string(), e))?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

fn s3_failure(url: &str, credentials: &Credentials, key: &str, e: object_store::Error) -> Failure {
    Failure::store(format!("{url}/{key}"), credentials.explain(e))
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

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn credentials_come_from_the_first_source_set_in_object_stores_order() {
        let of = |pairs: &[(&str, &str)]| {
            let vars = vars(pairs);
            Credentials::of(&|name: &str| var(&vars, name))
        };
        let web = [
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token"),
            ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
        ];
        assert_eq!(of(&web), Credentials::WebIdentity);
        assert_eq!(
            of(&[web[0], web[1], ("AWS_ACCESS_KEY_ID", "k")]),
            Credentials::Keys
        );
        assert_eq!(
            of(&[web[0], ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/x")]),
            Credentials::Container,
            "a token file without a role is not web identity"
        );
        assert_eq!(
            of(&[(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "http://169.254.170.23/v1"
            )]),
            Credentials::InstanceMetadata("http://169.254.169.254".into()),
            "a full URI needs its token file"
        );
        assert_eq!(
            of(&[
                ("AWS_METADATA_ENDPOINT", "http://127.0.0.1:1"),
                ("AWS_ACCESS_KEY_ID", "")
            ]),
            Credentials::InstanceMetadata("http://127.0.0.1:1".into())
        );
    }

    #[test]
    fn aws_allow_http_does_not_open_plain_http_to_another_host() {
        let refused = Store::open(
            "--to",
            "s3://bucket/p",
            &vars(&[
                ("AWS_ALLOW_HTTP", "true"),
                ("AWS_ENDPOINT_URL", "http://s3.example.com"),
            ]),
        );
        assert!(matches!(refused, Err(Failure::Usage(_))));
        // Every other AWS_* setting object_store knows is passed through: a bad value of one
        // is its error at open.
        let bad = Store::open(
            "--to",
            "s3://bucket/p",
            &vars(&[("AWS_ACCESS_KEY_ID", "k"), ("AWS_SKIP_SIGNATURE", "maybe")]),
        );
        let Err(Failure::Usage(message)) = bad else {
            panic!("a bad AWS_SKIP_SIGNATURE is refused");
        };
        assert!(
            message.contains("S3 credentials from AWS_ACCESS_KEY_ID"),
            "{message}"
        );
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
