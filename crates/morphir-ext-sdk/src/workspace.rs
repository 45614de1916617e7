//! The project's files, for design-time steps: only the files the step's task declares as
//! `inputs`, read as they were when the step's cache key was computed. Runtime programs get the
//! error code `unavailable`.

use morphir_envelope::stdlib::workspace::{LIST, READ};
use morphir_envelope::{Envelope, ErrorPayload, content_type};

use crate::host::{expect, host_call, json};

/// The bytes of `path` (relative to the project directory, `/`-separated).
pub fn read(path: &str) -> Result<Vec<u8>, ErrorPayload> {
    let request = Envelope::new(content_type::TEXT, path).with_kind(READ);
    Ok(expect("workspace", host_call!(workspace, &request))?.content)
}

/// `path` as UTF-8 text (invalid bytes replaced).
pub fn read_to_string(path: &str) -> Result<String, ErrorPayload> {
    read(path).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// The files the step may read.
pub fn list() -> Result<Vec<String>, ErrorPayload> {
    let request = Envelope::empty().with_kind(LIST);
    json(
        "workspace",
        &expect("workspace", host_call!(workspace, &request))?,
    )
}
