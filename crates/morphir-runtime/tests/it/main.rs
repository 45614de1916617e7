//! Integration tests of the runtime: real guests built from `extensions/` (core modules and
//! components), hostile WAT modules, the guest-import audit, and the same guests run through
//! plain wasmtime.

mod components;
mod guests;
mod hostile;
mod imports;
mod load;
mod stdlib;
mod support;
mod wasmtime_direct;
