//! Environment variables, as the extension's permissions allow: only names listed in
//! `[extensions.permissions] env` can be read or set, and setting one changes only this
//! extension's own view (never the host process's environment). In a design-time step the view
//! is the values the step's cache key was computed with, and a set lasts for the call.

use morphir_envelope::stdlib::SetEnvVar;
use morphir_envelope::{Envelope, ErrorPayload, content_type};

use crate::host::{expect, host_call};

/// The value of `name`: `None` when it is allowed but unset. Refused (code
/// `permission-denied`) when `name` is not in the extension's permissions.
pub fn var(name: &str) -> Result<Option<String>, ErrorPayload> {
    let request = Envelope::new(content_type::TEXT, name);
    let response = expect("get_env_var", host_call!(get_env_var, &request))?;
    if response.content_type == content_type::EMPTY {
        return Ok(None);
    }
    Ok(Some(
        String::from_utf8_lossy(&response.content).into_owned(),
    ))
}

/// Sets `name` in the extension's view.
pub fn set_var(name: &str, value: &str) -> Result<(), ErrorPayload> {
    send(name, Some(value))
}

/// Unsets `name` in the extension's view.
pub fn remove_var(name: &str) -> Result<(), ErrorPayload> {
    send(name, None)
}

fn send(name: &str, value: Option<&str>) -> Result<(), ErrorPayload> {
    let request = Envelope::json(&SetEnvVar {
        name: name.to_owned(),
        value: value.map(str::to_owned),
    })
    .map_err(|e| ErrorPayload::new(e.to_string()))?;
    host_call!(set_env_var, &request).map(|_| ())
}
