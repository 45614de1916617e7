//! The cache's action-record reader on arbitrary bytes, both raw (the frame must refuse them)
//! and wrapped in a valid frame of either kind (so the fuzzer reaches the JSON body, the
//! inline outputs and the key checks). A
//! record is trusted only if it names the key it is read for and its manifest hashes to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use morphir_cache::{CACHE_FORMAT_VERSION, Key, decode_record};

/// The documented frame (cache/README.md): magic, version, body length, body, blake3.
fn frame_as(magic: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 48);
    out.extend_from_slice(magic);
    out.extend_from_slice(&CACHE_FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(body);
    let sum = blake3::hash(&out);
    out.extend_from_slice(sum.as_bytes());
    out
}

/// A record whose outputs are all blobs.
fn frame(body: &[u8]) -> Vec<u8> {
    frame_as(b"MCAR", body)
}

fuzz_target!(|data: &[u8]| {
    let key = Key::from_bytes(*blake3::hash(b"fuzz").as_bytes());
    // Raw, as a plain record, and as a record with inline outputs (JSON length, JSON, bytes).
    for bytes in [data.to_vec(), frame(data), frame_as(b"MCAI", data)] {
        if let Ok(record) = decode_record(&key, &bytes) {
            assert_eq!(record.key, key);
            assert_eq!(record.manifest.key(), key);
        }
    }
    // A body that names the key it is read for reaches the manifest check.
    if let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Some(obj) = json.as_object_mut() {
            obj.insert("key".into(), serde_json::Value::String(key.to_hex()));
            let body = serde_json::to_vec(&json).unwrap();
            if let Ok(record) = decode_record(&key, &frame(&body)) {
                assert_eq!(record.manifest.key(), key);
            }
        }
    }
});
