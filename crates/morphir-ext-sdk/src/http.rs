//! HTTP requests, to the hosts in `[extensions.permissions] allowed_hosts` only (none by
//! default). A redirect to a host not on the list is refused, and the response body is capped.
//! A design-time step that may use HTTP is not cached unless its task sets `cache_http = true`.
//!
//! A runtime program can also make a request as a command ([`crate::tea::Cmd::http`]), whose
//! response comes back as a message, without blocking its update.

pub use morphir_envelope::stdlib::{HttpRequest, HttpResponse};
use morphir_envelope::{Envelope, ErrorPayload};

use crate::host::{expect, host_call, json};

/// Performs `request`. An error status (404, 500) is a response, not an error; a refused host,
/// a network failure or a body over the cap is an error.
pub fn request(request: &HttpRequest) -> Result<HttpResponse, ErrorPayload> {
    let envelope = Envelope::json(request).map_err(|e| ErrorPayload::new(e.to_string()))?;
    let response = expect("http", host_call!(http, &envelope))?;
    json("http", &response)
}

/// `GET url`.
pub fn get(url: &str) -> Result<HttpResponse, ErrorPayload> {
    request(&HttpRequest::get(url))
}
