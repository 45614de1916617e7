//! End-to-end: the real `morphir` binary, real Wasm extensions, real files.

mod build;
mod cache_cmd;
mod cli_misc;
mod components;
mod daemon;
mod extensions;
mod fixtures;
mod graph;
mod morphir_ir;
mod permissions;
mod remote_cache;
mod run;
