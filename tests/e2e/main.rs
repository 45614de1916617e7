//! End-to-end: the real `morphir` binary, real Wasm extensions, real files.

mod build;
mod cache_cmd;
mod cli_misc;
mod crash;
mod extensions;
mod fixtures;
mod graph;
mod hostile;
mod morphir_ir;
mod permissions;
mod reliability;
mod run;
