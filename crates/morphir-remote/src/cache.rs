//! [`RemoteCacheClient`]: the build's view of the remote cache (the `RemoteCache` trait of
//! `morphir-cache`), with the failure policy: one warning, then quiet misses; after
//! [`MAX_FAILURES`] failures in a row, no more requests for the rest of the build.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use morphir_cache::{BoxFuture, Key, LogLine, RemoteCache, RemoteHit, RemoteSummary};
use morphir_envelope::Envelope;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::client::Client;
use crate::mapping::{self, Hasher};
use crate::proto::{
    BatchReadBlobsRequest, BatchUpdateBlobsRequest, BatchUpdateRequest, Digest, OutputFile,
    ServerCapabilities,
};
use crate::{Error, RemoteConfig};

/// Failures in a row after which the client stops asking the server for this build.
pub(crate) const MAX_FAILURES: u32 = 3;
/// Batch requests stay below this even if the server allows more (gRPC's usual 4 MiB message
/// limit, less room for the envelope of the request).
const BATCH_CEILING: usize = 4 * 1024 * 1024 - 64 * 1024;
/// Per-blob overhead counted against the batch limit (digest, framing).
const BATCH_ENTRY_OVERHEAD: usize = 256;
/// A blob larger than this is refused outright: no step output is that big, and a server must
/// not make us allocate without bound.
const MAX_BLOB: i64 = 4 << 30;
/// Uploads in flight at once.
const UPLOADS_IN_FLIGHT: usize = 4;

/// What the server said at start.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServerInfo {
    /// The digest function in use (`sha256` or `blake3`).
    pub digest_function: &'static str,
    /// The largest batch request, in bytes, that we send.
    pub max_batch_bytes: usize,
    /// Whether the server accepts `ActionCache` updates from clients.
    pub update_enabled: bool,
    /// The REAPI versions it speaks, `low..=high` (`major.minor`).
    pub api_versions: String,
    /// How long Capabilities took, in milliseconds.
    pub round_trip_ms: u64,
}

/// A failure talking to the server.
#[derive(Debug)]
struct Failure {
    what: &'static str,
    status: tonic::Status,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let message = self.status.message();
        if message.is_empty() {
            write!(f, "{} failed: {:?}", self.what, self.status.code())
        } else {
            write!(
                f,
                "{} failed: {:?}: {message}",
                self.what,
                self.status.code()
            )
        }
    }
}

trait Context<T> {
    fn what(self, what: &'static str) -> Result<T, Failure>;
}

impl<T> Context<T> for Result<T, tonic::Status> {
    fn what(self, what: &'static str) -> Result<T, Failure> {
        self.map_err(|status| Failure { what, status })
    }
}

/// Why a lookup found nothing usable.
enum Miss {
    /// No entry, or an entry whose blobs are gone: a plain miss.
    Absent,
    /// An entry that is not ours or fails verification.
    Corrupt(String),
    /// The server failed.
    Failed(Failure),
}

/// A remote cache for one build. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct RemoteCacheClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Option<Client>,
    endpoint: String,
    hasher: Hasher,
    batch_limit: usize,
    upload: bool,
    hits: AtomicU64,
    misses: AtomicU64,
    uploads: AtomicU64,
    errors: AtomicU64,
    corrupt: AtomicU64,
    failures_in_a_row: AtomicU32,
    warned: AtomicBool,
    disabled: AtomicBool,
    /// Blobs the server served corrupt in this build: uploaded again whatever `FindMissingBlobs`
    /// says (it would call them present).
    bad_blobs: Mutex<HashSet<Digest>>,
    uploading: Mutex<JoinSet<()>>,
    upload_slots: Semaphore,
}

