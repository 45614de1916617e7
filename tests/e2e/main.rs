//! End-to-end: the real `morphir` binary, real Wasm extensions, real files.

mod extensions;
