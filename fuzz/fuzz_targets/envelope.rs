//! The envelope wire decoder: every guest output goes through it. Whatever decodes must
//! re-encode to bytes that decode to the same envelope, and a file bundle inside must decode
//! without panicking (its paths are checked there).
#![no_main]

use libfuzzer_sys::fuzz_target;
use morphir_envelope::{Envelope, FileBundle};

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = Envelope::decode(data) {
        let again = envelope
            .try_encode()
            .expect("a decoded envelope re-encodes");
        assert_eq!(
            Envelope::decode(&again).expect("re-encoded decodes"),
            envelope
        );
        let _ = envelope.as_files();
    }
    if let Ok(bundle) = FileBundle::decode(data) {
        for file in &bundle.files {
            assert!(
                !file.path.starts_with('/'),
                "absolute path accepted: {}",
                file.path
            );
            assert!(
                !file.path.split('/').any(|c| c == ".." || c.is_empty()),
                "unclean path accepted: {}",
                file.path
            );
        }
    }
});