fn server_info(
    capabilities: &ServerCapabilities,
    round_trip: Duration,
) -> Result<ServerInfo, String> {
    let cache = capabilities
        .cache_capabilities
        .clone()
        .ok_or("the server offers no cache (no cache capabilities)")?;
    let functions = &cache.digest_functions;
    let hasher = if functions.contains(&Hasher::Blake3.value()) {
        Hasher::Blake3
    } else if functions.is_empty() || functions.contains(&Hasher::Sha256.value()) {
        // An empty list is a server older than the field, which means SHA-256.
        Hasher::Sha256
    } else {
        return Err(format!(
            "the server offers neither BLAKE3 nor SHA-256 digests (digest functions {functions:?})"
        ));
    };
    let max = usize::try_from(cache.max_batch_total_size_bytes).unwrap_or(0);
    let max_batch_bytes = if max == 0 {
        BATCH_CEILING
    } else {
        max.min(BATCH_CEILING)
    };
    let version = |v: &Option<crate::proto::SemVer>| {
        v.as_ref()
            .map_or("?".to_owned(), |v| format!("{}.{}", v.major, v.minor))
    };
    Ok(ServerInfo {
        digest_function: hasher.name(),
        max_batch_bytes,
        update_enabled: cache
            .action_cache_update_capabilities
            .is_some_and(|c| c.update_enabled),
        api_versions: format!(
            "{}..={}",
            version(&capabilities.low_api_version),
            version(&capabilities.high_api_version)
        ),
        round_trip_ms: u64::try_from(round_trip.as_millis()).unwrap_or(u64::MAX),
    })
}

/// Asks the server for its capabilities (for `morphir cache stats`).
pub async fn probe(config: &RemoteConfig) -> Result<ServerInfo, Error> {
    let client = Client::new(config)?;
    let started = Instant::now();
    let capabilities = client
        .capabilities()
        .await
        .map_err(|status| Error::Server {
            endpoint: config.endpoint.clone(),
            reason: Failure {
                what: "GetCapabilities",
                status,
            }
            .to_string(),
        })?;
    server_info(&capabilities, started.elapsed()).map_err(|reason| Error::Server {
        endpoint: config.endpoint.clone(),
        reason,
    })
}

impl RemoteCacheClient {
    /// Connects and asks the server's capabilities. Never fails: a server that cannot be used
    /// gives one warning and a client that answers every lookup with a miss.
    pub async fn connect(config: &RemoteConfig) -> Self {
        let started = Instant::now();
        let outcome = async {
            let client = Client::new(config).map_err(|e| e.to_string())?;
            let capabilities = client
                .capabilities()
                .await
                .what("GetCapabilities")
                .map_err(|e| e.to_string())?;
            let info = server_info(&capabilities, started.elapsed())?;
            Ok::<_, String>((client, info))
        }
        .await;
        let client = match outcome {
            Ok((client, info)) => {
                let upload = config.upload && info.update_enabled;
                if config.upload && !info.update_enabled {
                    tracing::warn!(
                        "remote cache {}: the server does not accept action cache updates; \
                         reading only",
                        config.endpoint
                    );
                }
                tracing::debug!(?info, "remote cache {} ready", config.endpoint);
                let hasher = if info.digest_function == "blake3" {
                    Hasher::Blake3
                } else {
                    Hasher::Sha256
                };
                return Self::with(Some(client), config, hasher, info.max_batch_bytes, upload);
            }
            Err(reason) => {
                tracing::warn!(
                    "remote cache {} is not usable ({reason}); building with the local cache only",
                    config.endpoint
                );
                Self::with(None, config, Hasher::Sha256, BATCH_CEILING, config.upload)
            }
        };
        client.inner.errors.store(1, Ordering::Relaxed);
        client.inner.warned.store(true, Ordering::Relaxed);
        client.inner.disabled.store(true, Ordering::Relaxed);
        client
    }

    fn with(
        client: Option<Client>,
        config: &RemoteConfig,
        hasher: Hasher,
        batch_limit: usize,
        upload: bool,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                endpoint: config.endpoint.clone(),
                hasher,
                batch_limit,
                upload,
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                uploads: AtomicU64::new(0),
                errors: AtomicU64::new(0),
                corrupt: AtomicU64::new(0),
                failures_in_a_row: AtomicU32::new(0),
                warned: AtomicBool::new(false),
                disabled: AtomicBool::new(false),
                bad_blobs: Mutex::new(HashSet::new()),
                uploading: Mutex::new(JoinSet::new()),
                upload_slots: Semaphore::new(UPLOADS_IN_FLIGHT),
            }),
        }
    }
}

