//! Every kind of damage is detected, never served, and repaired.

use std::fs;

use morphir_cache::{Corruption, Key, Lookup, Store};

use crate::{output_for, put_step, store};

/// Damages an entry with `damage`, then checks: a lookup reports corruption (never a hit),
/// the bad files are gone, the next lookup is a plain miss, and a new put hits again.
fn assert_detected(
    store: &Store,
    damage: impl FnOnce(&Store, &Key),
    expect: impl FnOnce(&Corruption) -> bool,
) {
    let key = put_step(store, "s", b"content");
    let blob = store.get(&key).unwrap().unwrap().record.outputs[0];
    damage(store, &key);
    match store.lookup(&key).unwrap() {
        Lookup::Corrupt(why) => assert!(expect(&why), "unexpected reason: {why}"),
        Lookup::Hit(hit) => panic!("damaged entry served: {hit:?}"),
        Lookup::Miss => panic!("damage reported as a plain miss"),
    }
    assert!(!store.record_path(&key).exists(), "bad record kept");
    if let Ok(bytes) = fs::read(store.blob_path(&blob)) {
        assert_eq!(morphir_cache::Digest::of(&bytes), blob, "bad blob kept");
    }
    assert!(matches!(store.lookup(&key).unwrap(), Lookup::Miss));
    put_step(store, "s", b"content");
    let hit = store.get(&key).unwrap().expect("hit after re-put");
    assert_eq!(hit.outputs, [output_for("s", b"content")]);
}

fn first_blob(store: &Store, key: &Key) -> std::path::PathBuf {
    let rec = store.get(key).unwrap().unwrap().record;
    store.blob_path(&rec.outputs[0])
}

#[test]
fn flipped_blob_byte() {
    let (_d, s) = store();
    for at in [0usize, 5, 29, 40] {
        assert_detected(
            &s,
            |s, k| {
                let p = first_blob(s, k);
                let mut b = fs::read(&p).unwrap();
                let i = at.min(b.len() - 1);
                b[i] ^= 0x20;
                fs::write(&p, b).unwrap();
            },
            |w| matches!(w, Corruption::BlobCorrupt(_)),
        );
    }
}

#[test]
fn truncated_blob() {
    let (_d, s) = store();
    for keep in [0usize, 1, 30] {
        assert_detected(
            &s,
            |s, k| {
                let p = first_blob(s, k);
                let b = fs::read(&p).unwrap();
                fs::write(&p, &b[..keep.min(b.len() - 1)]).unwrap();
            },
            |w| matches!(w, Corruption::BlobCorrupt(_)),
        );
    }
}

#[test]
fn deleted_blob() {
    let (_d, s) = store();
    assert_detected(
        &s,
        |s, k| fs::remove_file(first_blob(s, k)).unwrap(),
        |w| matches!(w, Corruption::BlobMissing(_)),
    );
}

#[test]
fn blob_swapped_for_another_valid_envelope() {
    let (_d, s) = store();
    assert_detected(
        &s,
        |s, k| fs::write(first_blob(s, k), output_for("evil", b"x").encode()).unwrap(),
        |w| matches!(w, Corruption::BlobCorrupt(_)),
    );
}

#[test]
fn every_flipped_record_byte() {
    let (_d, s) = store();
    let key = put_step(&s, "s", b"content");
    let len = fs::read(s.record_path(&key)).unwrap().len();
    // Every byte of the header and the checksum, and a stride through the body (the frame's
    // unit tests flip every bit of a small frame).
    let positions = (0..16)
        .chain((16..len - 32).step_by(7))
        .chain(len - 32..len);
    for at in positions {
        assert_detected(
            &s,
            |s, k| {
                let p = s.record_path(k);
                let mut b = fs::read(&p).unwrap();
                b[at] ^= 1 << (at % 8);
                fs::write(&p, b).unwrap();
            },
            |w| matches!(w, Corruption::Record(_)),
        );
    }
}

#[test]
fn truncated_or_extended_record() {
    let (_d, s) = store();
    let key = put_step(&s, "s", b"content");
    let len = fs::read(s.record_path(&key)).unwrap().len();
    for keep in [0, 1, 4, 16, 47, len / 2, len - 32, len - 1] {
        assert_detected(
            &s,
            |s, k| {
                let p = s.record_path(k);
                let b = fs::read(&p).unwrap();
                fs::write(&p, &b[..keep]).unwrap();
            },
            |w| matches!(w, Corruption::Record(_)),
        );
    }
    assert_detected(
        &s,
        |s, k| {
            let p = s.record_path(k);
            let mut b = fs::read(&p).unwrap();
            b.extend_from_slice(b"\n");
            fs::write(&p, b).unwrap();
        },
        |w| matches!(w, Corruption::Record(_)),
    );
}

#[test]
fn garbage_record() {
    let (_d, s) = store();
    assert_detected(
        &s,
        |s, k| fs::write(s.record_path(k), b"{\"not\": \"a record\"}").unwrap(),
        |w| matches!(w, Corruption::Record(_)),
    );
}

#[test]
fn corrupt_last_run_is_dropped() {
    let (_d, s) = store();
    put_step(&s, "s", b"x");
    let p = s.last_run_path("s");
    let mut b = fs::read(&p).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 1;
    fs::write(&p, b).unwrap();
    assert!(s.last_run("s").unwrap().is_none());
    assert!(!p.exists());
}

#[test]
fn a_stray_temp_file_is_never_read() {
    let (_d, s) = store();
    let key = put_step(&s, "s", b"x");
    let rec = s.record_path(&key);
    // A crashed writer left a half-written record beside the real one.
    let b = fs::read(&rec).unwrap();
    fs::write(rec.with_file_name(".tmp-deadbeef"), &b[..b.len() / 2]).unwrap();
    assert!(s.get(&key).unwrap().is_some());
}

/// A record holding its output inline: a flipped bit anywhere, inline bytes included, or a cut
/// anywhere, is refused and the record removed; the next put hits again.
#[test]
fn damaged_inline_record() {
    let (_d, s) = store();
    let (key, manifest) = crate::key_for("s", b"c");
    let outputs = [crate::small_output_for("s", b"c")];
    let put = |s: &Store| {
        s.put(
            &key,
            &morphir_cache::NewAction {
                step_id: "s",
                manifest: &manifest,
                outputs: &outputs,
                logs: &[],
                executor_version: "0.1.0",
            },
        )
        .unwrap();
    };
    put(&s);
    let good = fs::read(s.record_path(&key)).unwrap();
    let damaged = (0..good.len())
        .step_by(7)
        .map(|i| {
            let mut b = good.clone();
            b[i] ^= 0x04;
            b
        })
        .chain([good[..good.len() - 40].to_vec(), good[..20].to_vec()]);
    for bytes in damaged {
        fs::write(s.record_path(&key), &bytes).unwrap();
        assert!(
            matches!(
                s.lookup(&key).unwrap(),
                Lookup::Corrupt(Corruption::Record(_))
            ),
            "damage served"
        );
        assert!(!s.record_path(&key).exists(), "bad record kept");
        put(&s);
        assert_eq!(s.get(&key).unwrap().unwrap().outputs, outputs);
    }
}
