//! stats, prune and clean.

use std::fs;
use std::time::Duration;

use morphir_cache::{Key, NewAction, PruneOptions, Store};

use crate::{age, key_for, output_for, put_step, store, temp_files};

const HOUR: Duration = Duration::from_secs(3600);

/// Puts `n` steps whose records were last used `n - i` hours ago (step 0 is the oldest).
fn aged_steps(store: &Store, n: usize) -> Vec<Key> {
    (0..n)
        .map(|i| {
            let key = put_step(store, &format!("s{i}"), format!("content {i}").as_bytes());
            age(
                &store.record_path(&key),
                HOUR * u32::try_from(n - i).unwrap(),
            );
            key
        })
        .collect()
}

/// The bytes prune cannot evict by size (last-run entries), and the bytes of one entry (record
/// and blob; all entries here are about the same size).
fn sizes(store: &Store) -> (u64, u64) {
    let st = store.stats().unwrap();
    (
        st.last_run_bytes,
        (st.record_bytes + st.blob_bytes) / st.records,
    )
}

#[test]
fn prune_by_size_removes_least_recently_used_first() {
    let (_d, s) = store();
    let keys = aged_steps(&s, 5);
    let (fixed, per_step) = sizes(&s);
    // Room for three steps (and a bit).
    let limit = fixed + per_step * 3 + per_step / 2;
    let report = s.prune(&PruneOptions::new(Some(limit), None)).unwrap();
    assert_eq!(report.records_removed, 2, "{report:?}");
    assert_eq!(report.blobs_removed, 2, "{report:?}");
    assert!(report.bytes_remaining <= limit);
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(s.get(key).unwrap().is_some(), i >= 2, "step {i}");
    }
    let stats = s.stats().unwrap();
    assert_eq!((stats.records, stats.blobs), (3, 3));
    assert_eq!(report.bytes_remaining, stats.total_bytes);
}

#[test]
fn a_hit_protects_an_entry_from_eviction() {
    let (_d, s) = store();
    let keys = aged_steps(&s, 3);
    s.get(&keys[0]).unwrap().unwrap(); // the oldest becomes the newest
    let (fixed, per_step) = sizes(&s);
    s.prune(&PruneOptions::new(
        Some(fixed + per_step + per_step / 2),
        None,
    ))
    .unwrap();
    assert!(s.get(&keys[0]).unwrap().is_some());
    assert!(s.get(&keys[1]).unwrap().is_none());
    assert!(s.get(&keys[2]).unwrap().is_none());
}

#[test]
fn a_blob_shared_with_a_kept_record_survives() {
    let (_d, s) = store();
    let old = put_step(&s, "shared", b"1");
    age(&s.record_path(&old), HOUR * 2);
    // Another key with the same output envelope (same blob).
    let (new, manifest) = key_for("other", b"2");
    s.put(
        &new,
        &NewAction {
            step_id: "other",
            manifest: &manifest,
            outputs: &[output_for("shared", b"1")],
            logs: &[],
            executor_version: "0",
        },
    )
    .unwrap();
    let report = s.prune(&PruneOptions::new(Some(1), None)).unwrap();
    // Size 1 cannot be met: everything goes, oldest first.
    assert_eq!(report.records_removed, 2);
    assert_eq!(s.stats().unwrap().blobs, 0);
    // With a limit that fits one record, the newer one and the shared blob stay.
    let old = put_step(&s, "shared", b"1");
    age(&s.record_path(&old), HOUR * 2);
    s.put(
        &new,
        &NewAction {
            step_id: "other",
            manifest: &manifest,
            outputs: &[output_for("shared", b"1")],
            logs: &[],
            executor_version: "0",
        },
    )
    .unwrap();
    let stats = s.stats().unwrap();
    let keep_one = stats.total_bytes - fs::metadata(s.record_path(&old)).unwrap().len();
    let report = s.prune(&PruneOptions::new(Some(keep_one), None)).unwrap();
    assert_eq!(
        (report.records_removed, report.blobs_removed),
        (1, 0),
        "{report:?}"
    );
    assert!(s.get(&new).unwrap().is_some());
}

#[test]
fn prune_by_age() {
    let (_d, s) = store();
    let keys = aged_steps(&s, 4); // used 4, 3, 2, 1 hours ago
    age(&s.last_run_path("s0"), HOUR * 5);
    let report = s
        .prune(&PruneOptions::new(None, Some(HOUR * 2 + HOUR / 2)))
        .unwrap();
    assert_eq!(report.records_removed, 2);
    assert_eq!(report.last_runs_removed, 1);
    let hits: Vec<bool> = keys.iter().map(|k| s.get(k).unwrap().is_some()).collect();
    assert_eq!(hits, [false, false, true, true]);
    assert!(s.last_run("s0").unwrap().is_none());
    assert!(s.last_run("s1").unwrap().is_some());
}

