//! The IR frontend's JSON reader (classic v1-v4 and canonical): arbitrary bytes must give an
//! IR or an error, never a panic; whatever it reads must write canonical bytes that read back
//! to the same IR.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ir) = morphir_ir::read(data) {
        let canonical = morphir_ir::write_canonical(&ir);
        let again = morphir_ir::read(&canonical).expect("canonical output reads back");
        assert_eq!(
            morphir_ir::write_canonical(&again),
            canonical,
            "canonical form is stable"
        );
    }
});
