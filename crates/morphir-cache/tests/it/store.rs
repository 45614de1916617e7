//! Round trips, last runs and `--explain`.

use std::time::Duration;

use morphir_cache::{
    Digest, Durability, KeyBuilder, LogLine, Lookup, NewAction, Store, StoreOptions,
};
use morphir_envelope::{Envelope, Header};

use crate::{age, key_for, output_for, put_step, store};

#[test]
fn round_trip() {
    let (_dir, store) = store();
    let (key, manifest) = key_for("gen", b"[1]");
    assert!(matches!(store.lookup(&key).unwrap(), Lookup::Miss));
    let outputs = [
        Envelope::new("application/json", r#"{"ok":true}"#).with_header(Header {
            seqnum: 7,
            session_id: "build-1".into(),
            kind: Some("result".into()),
        }),
        // Larger than INLINE_MAX: a blob; the other two live inside the record.
        Envelope::new(
            "application/octet-stream",
            vec![7u8; morphir_cache::INLINE_MAX + 1],
        ),
        Envelope::empty(),
    ];
    let logs = [
        LogLine::new("info", "hello"),
        LogLine::new("warn", "careful"),
    ];
    let written = store
        .put(
            &key,
            &NewAction {
                step_id: "gen",
                manifest: &manifest,
                outputs: &outputs,
                logs: &logs,
                executor_version: "0.1.0",
            },
        )
        .unwrap();
    let hit = store.get(&key).unwrap().expect("hit");
    assert_eq!(hit.outputs, outputs);
    assert_eq!(hit.record, written);
    assert_eq!(hit.record.logs, logs);
    assert_eq!(hit.record.step_id, "gen");
    assert_eq!(hit.record.manifest, manifest);
    assert_eq!(hit.record.executor_version, "0.1.0");
    assert_eq!(hit.record.outputs.len(), 3);
    assert!(hit.record.created_at() <= std::time::SystemTime::now());
    // Every output is named by its digest; the large one is a verified blob.
    for (d, env) in hit.record.outputs.iter().zip(&outputs) {
        assert_eq!(*d, Digest::of(&env.encode()));
    }
    assert_eq!(
        store.get_blob(&hit.record.outputs[1]).unwrap().unwrap(),
        outputs[1].encode()
    );
    let small = |e: &Envelope| e.encode().len() as u64;
    assert_eq!(
        hit.record.inline,
        [small(&outputs[0]), 0, small(&outputs[2])]
    );
    let stats = store.stats().unwrap();
    assert_eq!(
        (
            stats.records,
            stats.blobs,
            stats.last_runs,
            stats.temp_files
        ),
        (1, 1, 1, 0)
    );
    assert_eq!(
        stats.total_bytes,
        stats.record_bytes + stats.blob_bytes + stats.last_run_bytes
    );
    assert!(stats.oldest_use.is_some() && stats.oldest_use == stats.newest_use);
}

#[test]
fn layout_is_versioned_and_sharded() {
    let (_dir, store) = store();
    let key = put_step(&store, "s", b"x");
    let hit = store.get(&key).unwrap().unwrap();
    let rec = store.record_path(&key);
    let hex = key.to_string();
    assert!(
        rec.ends_with(format!("v1/actions/{}/{hex}", &hex[..2])),
        "{}",
        rec.display()
    );
    let blob = store.blob_path(&hit.record.outputs[0]);
    assert!(blob.starts_with(store.root().join("v1/blobs")));
    assert_eq!(
        Digest::of(&std::fs::read(&blob).unwrap()),
        hit.record.outputs[0],
        "blobs are named by the hash of their bytes"
    );
    assert!(
        store
            .last_run_path("s")
            .starts_with(store.root().join("v1/steps"))
    );
}

#[test]
fn identical_outputs_share_a_blob() {
    let (_dir, store) = store();
    let a = put_step(&store, "same", b"1");
    let (b, manifest) = key_for("other", b"1");
    let outputs = [output_for("same", b"1")];
    store
        .put(
            &b,
            &NewAction {
                step_id: "other",
                manifest: &manifest,
                outputs: &outputs,
                logs: &[],
                executor_version: "0.1.0",
            },
        )
        .unwrap();
    let ra = store.get(&a).unwrap().unwrap().record;
    let rb = store.get(&b).unwrap().unwrap().record;
    assert_eq!(ra.outputs, rb.outputs);
    assert_eq!(store.stats().unwrap().blobs, 1);
}

