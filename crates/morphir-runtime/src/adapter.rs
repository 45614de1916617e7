//! Generates the two small modules that put our ABI on top of Extism's.
//!
//! Extism calls only exports that take no parameters, and hands input and output through its
//! kernel (`extism:host/env`). Our guests know nothing of that: they take `(ptr, len)` in their own
//! memory and return a packed `(ptr, len)`. So every extension is linked as three modules in one
//! Extism manifest:
//!
//! ```text
//!  extism kernel  <-- main (adapter, generated) --> morphir_guest (the extension)
//!                          |  fills the table of          |
//!                          v                              v imports host functions from
//!                     morphir:host (bridge, generated) <--+
//! ```
//!
//! * `main` exports one zero-argument function per operation. It copies Extism's input into a
//!   buffer from the guest's allocator, calls the guest, copies the guest's output into Extism's
//!   memory and frees both guest buffers.
//! * `morphir:host` is what guests import host functions from. Extism host functions only see
//!   Extism's memory, never the guest's, and the guest cannot import from `main` (it is
//!   instantiated after the guest, which it imports). So the bridge exports the host functions
//!   as trampolines through a funcref table, and `main`, which can see guest memory, fills the
//!   table with functions that copy the request out of guest memory, call the real host function
//!   (an Extism function in [`INTERNAL_MODULE`]) and copy the response back.
//!
//! Extism moves bytes 8 at a time through kernel calls; the ABI the guest sees does not depend
//! on that, so a faster engine path can replace this module without touching a guest.

use std::fmt::Write as _;

use morphir_envelope::abi::{self, Operation};

/// The name the guest module gets in the manifest.
pub(crate) const GUEST_MODULE: &str = "morphir_guest";
/// The name of Extism's entry module.
pub(crate) const MAIN_MODULE: &str = "main";
/// The namespace of our Extism host functions. Guests cannot import from it (validation
/// allows only [`abi::HOST_MODULE`]); only the generated adapter does.
pub(crate) const INTERNAL_MODULE: &str = "morphir:runtime-internal";
/// The adapter export that reports the guest's ABI version.
pub(crate) const ABI_VERSION_EXPORT: &str = "morphir_abi_version";
const BRIDGE_TABLE: &str = "__morphir_bridge";

/// Fault codes the adapter reports through `fault(code, a, b)`.
pub(crate) mod fault {
    /// The guest's allocator returned 0 for a non-empty request (`a` = size).
    pub(crate) const ALLOC_FAILED: i32 = 1;
    /// The guest returned an output range outside its memory (`a` = ptr, `b` = len).
    pub(crate) const OUTPUT_OUT_OF_BOUNDS: i32 = 2;
    /// A host-function request range outside guest memory (`a` = ptr, `b` = len).
    pub(crate) const REQUEST_OUT_OF_BOUNDS: i32 = 3;
    /// The input is larger than 4 GiB (`a`, `b` = high and low words of the size).
    pub(crate) const INPUT_TOO_LARGE: i32 = 4;
}

/// The bridge module the guest imports `host_imports` from.
pub(crate) fn bridge_wat(host_imports: &[String]) -> String {
    let mut w = String::new();
    w.push_str("(module\n  (type $hc (func (param i32 i32) (result i64)))\n");
    let _ = writeln!(
        w,
        "  (table (export \"{BRIDGE_TABLE}\") {} funcref)",
        host_imports.len()
    );
    for (i, name) in host_imports.iter().enumerate() {
        let _ = writeln!(
            w,
            "  (func (export {}) (type $hc) local.get 0 local.get 1 i32.const {i} call_indirect (type $hc))",
            quote(name)
        );
    }
    w.push(')');
    w
}

