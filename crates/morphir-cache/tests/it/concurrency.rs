//! Threads writing, reading and pruning one store at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use morphir_cache::{Lookup, NewAction, PruneOptions};
use morphir_envelope::Envelope;

use crate::{key_for, output_for, put_step, store, temp_files};

#[test]
fn concurrent_writers_of_one_key_leave_a_valid_entry() {
    let (_d, s) = store();
    let s = Arc::new(s);
    let (key, manifest) = key_for("racy", b"in");
    // A nondeterministic step: each writer produced different (but valid) output.
    let valid: Vec<Envelope> = (0..6)
        .map(|t| Envelope::new("text/plain", format!("writer {t}")))
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (s, done, valid) = (s.clone(), done.clone(), valid.clone());
            thread::spawn(move || {
                let mut hits = 0;
                while !done.load(Ordering::Relaxed) {
                    match s.lookup(&key).unwrap() {
                        Lookup::Hit(hit) => {
                            assert_eq!(hit.outputs.len(), 1);
                            assert!(valid.contains(&hit.outputs[0]), "{:?}", hit.outputs);
                            hits += 1;
                        }
                        Lookup::Miss => {}
                        Lookup::Corrupt(why) => panic!("corruption under concurrent writes: {why}"),
                    }
                }
                hits
            })
        })
        .collect();
    let writers: Vec<_> = (0..6)
        .map(|t| {
            let (s, manifest, out) = (s.clone(), manifest.clone(), valid[t].clone());
            thread::spawn(move || {
                for _ in 0..25 {
                    s.put(
                        &key,
                        &NewAction {
                            step_id: "racy",
                            manifest: &manifest,
                            outputs: std::slice::from_ref(&out),
                            logs: &[],
                            executor_version: "0",
                        },
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let hits: u32 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(hits > 0);
    let hit = s.get(&key).unwrap().unwrap();
    assert!(valid.contains(&hit.outputs[0]));
    assert!(temp_files(s.bucket()).is_empty(), "temp files left behind");
}

#[test]
fn prune_during_a_build_never_yields_a_wrong_hit() {
    let (_d, s) = store();
    let s = Arc::new(s);
    let done = Arc::new(AtomicBool::new(false));
    let pruner = {
        let (s, done) = (s.clone(), done.clone());
        thread::spawn(move || {
            let mut rounds = 0;
            while !done.load(Ordering::Relaxed) || rounds == 0 {
                // Evict everything, over and over.
                s.prune(&PruneOptions::new(Some(0), None)).unwrap();
                rounds += 1;
                // Let the writers take the lock between rounds.
                thread::sleep(std::time::Duration::from_millis(2));
            }
            rounds
        })
    };
    let workers: Vec<_> = (0..3)
        .map(|t| {
            let s = s.clone();
            thread::spawn(move || {
                let mut seen = 0;
                for i in 0..150 {
                    let step = format!("t{t}-{}", i % 10);
                    let content = format!("{}", i % 7);
                    let (key, _) = key_for(&step, content.as_bytes());
                    match s.lookup(&key).unwrap() {
                        Lookup::Hit(hit) => {
                            assert_eq!(hit.outputs, [output_for(&step, content.as_bytes())]);
                            seen += 1;
                        }
                        // A miss, or a record whose blob prune just removed: both are misses.
                        Lookup::Miss | Lookup::Corrupt(_) => {
                            put_step(&s, &step, content.as_bytes());
                        }
                    }
                }
                seen
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    assert!(pruner.join().unwrap() > 0);
    // Whatever survived is intact.
    s.prune(&PruneOptions::default()).unwrap();
    for t in 0..3 {
        for i in 0..10 {
            for c in 0..7 {
                let step = format!("t{t}-{i}");
                let content = format!("{c}");
                if let Some(hit) = s.get(&key_for(&step, content.as_bytes()).0).unwrap() {
                    assert_eq!(hit.outputs, [output_for(&step, content.as_bytes())]);
                }
            }
        }
    }
}