#[test]
fn a_miss_is_explained_against_the_last_run() {
    let (_dir, store) = store();
    let k1 = put_step(&store, "gen", b"[1]");
    let last = store.last_run("gen").unwrap().unwrap();
    assert_eq!(last.key, k1);
    assert_eq!(last.step_id, "gen");
    // The input file changed: a miss, explained.
    let (k2, m2) = key_for("gen", b"[2]");
    assert!(store.get(&k2).unwrap().is_none());
    let changes: Vec<String> = last
        .manifest
        .diff(&m2)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(changes, ["input file src/a.json changed"]);
    // After a hit on an older key, the last run follows it.
    let k2 = put_step(&store, "gen", b"[2]");
    assert_eq!(store.last_run("gen").unwrap().unwrap().key, k2);
    let hit = store.get(&k1).unwrap().unwrap();
    store
        .set_last_run("gen", &k1, &hit.record.manifest)
        .unwrap();
    assert_eq!(store.last_run("gen").unwrap().unwrap().key, k1);
    assert!(store.last_run("never-ran").unwrap().is_none());
}

#[test]
fn explain_names_each_kind_of_change() {
    let build = |config: i32, env: Option<&str>, upstream: &str, wasm: &[u8]| {
        KeyBuilder::new("0.1.0")
            .extension_wasm(wasm)
            .config(&serde_json::json!({ "level": config }))
            .env_var("FOO", env)
            .upstream("X", &Envelope::new("application/json", upstream.to_owned()))
            .finish()
            .unwrap()
            .1
    };
    let old = build(1, Some("a"), "[]", b"w1");
    let new = build(2, None, "[1]", b"w2");
    let text: Vec<String> = morphir_cache::diff(&old, &new)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        text,
        [
            "config changed",
            "env var FOO changed",
            "extension binary changed",
            "upstream step X changed"
        ]
    );
    let json = serde_json::to_value(morphir_cache::diff(&old, &new)).unwrap();
    assert_eq!(
        json[0],
        serde_json::json!({"component": "config", "kind": "changed"})
    );
}

#[test]
fn a_hit_refreshes_the_lru_clock() {
    let (_dir, store) = store();
    let key = put_step(&store, "s", b"x");
    let path = store.record_path(&key);
    age(&path, Duration::from_secs(3600));
    let before = std::fs::metadata(&path).unwrap().modified().unwrap();
    store.get(&key).unwrap().unwrap();
    let after = std::fs::metadata(&path).unwrap().modified().unwrap();
    assert!(
        after > before + Duration::from_mins(50),
        "mtime not refreshed"
    );
}

#[test]
fn fsync_mode_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(
        dir.path(),
        StoreOptions {
            durability: Durability::Fsync,
        },
    )
    .unwrap();
    let key = put_step(&store, "s", b"x");
    // Rewriting the same entry re-verifies and syncs the existing blob.
    put_step(&store, "s", b"x");
    assert_eq!(
        store.get(&key).unwrap().unwrap().outputs,
        [output_for("s", b"x")]
    );
}

#[test]
fn reopening_finds_the_entries() {
    let dir = tempfile::tempdir().unwrap();
    let key = put_step(&Store::open(dir.path()).unwrap(), "s", b"x");
    let again = Store::open(dir.path()).unwrap();
    assert!(again.get(&key).unwrap().is_some());
}

#[test]
fn small_outputs_live_inside_their_record() {
    let (_dir, store) = store();
    let (key, manifest) = key_for("small", b"1");
    let outputs = [crate::small_output_for("small", b"1")];
    store
        .put(
            &key,
            &NewAction {
                step_id: "small",
                manifest: &manifest,
                outputs: &outputs,
                logs: &[],
                executor_version: "0.1.0",
            },
        )
        .unwrap();
    assert_eq!(store.stats().unwrap().blobs, 0, "no blob written");
    let bytes = std::fs::read(store.record_path(&key)).unwrap();
    assert_eq!(&bytes[..4], b"MCAI");
    let hit = store.get(&key).unwrap().expect("hit from the record alone");
    assert_eq!(hit.outputs, outputs);
    // The full check verifies each inline output against its digest.
    let record = morphir_cache::decode_record(&key, &bytes).unwrap();
    assert_eq!(record.outputs, [Digest::of(&outputs[0].encode())]);
    // Prune keeps it: it needs no blob.
    let report = store
        .prune(&morphir_cache::PruneOptions::new(None, None))
        .unwrap();
    assert_eq!(report.corrupt_removed, 0, "{report:?}");
    assert!(store.get(&key).unwrap().is_some());
}