#[expect(
    clippy::too_many_lines,
    reason = "one WAT template, clearer whole than split"
)]
/// The `main` module for a guest that exports `operations` and imports `host_imports` (whose
/// indices in the standard library are `host_indices`).
pub(crate) fn main_wat(
    operations: impl IntoIterator<Item = Operation>,
    host_imports: &[String],
    host_indices: &[i32],
) -> String {
    let mut w = String::new();
    w.push_str(
        r#"(module
  (type $hc (func (param i32 i32) (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $x_alloc (param i64) (result i64)))
  (import "extism:host/env" "free" (func $x_free (param i64)))
  (import "extism:host/env" "length" (func $x_length (param i64) (result i64)))
  (import "extism:host/env" "load_u64" (func $x_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "load_u8" (func $x_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "store_u64" (func $x_store_u64 (param i64 i64)))
  (import "extism:host/env" "store_u8" (func $x_store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
"#,
    );
    let _ = writeln!(
        w,
        "  (import \"{INTERNAL_MODULE}\" \"fault\" (func $fault (param i32 i32 i32)))"
    );
    let _ = writeln!(
        w,
        "  (import \"{INTERNAL_MODULE}\" \"call\" (func $host_call (param i32 i64) (result i64)))"
    );
    let _ = writeln!(
        w,
        "  (import \"{GUEST_MODULE}\" \"{}\" (memory 0))",
        abi::EXPORT_MEMORY
    );
    let _ = writeln!(
        w,
        "  (import \"{GUEST_MODULE}\" \"{}\" (func $g_alloc (param i32) (result i32)))",
        abi::EXPORT_ALLOC
    );
    let _ = writeln!(
        w,
        "  (import \"{GUEST_MODULE}\" \"{}\" (func $g_free (param i32 i32)))",
        abi::EXPORT_FREE
    );
    let _ = writeln!(
        w,
        "  (import \"{GUEST_MODULE}\" \"{}\" (func $g_abi (result i32)))",
        abi::EXPORT_ABI_VERSION
    );
    let operations: Vec<Operation> = operations.into_iter().collect();
    for op in &operations {
        let _ = writeln!(
            w,
            "  (import \"{GUEST_MODULE}\" \"{0}\" (func $g_{0} (param i32 i32) (result i64)))",
            op.export_name()
        );
    }
    if !host_imports.is_empty() {
        let _ = writeln!(
            w,
            "  (import \"{}\" \"{BRIDGE_TABLE}\" (table {} funcref))",
            abi::HOST_MODULE,
            host_imports.len()
        );
        w.push_str("  (elem (table 0) (i32.const 0) func");
        for i in 0..host_imports.len() {
            let _ = write!(w, " $hc_{i}");
        }
        w.push_str(")\n");
    }

    // Shared helpers. Bounds are checked in 64-bit arithmetic so a hostile (ptr, len) cannot
    // wrap around; an out-of-range access becomes a named fault rather than a bare trap.
    w.push_str(
        r#"
  (func $in_bounds (param $ptr i32) (param $len i32) (result i32)
    (i64.le_u
      (i64.add (i64.extend_i32_u (local.get $ptr)) (i64.extend_i32_u (local.get $len)))
      (i64.shl (i64.extend_i32_u (memory.size)) (i64.const 16))))

  (func $guest_alloc (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (call $g_alloc (local.get $len)))
    (if (i32.and (i32.eqz (local.get $ptr)) (i32.ne (local.get $len) (i32.const 0)))
      (then (call $fault (i32.const 1) (local.get $len) (i32.const 0))))
    (local.get $ptr))

  ;; Extism input -> fresh guest buffer; returns the buffer.
  (func $read_input (param $len i32) (result i32)
    (local $ptr i32) (local $i i32) (local $end8 i32)
    (local.set $ptr (call $guest_alloc (local.get $len)))
    (local.set $end8 (i32.and (local.get $len) (i32.const -8)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $end8)))
      (i64.store align=1 (i32.add (local.get $ptr) (local.get $i))
        (call $input_load_u64 (i64.extend_i32_u (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br $next)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (i32.store8 (i32.add (local.get $ptr) (local.get $i))
        (call $input_load_u8 (i64.extend_i32_u (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.get $ptr))

  ;; guest[ptr..ptr+len] -> a new Extism block; returns its offset.
  (func $to_extism (param $ptr i32) (param $len i32) (result i64)
    (local $off i64) (local $i i32) (local $end8 i32)
    (local.set $off (call $x_alloc (i64.extend_i32_u (local.get $len))))
    (local.set $end8 (i32.and (local.get $len) (i32.const -8)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $end8)))
      (call $x_store_u64 (i64.add (local.get $off) (i64.extend_i32_u (local.get $i)))
        (i64.load align=1 (i32.add (local.get $ptr) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br $next)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (call $x_store_u8 (i64.add (local.get $off) (i64.extend_i32_u (local.get $i)))
        (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.get $off))

  ;; An Extism block -> a new guest buffer (the block is freed); returns the packed (ptr, len).
  (func $from_extism (param $off i64) (result i64)
    (local $len i32) (local $ptr i32) (local $i i32) (local $end8 i32)
    (local.set $len (i32.wrap_i64 (call $x_length (local.get $off))))
    (local.set $ptr (call $guest_alloc (local.get $len)))
    (local.set $end8 (i32.and (local.get $len) (i32.const -8)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $end8)))
      (i64.store align=1 (i32.add (local.get $ptr) (local.get $i))
        (call $x_load_u64 (i64.add (local.get $off) (i64.extend_i32_u (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br $next)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (i32.store8 (i32.add (local.get $ptr) (local.get $i))
        (call $x_load_u8 (i64.add (local.get $off) (i64.extend_i32_u (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (call $x_free (local.get $off))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
            (i64.extend_i32_u (local.get $len))))

  ;; Runs one operation: input in, guest call, output out, both guest buffers freed.
  (func $run (param $op i32) (result i32)
    (local $len64 i64) (local $len i32) (local $in i32)
    (local $packed i64) (local $out i32) (local $out_len i32)
    (local.set $len64 (call $input_length))
    (if (i64.gt_u (local.get $len64) (i64.const 0xffffffff))
      (then (call $fault (i32.const 4)
        (i32.wrap_i64 (i64.shr_u (local.get $len64) (i64.const 32)))
        (i32.wrap_i64 (local.get $len64)))))
    (local.set $len (i32.wrap_i64 (local.get $len64)))
    (local.set $in (call $read_input (local.get $len)))
    (local.set $packed (call $dispatch (local.get $op) (local.get $in) (local.get $len)))
    (local.set $out (i32.wrap_i64 (i64.shr_u (local.get $packed) (i64.const 32))))
    (local.set $out_len (i32.wrap_i64 (local.get $packed)))
    (if (i32.eqz (call $in_bounds (local.get $out) (local.get $out_len)))
      (then (call $fault (i32.const 2) (local.get $out) (local.get $out_len))))
    (call $output_set (call $to_extism (local.get $out) (local.get $out_len))
      (i64.extend_i32_u (local.get $out_len)))
    (call $g_free (local.get $out) (local.get $out_len))
    (call $g_free (local.get $in) (local.get $len))
    (i32.const 0))

  (func (export "morphir_abi_version") (result i32)
    (local $off i64)
    (local.set $off (call $x_alloc (i64.const 8)))
    (call $x_store_u64 (local.get $off) (i64.extend_i32_u (call $g_abi)))
    (call $output_set (local.get $off) (i64.const 8))
    (i32.const 0))
"#,
    );

    // Dispatch by index, so $run is written once.
    w.push_str(
        "\n  (func $dispatch (param $op i32) (param $ptr i32) (param $len i32) (result i64)\n",
    );
    for (i, op) in operations.iter().enumerate() {
        let _ = writeln!(
            w,
            "    (if (i32.eq (local.get $op) (i32.const {i})) (then (return (call $g_{} (local.get $ptr) (local.get $len)))))",
            op.export_name()
        );
    }
    w.push_str("    (unreachable))\n");
    for (i, op) in operations.iter().enumerate() {
        let _ = writeln!(
            w,
            "  (func (export \"{}\") (result i32) (call $run (i32.const {i})))",
            op.export_name()
        );
    }

    for (i, idx) in host_indices.iter().enumerate() {
        let _ = writeln!(
            w,
            r"
  (func $hc_{i} (type $hc)
    (local $off i64)
    (if (i32.eqz (call $in_bounds (local.get 0) (local.get 1)))
      (then (call $fault (i32.const 3) (local.get 0) (local.get 1))))
    (local.set $off (call $host_call (i32.const {idx}) (call $to_extism (local.get 0) (local.get 1))))
    (if (result i64) (i64.eqz (local.get $off))
      (then (i64.const 0))
      (else (call $from_extism (local.get $off)))))"
        );
    }
    w.push(')');
    w
}

/// A WAT string literal.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_:.".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "\\{b:02x}");
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_modules_compile() {
        let imports = vec!["log".to_owned()];
        wat::parse_str(bridge_wat(&imports)).unwrap();
        wat::parse_str(main_wat(
            [Operation::GetCapabilities, Operation::Transform],
            &imports,
            &[0],
        ))
        .unwrap();
        wat::parse_str(main_wat([Operation::GetCapabilities], &[], &[])).unwrap();
    }
}
