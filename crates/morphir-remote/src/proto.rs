//! The REAPI v2 and ByteStream messages this client uses, written out with prost's derive
//! instead of generated from the `.proto` files (no protoc or build script). Field numbers are
//! those of `build/bazel/remote/execution/v2/remote_execution.proto`,
//! `google/bytestream/bytestream.proto` and `google/rpc/status.proto`; fields we never read or
//! write are left out, which protobuf allows (unknown fields are skipped on decode).
//!
//! prost encodes fields in field-number order and these messages hold no maps, so encoding is
//! deterministic: the digest of an encoded `Action` is stable across runs and machines.

#![expect(missing_docs, reason = "the fields are those of the REAPI protos")]

/// `build.bazel.remote.execution.v2.Digest`.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct Digest {
    #[prost(string, tag = "1")]
    pub hash: String,
    #[prost(int64, tag = "2")]
    pub size_bytes: i64,
}

/// `DigestFunction.Value`.
pub mod digest_function {
    pub const SHA256: i32 = 1;
    pub const BLAKE3: i32 = 9;
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Action {
    #[prost(message, optional, tag = "1")]
    pub command_digest: Option<Digest>,
    #[prost(message, optional, tag = "2")]
    pub input_root_digest: Option<Digest>,
    #[prost(bool, tag = "7")]
    pub do_not_cache: bool,
    #[prost(bytes = "vec", tag = "9")]
    pub salt: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Command {
    #[prost(string, repeated, tag = "1")]
    pub arguments: Vec<String>,
    #[prost(string, repeated, tag = "7")]
    pub output_paths: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct OutputFile {
    #[prost(string, tag = "1")]
    pub path: String,
    #[prost(message, optional, tag = "2")]
    pub digest: Option<Digest>,
    #[prost(bool, tag = "4")]
    pub is_executable: bool,
    /// Servers may inline small files here (only when asked; we never ask).
    #[prost(bytes = "vec", tag = "5")]
    pub contents: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ExecutedActionMetadata {
    #[prost(string, tag = "1")]
    pub worker: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ActionResult {
    #[prost(message, repeated, tag = "2")]
    pub output_files: Vec<OutputFile>,
    /// Output directories: never written by us; an entry with any is not ours.
    #[prost(message, repeated, tag = "3")]
    pub output_directories: Vec<prost_types_any::Empty>,
    #[prost(int32, tag = "4")]
    pub exit_code: i32,
    #[prost(message, optional, tag = "9")]
    pub execution_metadata: Option<ExecutedActionMetadata>,
}

/// Placeholders for message fields whose content we never look at.
pub mod prost_types_any {
    /// Any message, skipped field by field.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Empty {}
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetActionResultRequest {
    #[prost(string, tag = "1")]
    pub instance_name: String,
    #[prost(message, optional, tag = "2")]
    pub action_digest: Option<Digest>,
    #[prost(int32, tag = "6")]
    pub digest_function: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct UpdateActionResultRequest {
    #[prost(string, tag = "1")]
    pub instance_name: String,
    #[prost(message, optional, tag = "2")]
    pub action_digest: Option<Digest>,
    #[prost(message, optional, tag = "3")]
    pub action_result: Option<ActionResult>,
    #[prost(int32, tag = "5")]
    pub digest_function: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct FindMissingBlobsRequest {
    #[prost(string, tag = "1")]
    pub instance_name: String,
    #[prost(message, repeated, tag = "2")]
    pub blob_digests: Vec<Digest>,
    #[prost(int32, tag = "3")]
    pub digest_function: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct FindMissingBlobsResponse {
    #[prost(message, repeated, tag = "2")]
    pub missing_blob_digests: Vec<Digest>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BatchUpdateBlobsRequest {
    #[prost(string, tag = "1")]
    pub instance_name: String,
    #[prost(message, repeated, tag = "2")]
    pub requests: Vec<BatchUpdateRequest>,
    #[prost(int32, tag = "5")]
    pub digest_function: i32,
}

/// `BatchUpdateBlobsRequest.Request`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BatchUpdateRequest {
    #[prost(message, optional, tag = "1")]
    pub digest: Option<Digest>,
    #[prost(bytes = "vec", tag = "2")]
    pub data: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BatchUpdateBlobsResponse {
    #[prost(message, repeated, tag = "1")]
    pub responses: Vec<BatchUpdateResponse>,
}

/// `BatchUpdateBlobsResponse.Response`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BatchUpdateResponse {
    #[prost(message, optional, tag = "1")]
    pub digest: Option<Digest>,
    #[prost(message, optional, tag = "2")]
    pub status: Option<Status>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BatchReadBlobsRequest {
    #[prost(string, tag = "1")]
    pub instance_name: String,
    #[prost(message, repeated, tag = "2")]
    pub digests: Vec<Digest>,
    #[prost(int32, tag = "4")]
    pub digest_function: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BatchReadBlobsResponse {
    #[prost(message, repeated, tag = "1")]
    pub responses: Vec<BatchReadResponse>,
}

/// `BatchReadBlobsResponse.Response`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BatchReadResponse {
    #[prost(message, optional, tag = "1")]
    pub digest: Option<Digest>,
    #[prost(bytes = "vec", tag = "2")]
    pub data: Vec<u8>,
    #[prost(message, optional, tag = "3")]
    pub status: Option<Status>,
    /// `Compressor.Value`; we accept identity only (we never offer another).
    #[prost(int32, tag = "4")]
    pub compressor: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetCapabilitiesRequest {
    #[prost(string, tag = "1")]
    pub instance_name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ServerCapabilities {
    #[prost(message, optional, tag = "1")]
    pub cache_capabilities: Option<CacheCapabilities>,
    #[prost(message, optional, tag = "4")]
    pub low_api_version: Option<SemVer>,
    #[prost(message, optional, tag = "5")]
    pub high_api_version: Option<SemVer>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SemVer {
    #[prost(int32, tag = "1")]
    pub major: i32,
    #[prost(int32, tag = "2")]
    pub minor: i32,
    #[prost(int32, tag = "3")]
    pub patch: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CacheCapabilities {
    #[prost(int32, repeated, tag = "1")]
    pub digest_functions: Vec<i32>,
    #[prost(message, optional, tag = "2")]
    pub action_cache_update_capabilities: Option<ActionCacheUpdateCapabilities>,
    #[prost(int64, tag = "4")]
    pub max_batch_total_size_bytes: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ActionCacheUpdateCapabilities {
    #[prost(bool, tag = "1")]
    pub update_enabled: bool,
}

/// `google.rpc.Status` (details left out).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Status {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// `google.bytestream.ReadRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadRequest {
    #[prost(string, tag = "1")]
    pub resource_name: String,
    #[prost(int64, tag = "2")]
    pub read_offset: i64,
    #[prost(int64, tag = "3")]
    pub read_limit: i64,
}

/// `google.bytestream.ReadResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadResponse {
    #[prost(bytes = "vec", tag = "10")]
    pub data: Vec<u8>,
}

/// `google.bytestream.WriteRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(string, tag = "1")]
    pub resource_name: String,
    #[prost(int64, tag = "2")]
    pub write_offset: i64,
    #[prost(bool, tag = "3")]
    pub finish_write: bool,
    #[prost(bytes = "vec", tag = "10")]
    pub data: Vec<u8>,
}

/// `google.bytestream.WriteResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteResponse {
    #[prost(int64, tag = "1")]
    pub committed_size: i64,
}
