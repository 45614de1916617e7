//! End-to-end: the real `morphir` binary, real Wasm extensions, real files.

mod build;
mod cache_cmd;
mod cli_misc;
mod components;
mod crash;
mod daemon;
mod extensions;
mod fixtures;
mod graph;
mod hostile;
mod morphir_ir;
mod permissions;
mod reliability;
mod remote_cache;
mod run;
