//! The REAPI v2 and `ByteStream` messages this client uses, written out with prost's derive
//! instead of generated from the `.proto` files (no protoc or build script). Field numbers are
//! those of `build/bazel/remote/execution/v2/remote_execution.proto`,
//! `google/bytestream/bytestream.proto` and `google/rpc/status.proto`; fields we never read or
//! write are left out, which protobuf allows (unknown fields are skipped on decode).
//!
//! prost encodes fields in field-number order and these messages hold no maps, so encoding is
//! deterministic: the digest of an encoded `Action` is stable across runs and machines.

/// `build.bazel.remote.execution.v2.Digest`.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub(crate) struct Digest {
    #[prost(string, tag = "1")]
    pub(crate) hash: String,
    #[prost(int64, tag = "2")]
    pub(crate) size_bytes: i64,
}

/// `DigestFunction.Value`.
pub(crate) mod digest_function {
    pub(crate) const SHA256: i32 = 1;
    pub(crate) const BLAKE3: i32 = 9;
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Action {
    #[prost(message, optional, tag = "1")]
    pub(crate) command_digest: Option<Digest>,
    #[prost(message, optional, tag = "2")]
    pub(crate) input_root_digest: Option<Digest>,
    #[prost(bool, tag = "7")]
    pub(crate) do_not_cache: bool,
    #[prost(bytes = "vec", tag = "9")]
    pub(crate) salt: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Command {
    #[prost(string, repeated, tag = "1")]
    pub(crate) arguments: Vec<String>,
    #[prost(string, repeated, tag = "7")]
    pub(crate) output_paths: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct OutputFile {
    #[prost(string, tag = "1")]
    pub(crate) path: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) digest: Option<Digest>,
    #[prost(bool, tag = "4")]
    pub(crate) is_executable: bool,
    /// Servers may inline small files here (only when asked; we never ask).
    #[prost(bytes = "vec", tag = "5")]
    pub(crate) contents: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ExecutedActionMetadata {
    #[prost(string, tag = "1")]
    pub(crate) worker: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ActionResult {
    #[prost(message, repeated, tag = "2")]
    pub(crate) output_files: Vec<OutputFile>,
    /// Output directories: never written by us; an entry with any is not ours.
    #[prost(message, repeated, tag = "3")]
    pub(crate) output_directories: Vec<prost_types_any::Empty>,
    #[prost(int32, tag = "4")]
    pub(crate) exit_code: i32,
    #[prost(message, optional, tag = "9")]
    pub(crate) execution_metadata: Option<ExecutedActionMetadata>,
}

/// Placeholders for message fields whose content we never look at.
pub(crate) mod prost_types_any {
    /// Any message, skipped field by field.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Empty {}
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct GetActionResultRequest {
    #[prost(string, tag = "1")]
    pub(crate) instance_name: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) action_digest: Option<Digest>,
    #[prost(int32, tag = "6")]
    pub(crate) digest_function: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct UpdateActionResultRequest {
    #[prost(string, tag = "1")]
    pub(crate) instance_name: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) action_digest: Option<Digest>,
    #[prost(message, optional, tag = "3")]
    pub(crate) action_result: Option<ActionResult>,
    #[prost(int32, tag = "5")]
    pub(crate) digest_function: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct FindMissingBlobsRequest {
    #[prost(string, tag = "1")]
    pub(crate) instance_name: String,
    #[prost(message, repeated, tag = "2")]
    pub(crate) blob_digests: Vec<Digest>,
    #[prost(int32, tag = "3")]
    pub(crate) digest_function: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct FindMissingBlobsResponse {
    #[prost(message, repeated, tag = "2")]
    pub(crate) missing_blob_digests: Vec<Digest>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct BatchUpdateBlobsRequest {
    #[prost(string, tag = "1")]
    pub(crate) instance_name: String,
    #[prost(message, repeated, tag = "2")]
    pub(crate) requests: Vec<BatchUpdateRequest>,
    #[prost(int32, tag = "5")]
    pub(crate) digest_function: i32,
}

/// `BatchUpdateBlobsRequest.Request`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct BatchUpdateRequest {
    #[prost(message, optional, tag = "1")]
    pub(crate) digest: Option<Digest>,
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) data: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct BatchUpdateBlobsResponse {
    #[prost(message, repeated, tag = "1")]
    pub(crate) responses: Vec<BatchUpdateResponse>,
}

/// `BatchUpdateBlobsResponse.Response`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct BatchUpdateResponse {
    #[prost(message, optional, tag = "1")]
    pub(crate) digest: Option<Digest>,
    #[prost(message, optional, tag = "2")]
    pub(crate) status: Option<Status>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct BatchReadBlobsRequest {
    #[prost(string, tag = "1")]
    pub(crate) instance_name: String,
    #[prost(message, repeated, tag = "2")]
    pub(crate) digests: Vec<Digest>,
    #[prost(int32, tag = "4")]
    pub(crate) digest_function: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct BatchReadBlobsResponse {
    #[prost(message, repeated, tag = "1")]
    pub(crate) responses: Vec<BatchReadResponse>,
}

/// `BatchReadBlobsResponse.Response`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct BatchReadResponse {
    #[prost(message, optional, tag = "1")]
    pub(crate) digest: Option<Digest>,
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) data: Vec<u8>,
    #[prost(message, optional, tag = "3")]
    pub(crate) status: Option<Status>,
    /// `Compressor.Value`; we accept identity only (we never offer another).
    #[prost(int32, tag = "4")]
    pub(crate) compressor: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct GetCapabilitiesRequest {
    #[prost(string, tag = "1")]
    pub(crate) instance_name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ServerCapabilities {
    #[prost(message, optional, tag = "1")]
    pub(crate) cache_capabilities: Option<CacheCapabilities>,
    #[prost(message, optional, tag = "4")]
    pub(crate) low_api_version: Option<SemVer>,
    #[prost(message, optional, tag = "5")]
    pub(crate) high_api_version: Option<SemVer>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SemVer {
    #[prost(int32, tag = "1")]
    pub(crate) major: i32,
    #[prost(int32, tag = "2")]
    pub(crate) minor: i32,
    #[prost(int32, tag = "3")]
    pub(crate) patch: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct CacheCapabilities {
    #[prost(int32, repeated, tag = "1")]
    pub(crate) digest_functions: Vec<i32>,
    #[prost(message, optional, tag = "2")]
    pub(crate) action_cache_update_capabilities: Option<ActionCacheUpdateCapabilities>,
    #[prost(int64, tag = "4")]
    pub(crate) max_batch_total_size_bytes: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ActionCacheUpdateCapabilities {
    #[prost(bool, tag = "1")]
    pub(crate) update_enabled: bool,
}

/// `google.rpc.Status` (details left out).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Status {
    #[prost(int32, tag = "1")]
    pub(crate) code: i32,
    #[prost(string, tag = "2")]
    pub(crate) message: String,
}

/// `google.bytestream.ReadRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ReadRequest {
    #[prost(string, tag = "1")]
    pub(crate) resource_name: String,
    #[prost(int64, tag = "2")]
    pub(crate) read_offset: i64,
    #[prost(int64, tag = "3")]
    pub(crate) read_limit: i64,
}

/// `google.bytestream.ReadResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ReadResponse {
    #[prost(bytes = "vec", tag = "10")]
    pub(crate) data: Vec<u8>,
}

/// `google.bytestream.WriteRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WriteRequest {
    #[prost(string, tag = "1")]
    pub(crate) resource_name: String,
    #[prost(int64, tag = "2")]
    pub(crate) write_offset: i64,
    #[prost(bool, tag = "3")]
    pub(crate) finish_write: bool,
    #[prost(bytes = "vec", tag = "10")]
    pub(crate) data: Vec<u8>,
}

/// `google.bytestream.WriteResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WriteResponse {
    #[prost(int64, tag = "1")]
    pub(crate) committed_size: i64,
}
