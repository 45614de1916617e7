//! What an extension's host functions may do: its grants, per instance and per call.
//!
//! A [`HostContext`] starts from nothing allowed ([`HostContext::default`]). The build fills it
//! from `[extensions.permissions]` and the step (the values of the allowed environment
//! variables, the step's declared input files, a seed derived from the step's cache key); a TEA
//! program gets one when it starts. Everything a host function can observe is in it, so a
//! design-time call is a function of its request and its context, which the cache key covers.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The grants and inputs of the standard library for one call (design time) or one program run
/// (TEA). See `docs/abi.md`, "Host functions".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostContext {
    /// The extension's view of the environment: every variable it may read or set, with its
    /// value (`None`: unset). Names not in the map are refused. `set_env_var` changes this view
    /// only, never the process's environment.
    pub env: BTreeMap<String, Option<String>>,
    /// What `http` (and the TEA `http` command) may reach.
    pub http: HttpPolicy,
    /// What `workspace` may read; `None` (refused) outside design-time steps.
    pub workspace: Option<WorkspaceAccess>,
    /// The seed of `random`: the same seed gives the same bytes, call after call.
    pub seed: [u8; 32],
}

impl HostContext {
    /// A context that allows `names` and sees their values in this process's environment now
    /// (a variable that is unset or not UTF-8 is unset in the view).
    #[must_use]
    pub fn with_process_env<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Self {
        for name in names {
            let value = std::env::var(name).ok();
            self.env.insert(name.to_owned(), value);
        }
        self
    }

    /// Sets the hosts `http` may reach.
    #[must_use]
    pub fn with_allowed_hosts(mut self, hosts: impl IntoIterator<Item = String>) -> Self {
        self.http.allowed_hosts = hosts.into_iter().collect();
        self
    }

    /// Sets the seed of `random`.
    #[must_use]
    pub fn with_seed(mut self, seed: [u8; 32]) -> Self {
        self.seed = seed;
        self
    }

    /// Sets what `workspace` may read.
    #[must_use]
    pub fn with_workspace(mut self, workspace: WorkspaceAccess) -> Self {
        self.workspace = Some(workspace);
        self
    }
}

/// What the `http` host function and the TEA `http` command may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpPolicy {
    /// Host names (or IP addresses) that may be reached, compared case-insensitively with the
    /// URL's host; `*.example.com` allows every subdomain of `example.com`. Empty: none.
    pub allowed_hosts: Vec<String>,
    /// The largest response body accepted.
    pub max_response_bytes: u64,
    /// Time allowed for one request, redirects included. Inside a Wasm call it is also bounded
    /// by what remains of the call's `max_execution_time`.
    pub timeout: Duration,
    /// Redirects followed, each to an allowed host.
    pub max_redirects: u32,
}

impl HttpPolicy {
    /// 16 MiB.
    pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 << 20;
    /// 30 seconds.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// True when `host` may be reached.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.allowed_hosts.iter().any(|allowed| {
            let allowed = allowed.trim_start_matches('[').trim_end_matches(']');
            match allowed.strip_prefix("*.") {
                Some(domain) => {
                    host.len() > domain.len() + 1
                        && host[host.len() - domain.len()..].eq_ignore_ascii_case(domain)
                        && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
                }
                None => allowed.eq_ignore_ascii_case(host),
            }
        })
    }
}

impl Default for HttpPolicy {
    fn default() -> Self {
        Self {
            allowed_hosts: Vec::new(),
            max_response_bytes: Self::DEFAULT_MAX_RESPONSE_BYTES,
            timeout: Self::DEFAULT_TIMEOUT,
            max_redirects: 5,
        }
    }
}

/// The files a design-time step may read through `workspace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceAccess {
    /// The project directory the paths are relative to.
    pub root: PathBuf,
    /// The readable files, by `/`-separated path relative to `root`, each with the blake3 hash
    /// of the bytes the step's key was computed from, when known: a file whose bytes changed
    /// since is refused, so a step never reads bytes its key does not cover.
    pub files: BTreeMap<String, Option<[u8; 32]>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns() {
        let policy = HttpPolicy {
            allowed_hosts: vec!["api.example.com".into(), "*.morphir.dev".into()],
            ..HttpPolicy::default()
        };
        assert!(policy.allows("api.example.com"));
        assert!(policy.allows("API.Example.com"));
        assert!(policy.allows("docs.morphir.dev"));
        assert!(policy.allows("a.b.morphir.dev"));
        assert!(!policy.allows("morphir.dev"));
        assert!(!policy.allows("evilmorphir.dev"));
        assert!(!policy.allows("example.com"));
        assert!(!HttpPolicy::default().allows("127.0.0.1"));
    }
}
