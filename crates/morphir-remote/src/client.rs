//! The gRPC calls: one method per REAPI/`ByteStream` RPC we use, each under the configured
//! timeout, with the bearer token (if any) attached. No retries here: the caller decides what a
//! failure means (for the build cache, a miss).

use std::time::Duration;

use http::uri::PathAndQuery;
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic_prost::ProstCodec;

use crate::proto::ActionResult;
use crate::proto::{
    BatchReadBlobsRequest, BatchReadBlobsResponse, BatchUpdateBlobsRequest,
    BatchUpdateBlobsResponse, Digest, FindMissingBlobsRequest, FindMissingBlobsResponse,
    GetActionResultRequest, GetCapabilitiesRequest, ReadRequest, ReadResponse, ServerCapabilities,
    UpdateActionResultRequest, WriteRequest, WriteResponse,
};
use crate::{Error, RemoteConfig};

/// `ByteStream` chunk size for uploads (gRPC's default message limit is 4 MiB).
const WRITE_CHUNK: usize = 1 << 20;
/// The largest message we accept: `ByteStream` chunks and batch answers stay far below.
const MAX_MESSAGE: usize = 64 << 20;

/// A connection to one REAPI server and instance.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    channel: Channel,
    instance: String,
    authorization: Option<MetadataValue<tonic::metadata::Ascii>>,
    timeout: Duration,
}