impl Inner {
    fn usable(&self) -> Option<&Client> {
        if self.disabled.load(Ordering::Relaxed) {
            return None;
        }
        self.client.as_ref()
    }

    fn succeeded(&self) {
        self.failures_in_a_row.store(0, Ordering::Relaxed);
    }

    fn failed(&self, step: &str, failure: &Failure) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let in_a_row = self.failures_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
        if self.warned.swap(true, Ordering::Relaxed) {
            tracing::debug!("remote cache {}: {failure} (step `{step}`)", self.endpoint);
        } else {
            tracing::warn!(
                "remote cache {}: {failure} (step `{step}`); the build goes on with the local \
                 cache, and stops asking the server after {MAX_FAILURES} failures in a row",
                self.endpoint
            );
        }
        if in_a_row >= MAX_FAILURES && !self.disabled.swap(true, Ordering::Relaxed) {
            tracing::info!(
                "remote cache {}: {in_a_row} failures in a row; not asking it again in this build",
                self.endpoint
            );
        }
    }

    fn is_bad(&self, digest: &Digest) -> bool {
        self.bad_blobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(digest)
    }

    fn mark_bad(&self, digest: Digest) {
        self.bad_blobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(digest);
    }

    async fn lookup(&self, client: &Client, key: &Key) -> Result<RemoteHit, Miss> {
        let action = mapping::action(self.hasher, key);
        let Some(result) = client
            .get_action_result(action.digest, self.hasher.value())
            .await
            .what("GetActionResult")
            .map_err(Miss::Failed)?
        else {
            return Err(Miss::Absent);
        };
        let layout = mapping::layout(result).map_err(Miss::Corrupt)?;
        let mut files = layout.outputs;
        files.push(layout.logs);
        let mut blobs = self.read_blobs(client, &files).await?;
        let logs =
            mapping::decode_logs(&blobs.pop().expect("the logs blob")).map_err(Miss::Corrupt)?;
        let outputs = blobs
            .iter()
            .enumerate()
            .map(|(i, bytes)| {
                Envelope::decode(bytes)
                    .map_err(|e| Miss::Corrupt(format!("output {i} is not an envelope: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RemoteHit { outputs, logs })
    }

    /// The verified bytes of each file, in order: inline contents when the server sent them,
    /// batches for small blobs, `ByteStream` for those over the batch limit.
    async fn read_blobs(
        &self,
        client: &Client,
        files: &[OutputFile],
    ) -> Result<Vec<Vec<u8>>, Miss> {
        let mut found: Vec<Option<Vec<u8>>> = vec![None; files.len()];
        let mut batch: Vec<(usize, Digest)> = Vec::new();
        let mut batch_bytes = 0;
        let mut batches: Vec<Vec<(usize, Digest)>> = Vec::new();
        for (i, file) in files.iter().enumerate() {
            let digest = file.digest.clone().expect("layout checked digests");
            if digest.size_bytes > MAX_BLOB {
                return Err(Miss::Corrupt(format!(
                    "blob {} claims {} bytes",
                    digest.hash, digest.size_bytes
                )));
            }
            let size = digest.size_bytes as usize;
            if size == 0 || (!file.contents.is_empty() && file.contents.len() == size) {
                found[i] = Some(file.contents.clone());
            } else if size + BATCH_ENTRY_OVERHEAD > self.batch_limit {
                let name = format!(
                    "{}{}",
                    instance_prefix(client.instance()),
                    self.hasher.blob_path(&digest)
                );
                let bytes = client
                    .read_stream(name, size)
                    .await
                    .what("ByteStream.Read")
                    .map_err(|f| {
                        if f.status.code() == tonic::Code::NotFound {
                            Miss::Absent
                        } else {
                            Miss::Failed(f)
                        }
                    })?;
                found[i] = Some(bytes);
            } else {
                if batch_bytes + size + BATCH_ENTRY_OVERHEAD > self.batch_limit {
                    batches.push(std::mem::take(&mut batch));
                    batch_bytes = 0;
                }
                batch_bytes += size + BATCH_ENTRY_OVERHEAD;
                batch.push((i, digest));
            }
        }
        if !batch.is_empty() {
            batches.push(batch);
        }
        for batch in batches {
            let answer = client
                .batch_read(BatchReadBlobsRequest {
                    instance_name: client.instance().to_owned(),
                    digests: batch.iter().map(|(_, d)| d.clone()).collect(),
                    digest_function: self.hasher.value(),
                })
                .await
                .what("BatchReadBlobs")
                .map_err(Miss::Failed)?;
            for response in answer.responses {
                let Some(digest) = response.digest else {
                    continue;
                };
                if response.status.as_ref().is_some_and(|s| s.code != 0) {
                    // NOT_FOUND: the entry outlived its blobs (evicted); a plain miss.
                    return Err(Miss::Absent);
                }
                if response.compressor != 0 {
                    return Err(Miss::Corrupt(format!(
                        "blob {} came compressed, which we did not ask for",
                        digest.hash
                    )));
                }
                for (i, wanted) in &batch {
                    if *wanted == digest && found[*i].is_none() {
                        found[*i] = Some(response.data.clone());
                    }
                }
            }
        }
        let mut blobs = Vec::with_capacity(files.len());
        for (file, bytes) in files.iter().zip(found) {
            let digest = file.digest.clone().expect("layout checked digests");
            let Some(bytes) = bytes else {
                return Err(Miss::Corrupt(format!(
                    "the server did not return blob {}",
                    digest.hash
                )));
            };
            // Never trust the server: the bytes must hash to the digest they were asked by.
            if self.hasher.digest(&bytes) != digest {
                let what = format!(
                    "blob {} ({}) has {} bytes that do not match its digest",
                    digest.hash,
                    file.path,
                    bytes.len()
                );
                self.mark_bad(digest);
                return Err(Miss::Corrupt(what));
            }
            blobs.push(bytes);
        }
        Ok(blobs)
    }

    async fn upload(
        &self,
        client: &Client,
        key: &Key,
        outputs: &[Envelope],
        logs: &[LogLine],
    ) -> Result<(), Failure> {
        let encoded: Vec<Vec<u8>> = outputs
            .iter()
            .map(|e| {
                e.try_encode().map_err(|e| Failure {
                    what: "encoding an output",
                    status: tonic::Status::invalid_argument(e.to_string()),
                })
            })
            .collect::<Result<_, _>>()?;
        let logs = mapping::encode_logs(logs);
        let (digests, result) = mapping::action_result(self.hasher, &encoded, &logs);
        let action = mapping::action(self.hasher, key);
        let mut blobs: Vec<(Digest, &[u8])> = digests
            .into_iter()
            .zip(encoded.iter().map(Vec::as_slice).chain([logs.as_slice()]))
            .collect();
        // The Action and Command too, so the entry can be inspected with standard tools.
        blobs.push((self.hasher.digest(&action.command), &action.command));
        blobs.push((self.hasher.digest(&action.action), &action.action));
        let missing = client
            .find_missing(
                blobs.iter().map(|(d, _)| d.clone()).collect(),
                self.hasher.value(),
            )
            .await
            .what("FindMissingBlobs")?;
        let missing: HashSet<Digest> = missing.into_iter().collect();
        let mut batch: Vec<BatchUpdateRequest> = Vec::new();
        let mut batch_bytes = 0;
        let mut seen = HashSet::new();
        for (digest, bytes) in blobs {
            if !(missing.contains(&digest) || self.is_bad(&digest)) || !seen.insert(digest.clone())
            {
                continue;
            }
            if bytes.len() + BATCH_ENTRY_OVERHEAD > self.batch_limit {
                let name = format!(
                    "{}uploads/{}/{}",
                    instance_prefix(client.instance()),
                    upload_id(),
                    self.hasher.blob_path(&digest)
                );
                client
                    .write_stream(name, bytes)
                    .await
                    .what("ByteStream.Write")?;
                continue;
            }
            if batch_bytes + bytes.len() + BATCH_ENTRY_OVERHEAD > self.batch_limit {
                self.send_batch(client, std::mem::take(&mut batch)).await?;
                batch_bytes = 0;
            }
            batch_bytes += bytes.len() + BATCH_ENTRY_OVERHEAD;
            batch.push(BatchUpdateRequest {
                digest: Some(digest),
                data: bytes.to_vec(),
            });
        }
        if !batch.is_empty() {
            self.send_batch(client, batch).await?;
        }
        // Last: the entry never names a blob the server does not have.
        client
            .update_action_result(action.digest, result, self.hasher.value())
            .await
            .what("UpdateActionResult")
    }

    async fn send_batch(
        &self,
        client: &Client,
        requests: Vec<BatchUpdateRequest>,
    ) -> Result<(), Failure> {
        let answer = client
            .batch_update(BatchUpdateBlobsRequest {
                instance_name: client.instance().to_owned(),
                requests,
                digest_function: self.hasher.value(),
            })
            .await
            .what("BatchUpdateBlobs")?;
        for response in answer.responses {
            if let Some(status) = response.status.filter(|s| s.code != 0) {
                return Err(Failure {
                    what: "BatchUpdateBlobs",
                    status: tonic::Status::new(tonic::Code::from(status.code), status.message),
                });
            }
        }
        Ok(())
    }
}

fn instance_prefix(instance: &str) -> String {
    if instance.is_empty() {
        String::new()
    } else {
        format!("{instance}/")
    }
}

/// A fresh upload id in UUID form (the spec asks for a UUID; uniqueness is what matters).
fn upload_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = blake3::Hasher::new();
    h.update(&std::process::id().to_le_bytes());
    h.update(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    h.update(&now.as_nanos().to_le_bytes());
    let hex = h.finalize().to_hex();
    format!(
        "{}-{}-4{}-8{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

impl RemoteCache for RemoteCacheClient {
    fn lookup(&self, step_id: &str, key: Key) -> BoxFuture<'static, Option<RemoteHit>> {
        let inner = Arc::clone(&self.inner);
        let step = step_id.to_owned();
        Box::pin(async move {
            let client = inner.usable()?.clone();
            match inner.lookup(&client, &key).await {
                Ok(hit) => {
                    inner.succeeded();
                    inner.hits.fetch_add(1, Ordering::Relaxed);
                    Some(hit)
                }
                Err(Miss::Absent) => {
                    inner.succeeded();
                    inner.misses.fetch_add(1, Ordering::Relaxed);
                    None
                }
                Err(Miss::Corrupt(why)) => {
                    inner.succeeded();
                    inner.misses.fetch_add(1, Ordering::Relaxed);
                    inner.corrupt.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        "remote cache {}: the entry for step `{step}` failed verification \
                         ({why}); treated as a miss, the step runs",
                        inner.endpoint
                    );
                    None
                }
                Err(Miss::Failed(failure)) => {
                    inner.failed(&step, &failure);
                    None
                }
            }
        })
    }

    fn upload(&self, step_id: &str, key: Key, outputs: Vec<Envelope>, logs: Vec<LogLine>) {
        if !self.inner.upload || self.inner.usable().is_none() {
            return;
        }
        let inner = Arc::clone(&self.inner);
        let step = step_id.to_owned();
        self.inner
            .uploading
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .spawn(async move {
                let Ok(_slot) = inner.upload_slots.acquire().await else {
                    return;
                };
                // Checked again: the server may have been given up on while this waited.
                let Some(client) = inner.usable().cloned() else {
                    return;
                };
                match inner.upload(&client, &key, &outputs, &logs).await {
                    Ok(()) => {
                        inner.succeeded();
                        inner.uploads.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(failure) => inner.failed(&step, &failure),
                }
            });
    }

    fn finish(&self) -> BoxFuture<'static, RemoteSummary> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let mut uploads = std::mem::take(
                &mut *inner
                    .uploading
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
            while uploads.join_next().await.is_some() {}
            RemoteSummary {
                endpoint: inner.endpoint.clone(),
                upload: inner.upload,
                hits: inner.hits.load(Ordering::Relaxed),
                misses: inner.misses.load(Ordering::Relaxed),
                uploads: inner.uploads.load(Ordering::Relaxed),
                errors: inner.errors.load(Ordering::Relaxed),
                corrupt: inner.corrupt.load(Ordering::Relaxed),
                disabled: inner.disabled.load(Ordering::Relaxed),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{ActionCacheUpdateCapabilities, CacheCapabilities, digest_function};

    fn capabilities(functions: &[i32], max_batch: i64, update: bool) -> ServerCapabilities {
        ServerCapabilities {
            cache_capabilities: Some(CacheCapabilities {
                digest_functions: functions.to_vec(),
                action_cache_update_capabilities: Some(ActionCacheUpdateCapabilities {
                    update_enabled: update,
                }),
                max_batch_total_size_bytes: max_batch,
            }),
            low_api_version: None,
            high_api_version: None,
        }
    }

    #[test]
    fn blake3_is_preferred_sha256_is_the_fallback_and_nothing_else_is_used() {
        let rt = Duration::ZERO;
        let both = [digest_function::SHA256, digest_function::BLAKE3];
        assert_eq!(
            server_info(&capabilities(&both, 0, true), rt)
                .unwrap()
                .digest_function,
            "blake3"
        );
        let sha = [digest_function::SHA256];
        assert_eq!(
            server_info(&capabilities(&sha, 0, true), rt)
                .unwrap()
                .digest_function,
            "sha256"
        );
        // An empty list is a server older than the field: SHA-256.
        assert_eq!(
            server_info(&capabilities(&[], 0, true), rt)
                .unwrap()
                .digest_function,
            "sha256"
        );
        let md5_only = [3];
        assert!(
            server_info(&capabilities(&md5_only, 0, true), rt)
                .unwrap_err()
                .contains("neither BLAKE3 nor SHA-256")
        );
        assert!(server_info(&ServerCapabilities::default(), rt).is_err());
    }

    #[test]
    fn the_batch_limit_is_the_servers_capped_by_grpcs_message_size() {
        let rt = Duration::ZERO;
        let sha = [digest_function::SHA256];
        let info = |max| server_info(&capabilities(&sha, max, false), rt).unwrap();
        assert_eq!(info(1000).max_batch_bytes, 1000);
        assert_eq!(info(0).max_batch_bytes, BATCH_CEILING, "0 means no limit");
        assert_eq!(info(1 << 30).max_batch_bytes, BATCH_CEILING);
        assert!(!info(0).update_enabled);
    }

    #[test]
    fn upload_ids_are_uuid_shaped_and_unique() {
        let (a, b) = (upload_id(), upload_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
    }

    #[tokio::test]
    async fn an_unreachable_server_warns_once_and_every_lookup_is_a_quiet_miss() {
        // Port 9 on loopback (discard) is closed on test machines: connecting is refused.
        let config = RemoteConfig {
            endpoint: "grpc://127.0.0.1:9".to_owned(),
            instance_name: String::new(),
            token: None,
            ca_file: None,
            timeout: Duration::from_secs(5),
            upload: true,
        };
        let client = RemoteCacheClient::connect(&config).await;
        let key = morphir_cache::KeyBuilder::new("1")
            .operation("a")
            .finish()
            .unwrap()
            .0;
        assert_eq!(client.lookup("s", key).await, None);
        client.upload("s", key, vec![Envelope::new("t", "x")], Vec::new());
        let summary = client.finish().await;
        assert_eq!(summary.errors, 1);
        assert!(summary.disabled);
        assert_eq!((summary.hits, summary.misses, summary.uploads), (0, 0, 0));
    }
}
