//! HTTP for extensions: the `http` host function and the TEA `http` command, under an
//! [`HttpPolicy`].
//!
//! Only `http://` and `https://` URLs whose host is allowed are fetched. Redirects are not
//! followed by the client: each hop is checked against the policy here, so a redirect to a host
//! that is not allowed is refused rather than followed. The response body is capped; the whole
//! exchange, redirects included, has one time budget.

use std::time::{Duration, Instant};

use morphir_envelope::stdlib::{HttpRequest, HttpResponse, code};

use crate::HttpPolicy;

/// Why an HTTP request was not answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The policy does not allow it (host not in `allowed_hosts`, a redirect to such a host).
    #[error("{0}")]
    Denied(String),
    /// The request is malformed (bad URL, scheme, method or body).
    #[error("{0}")]
    Invalid(String),
    /// The response body is over the cap.
    #[error("the response body is over the {0}-byte limit")]
    TooLarge(u64),
    /// The exchange failed (connection refused, timeout, protocol error).
    #[error("{0}")]
    Failed(String),
}

impl HttpError {
    /// The error code of the error envelope (see `morphir_envelope::stdlib::code`).
    pub fn code(&self) -> &'static str {
        match self {
            HttpError::Denied(_) => code::PERMISSION_DENIED,
            HttpError::Invalid(_) => code::INVALID_REQUEST,
            HttpError::TooLarge(_) => code::TOO_LARGE,
            HttpError::Failed(_) => code::FAILED,
        }
    }
}

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

/// Performs `request` under `policy`, within `deadline` when given (the end of the Wasm call
/// making it). Blocks: call it off async workers.
pub fn fetch(
    request: &HttpRequest,
    policy: &HttpPolicy,
    deadline: Option<Instant>,
) -> Result<HttpResponse, HttpError> {
    let method = request.method.to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(HttpError::Invalid(format!(
            "unsupported method `{}`; use one of {}",
            request.method,
            METHODS.join(", ")
        )));
    }
    let mut body = request.body_bytes().map_err(HttpError::Invalid)?;
    let mut method = method;
    let mut url = request.url.clone();
    let mut budget = policy.timeout;
    if let Some(deadline) = deadline {
        budget = budget.min(deadline.saturating_duration_since(Instant::now()));
    }
    let end = Instant::now() + budget;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .user_agent(concat!("morphir/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    for hop in 0..=policy.max_redirects {
        let uri = check_url(&url, policy, hop > 0)?;
        let remaining = end.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(HttpError::Failed(format!(
                "no time left for {url} (the call's time budget is spent)"
            )));
        }
        let response = send(
            &agent,
            &method,
            &uri,
            &request.headers,
            body.as_deref(),
            remaining,
        )?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if matches!(status, 301 | 302 | 303 | 307 | 308)
            && let Some(location) = location
        {
            url = resolve(&uri, &location);
            if status == 303 || (matches!(status, 301 | 302) && method == "POST") {
                "GET".clone_into(&mut method);
                body = None;
            }
            continue;
        }
        return read(response, policy.max_response_bytes);
    }
    Err(HttpError::Failed(format!(
        "more than {} redirects, last to {url}",
        policy.max_redirects
    )))
}

fn check_url(
    url: &str,
    policy: &HttpPolicy,
    redirected: bool,
) -> Result<ureq::http::Uri, HttpError> {
    let uri: ureq::http::Uri = url
        .parse()
        .map_err(|e| HttpError::Invalid(format!("invalid URL `{url}`: {e}")))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => {
            return Err(HttpError::Invalid(format!(
                "URL `{url}` is not http:// or https://"
            )));
        }
    }
    let host = uri
        .host()
        .ok_or_else(|| HttpError::Invalid(format!("URL `{url}` has no host")))?;
    if !policy.allows(host) {
        let what = if redirected {
            "redirected to"
        } else {
            "requested"
        };
        let allowed = if policy.allowed_hosts.is_empty() {
            "none".to_owned()
        } else {
            policy.allowed_hosts.join(", ")
        };
        return Err(HttpError::Denied(format!(
            "http: {what} host `{host}`, which is not in the extension's allowed_hosts ({allowed}); \
             add it to [extensions.permissions] allowed_hosts in morphir.toml"
        )));
    }
    Ok(uri)
}

fn send(
    agent: &ureq::Agent,
    method: &str,
    uri: &ureq::http::Uri,
    headers: &[(String, String)],
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<ureq::http::Response<ureq::Body>, HttpError> {
    let mut builder = ureq::http::Request::builder()
        .method(method)
        .uri(uri.clone());
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let request = builder
        .body(body.unwrap_or_default().to_vec())
        .map_err(|e| HttpError::Invalid(format!("invalid request: {e}")))?;
    ureq::RequestExt::with_agent(request, agent)
        .configure()
        .timeout_global(Some(timeout))
        .run()
        .map_err(|e| failed(uri, &e))
}

fn failed(uri: &ureq::http::Uri, e: &ureq::Error) -> HttpError {
    HttpError::Failed(format!("request to {uri} failed: {e}"))
}

fn read(
    mut response: ureq::http::Response<ureq::Body>,
    max: u64,
) -> Result<HttpResponse, HttpError> {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response
        .body_mut()
        .with_config()
        .limit(max)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => HttpError::TooLarge(max),
            other => HttpError::Failed(format!("reading the response failed: {other}")),
        })?;
    Ok(HttpResponse::new(status, headers, body))
}

/// `location` resolved against `base` (absolute URLs, absolute paths and relative paths).
fn resolve(base: &ureq::http::Uri, location: &str) -> String {
    if location.contains("://") {
        return location.to_owned();
    }
    let scheme = base.scheme_str().unwrap_or("http");
    let authority = base.authority().map_or("", |a| a.as_str());
    if let Some(rest) = location.strip_prefix("//") {
        return format!("{scheme}://{rest}");
    }
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    let path = base.path();
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    format!("{scheme}://{authority}{dir}{location}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve() {
        let base: ureq::http::Uri = "http://127.0.0.1:8080/a/b?q".parse().unwrap();
        assert_eq!(resolve(&base, "http://x/y"), "http://x/y");
        assert_eq!(resolve(&base, "/c"), "http://127.0.0.1:8080/c");
        assert_eq!(resolve(&base, "c"), "http://127.0.0.1:8080/a/c");
        assert_eq!(resolve(&base, "//h/p"), "http://h/p");
    }

    #[test]
    fn refused_before_any_connection() {
        let policy = HttpPolicy::default();
        let err = fetch(&HttpRequest::get("http://127.0.0.1:9/"), &policy, None).unwrap_err();
        assert!(matches!(err, HttpError::Denied(_)), "{err}");
        assert!(err.to_string().contains("allowed_hosts (none)"), "{err}");
        let err = fetch(&HttpRequest::get("file:///etc/passwd"), &policy, None).unwrap_err();
        assert!(matches!(err, HttpError::Invalid(_)), "{err}");
    }
}