#[test]
fn a_prune_that_removes_last_run_entries_removes_the_index_that_vouches_for_them() {
    let (_d, s) = store();
    aged_steps(&s, 2);
    s.flush_last_runs().unwrap();
    let index = s.bucket().join("steps.index");
    assert!(index.exists());
    // Nothing of the last runs removed: the index stays.
    s.prune(&PruneOptions::default()).unwrap();
    assert!(index.exists());
    age(&s.last_run_path("s0"), HOUR * 5);
    let report = s.prune(&PruneOptions::new(None, Some(HOUR * 4))).unwrap();
    assert_eq!(report.last_runs_removed, 1);
    assert!(!index.exists());
    // The next build's step writes its entry again (the index no longer says it is there).
    let fresh = Store::open(s.root()).unwrap();
    let (key, manifest) = key_for("s0", b"content 0");
    fresh.set_last_run("s0", &key, &manifest).unwrap();
    assert!(fresh.last_run("s0").unwrap().is_some());
    s.clean().unwrap();
    assert!(!index.exists());
}

#[test]
fn a_prune_that_removes_records_removes_the_index_that_keeps_copies_of_them() {
    let (_d, s) = store();
    let key = put_step(&s, "s0", b"content 0");
    let (_, manifest) = key_for("s0", b"content 0");
    s.flush_last_runs().unwrap();
    let index = s.bucket().join("steps.index");
    let hit = |store: &Store| {
        matches!(
            store.lookup_step("s0", &key, &manifest).unwrap(),
            morphir_cache::Lookup::Hit(_)
        )
    };
    assert!(hit(&Store::open(s.root()).unwrap()));
    let report = s.prune(&PruneOptions::new(Some(1), None)).unwrap();
    assert_eq!(report.records_removed, 1, "{report:?}");
    assert!(
        !index.exists(),
        "the index would serve the record prune removed"
    );
    assert!(!hit(&Store::open(s.root()).unwrap()));
}

#[test]
fn prune_collects_garbage_and_broken_records() {
    let (_d, s) = store();
    let keep = put_step(&s, "keep", b"1");
    let orphan = s.put_blob(b"nobody references me").unwrap();
    let broken = put_step(&s, "broken", b"2");
    let broken_blob = s.get(&broken).unwrap().unwrap().record.outputs[0];
    fs::remove_file(s.blob_path(&broken_blob)).unwrap();
    let torn = put_step(&s, "torn", b"3");
    fs::write(s.record_path(&torn), b"MCAR").unwrap();
    let report = s.prune(&PruneOptions::default()).unwrap();
    assert_eq!(report.corrupt_removed, 2, "{report:?}");
    assert_eq!(report.records_removed, 0);
    // The orphan and the torn record's blob.
    assert_eq!(report.blobs_removed, 2, "{report:?}");
    assert!(!s.blob_path(&orphan).exists());
    assert!(s.get(&keep).unwrap().is_some());
    assert_eq!(s.stats().unwrap().records, 1);
}

#[test]
fn prune_removes_every_temp_file_left_by_a_dead_writer() {
    let (_d, s) = store();
    let key = put_step(&s, "s", b"x");
    let rec = s.record_path(&key);
    let blob = s.blob_path(&s.get(&key).unwrap().unwrap().record.outputs[0]);
    // Old and fresh alike: while prune holds the exclusive lock no writer is alive to own one.
    let stale = [
        rec.with_file_name(".tmp-0001"),
        blob.with_file_name(".tmp-0002"),
        s.last_run_path("s").with_file_name(".tmp-0003"),
    ];
    for p in &stale {
        fs::write(p, b"half a write").unwrap();
        age(p, HOUR);
    }
    fs::write(rec.with_file_name(".tmp-0004"), b"written a moment ago").unwrap();
    assert_eq!(s.stats().unwrap().temp_files, 4);
    let report = s.prune(&PruneOptions::default()).unwrap();
    assert_eq!(report.temp_removed, 4);
    assert_eq!(temp_files(s.bucket()), Vec::<std::path::PathBuf>::new());
    assert!(s.get(&key).unwrap().is_some(), "prune removed a live entry");
}

#[test]
fn unknown_files_are_left_alone() {
    let (_d, s) = store();
    let key = put_step(&s, "s", b"x");
    let odd = s.record_path(&key).with_file_name("NOTES.txt");
    fs::write(&odd, b"mine").unwrap();
    s.prune(&PruneOptions::new(Some(0), Some(Duration::ZERO)))
        .unwrap();
    assert!(odd.exists());
    assert_eq!(s.stats().unwrap().records, 0);
}

#[test]
fn clean_removes_every_bucket_but_nothing_else() {
    let (_d, s) = store();
    let key = put_step(&s, "s", b"x");
    let readme = s.root().join("README.md");
    fs::write(&readme, b"# cache").unwrap();
    let old_bucket = s.root().join("v0");
    fs::create_dir_all(old_bucket.join("blobs")).unwrap();
    let not_a_bucket = s.root().join("vendor");
    fs::create_dir_all(&not_a_bucket).unwrap();
    s.clean().unwrap();
    assert!(s.get(&key).unwrap().is_none());
    let stats = s.stats().unwrap();
    assert_eq!(stats.total_bytes, 0);
    assert_eq!((stats.records, stats.blobs, stats.last_runs), (0, 0, 0));
    assert!(readme.exists() && not_a_bucket.exists());
    assert!(!old_bucket.exists());
    // Still usable.
    let key = put_step(&s, "s", b"x");
    assert!(s.get(&key).unwrap().is_some());
}