impl Client {
    /// Prepares a channel (it connects on first use).
    pub(crate) fn new(config: &RemoteConfig) -> Result<Self, Error> {
        let endpoint_err = |reason: String| Error::Endpoint {
            endpoint: config.endpoint.clone(),
            reason,
        };
        let (tls, rest) = if let Some(rest) = config.endpoint.strip_prefix("grpcs://") {
            (true, rest)
        } else if let Some(rest) = config.endpoint.strip_prefix("grpc://") {
            (false, rest)
        } else {
            return Err(endpoint_err(
                "the endpoint must start with grpc:// or grpcs://".to_owned(),
            ));
        };
        let uri = format!("{}://{rest}", if tls { "https" } else { "http" });
        let mut endpoint = Endpoint::from_shared(uri)
            .map_err(|e| endpoint_err(e.to_string()))?
            .connect_timeout(config.timeout)
            .timeout(config.timeout)
            .tcp_nodelay(true);
        if tls {
            let mut tls = ClientTlsConfig::new().with_native_roots();
            if let Some(ca) = &config.ca_file {
                let pem = std::fs::read(ca).map_err(|source| Error::CaFile {
                    path: ca.clone(),
                    source,
                })?;
                tls = tls.ca_certificate(Certificate::from_pem(pem));
            }
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| endpoint_err(e.to_string()))?;
        }
        let authorization = match &config.token {
            Some(token) => Some(
                format!("Bearer {token}")
                    .parse()
                    .map_err(|_| Error::Token("it holds characters not allowed in a header"))?,
            ),
            None => None,
        };
        Ok(Self {
            channel: endpoint.connect_lazy(),
            instance: config.instance_name.clone(),
            authorization,
            timeout: config.timeout,
        })
    }

    pub(crate) fn instance(&self) -> &str {
        &self.instance
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(auth) = &self.authorization {
            request.metadata_mut().insert("authorization", auth.clone());
        }
        request
    }

    async fn grpc(&self) -> Result<tonic::client::Grpc<Channel>, tonic::Status> {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
        grpc.ready()
            .await
            .map_err(|e| tonic::Status::unavailable(format!("cannot connect: {e}")))?;
        Ok(grpc)
    }

    async fn unary<Req, Resp>(
        &self,
        path: &'static str,
        message: Req,
    ) -> Result<Resp, tonic::Status>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let call = async {
            let mut grpc = self.grpc().await?;
            let codec = ProstCodec::<Req, Resp>::default();
            grpc.unary(
                self.request(message),
                PathAndQuery::from_static(path),
                codec,
            )
            .await
            .map(tonic::Response::into_inner)
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .unwrap_or_else(|_| Err(tonic::Status::deadline_exceeded("timed out")))
    }

    pub(crate) async fn capabilities(&self) -> Result<ServerCapabilities, tonic::Status> {
        self.unary(
            "/build.bazel.remote.execution.v2.Capabilities/GetCapabilities",
            GetCapabilitiesRequest {
                instance_name: self.instance.clone(),
            },
        )
        .await
    }

    /// `Ok(None)` when the server has no entry (`NOT_FOUND`).
    pub(crate) async fn get_action_result(
        &self,
        action: Digest,
        digest_function: i32,
    ) -> Result<Option<ActionResult>, tonic::Status> {
        let answer = self
            .unary(
                "/build.bazel.remote.execution.v2.ActionCache/GetActionResult",
                GetActionResultRequest {
                    instance_name: self.instance.clone(),
                    action_digest: Some(action),
                    digest_function,
                },
            )
            .await;
        match answer {
            Ok(result) => Ok(Some(result)),
            Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
            Err(status) => Err(status),
        }
    }

    pub(crate) async fn update_action_result(
        &self,
        action: Digest,
        result: ActionResult,
        digest_function: i32,
    ) -> Result<(), tonic::Status> {
        let _: ActionResult = self
            .unary(
                "/build.bazel.remote.execution.v2.ActionCache/UpdateActionResult",
                UpdateActionResultRequest {
                    instance_name: self.instance.clone(),
                    action_digest: Some(action),
                    action_result: Some(result),
                    digest_function,
                },
            )
            .await?;
        Ok(())
    }

    pub(crate) async fn find_missing(
        &self,
        digests: Vec<Digest>,
        digest_function: i32,
    ) -> Result<Vec<Digest>, tonic::Status> {
        let answer: FindMissingBlobsResponse = self
            .unary(
                "/build.bazel.remote.execution.v2.ContentAddressableStorage/FindMissingBlobs",
                FindMissingBlobsRequest {
                    instance_name: self.instance.clone(),
                    blob_digests: digests,
                    digest_function,
                },
            )
            .await?;
        Ok(answer.missing_blob_digests)
    }

    pub(crate) async fn batch_update(
        &self,
        request: BatchUpdateBlobsRequest,
    ) -> Result<BatchUpdateBlobsResponse, tonic::Status> {
        self.unary(
            "/build.bazel.remote.execution.v2.ContentAddressableStorage/BatchUpdateBlobs",
            request,
        )
        .await
    }

    pub(crate) async fn batch_read(
        &self,
        request: BatchReadBlobsRequest,
    ) -> Result<BatchReadBlobsResponse, tonic::Status> {
        self.unary(
            "/build.bazel.remote.execution.v2.ContentAddressableStorage/BatchReadBlobs",
            request,
        )
        .await
    }

    /// A transfer of `size` bytes may take longer than one small request.
    fn stream_timeout(&self, size: usize) -> Duration {
        self.timeout * (1 + u32::try_from(size >> 24).unwrap_or(u32::MAX).min(1000))
    }

    /// Reads a whole blob through `ByteStream`; stops (and fails) past `limit` bytes, so a
    /// misbehaving server cannot make us buffer without bound.
    pub(crate) async fn read_stream(
        &self,
        resource_name: String,
        limit: usize,
    ) -> Result<Vec<u8>, tonic::Status> {
        let call = async {
            let mut grpc = self.grpc().await?;
            let codec = ProstCodec::<ReadRequest, ReadResponse>::default();
            let request = self.request(ReadRequest {
                resource_name,
                read_offset: 0,
                read_limit: 0,
            });
            let mut stream = grpc
                .server_streaming(
                    request,
                    PathAndQuery::from_static("/google.bytestream.ByteStream/Read"),
                    codec,
                )
                .await?
                .into_inner();
            let mut data = Vec::with_capacity(limit);
            while let Some(chunk) = stream.message().await? {
                if data.len() + chunk.data.len() > limit {
                    return Err(tonic::Status::out_of_range(format!(
                        "the server sent more than the blob's {limit} bytes"
                    )));
                }
                data.extend_from_slice(&chunk.data);
            }
            Ok(data)
        };
        tokio::time::timeout(self.stream_timeout(limit), call)
            .await
            .unwrap_or_else(|_| Err(tonic::Status::deadline_exceeded("timed out")))
    }

    /// Writes a whole blob through `ByteStream` in 1 MiB chunks.
    pub(crate) async fn write_stream(
        &self,
        resource_name: String,
        data: &[u8],
    ) -> Result<(), tonic::Status> {
        let size = data.len();
        let mut messages = Vec::with_capacity(size / WRITE_CHUNK + 1);
        let mut offset = 0;
        loop {
            let end = (offset + WRITE_CHUNK).min(size);
            messages.push(WriteRequest {
                // Only the first message must name the resource.
                resource_name: if offset == 0 {
                    resource_name.clone()
                } else {
                    String::new()
                },
                write_offset: offset as i64,
                finish_write: end == size,
                data: data[offset..end].to_vec(),
            });
            offset = end;
            if offset == size {
                break;
            }
        }
        let call = async {
            let mut grpc = self.grpc().await?;
            let codec = ProstCodec::<WriteRequest, WriteResponse>::default();
            let request = self.request(tokio_stream::iter(messages));
            let answer = grpc
                .client_streaming(
                    request,
                    PathAndQuery::from_static("/google.bytestream.ByteStream/Write"),
                    codec,
                )
                .await?
                .into_inner();
            // A server that already has the blob may answer early with its full size.
            if answer.committed_size != size as i64 {
                return Err(tonic::Status::data_loss(format!(
                    "the server committed {} of {size} bytes",
                    answer.committed_size
                )));
            }
            Ok(())
        };
        tokio::time::timeout(self.stream_timeout(size), call)
            .await
            .unwrap_or_else(|_| Err(tonic::Status::deadline_exceeded("timed out")))
    }
}
