//! A writer process killed with SIGKILL at arbitrary points never leaves an entry that is
//! served wrong, or even one that fails verification: records are renamed into place whole.

use std::process::{Command, Stdio};
use std::time::Duration;

use morphir_cache::{Digest, KeyBuilder, Lookup, NewAction, PruneOptions, Store};
use morphir_envelope::Envelope;

const ROOT_ENV: &str = "MORPHIR_CACHE_CRASH_ROOT";
const STEPS: u64 = 40;
const CONTENTS: u64 = 7;

fn entry(i: u64) -> (morphir_cache::Key, morphir_cache::KeyManifest, Envelope) {
    let (step, content) = (i % STEPS, i % CONTENTS);
    let (key, manifest) = KeyBuilder::new("0")
        .extra("step", &step.to_le_bytes())
        .input_file("in", &Digest::of(&content.to_le_bytes()))
        .finish()
        .unwrap();
    // Large enough that a kill often lands mid-write.
    let body = format!("step {step} content {content};").repeat(4096);
    (key, manifest, Envelope::new("text/plain", body))
}

#[test]
#[ignore = "the child process of `sigkill_during_writes_never_yields_a_wrong_hit`"]
fn crash_child_writer() {
    let Ok(root) = std::env::var(ROOT_ENV) else {
        return;
    };
    let store = Store::open(root).unwrap();
    for i in 0..u64::MAX {
        let (key, manifest, output) = entry(i);
        store
            .put(
                &key,
                &NewAction {
                    step_id: &format!("s{}", i % STEPS),
                    manifest: &manifest,
                    outputs: &[output],
                    logs: &[],
                    executor_version: "0",
                },
            )
            .unwrap();
    }
}

#[test]
fn sigkill_during_writes_never_yields_a_wrong_hit() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let exe = std::env::current_exe().unwrap();
    for round in 0..6u64 {
        let mut child = Command::new(&exe)
            .args([
                "crash::crash_child_writer",
                "--exact",
                "--ignored",
                "--test-threads=1",
            ])
            .env(ROOT_ENV, &root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(150 + 41 * round));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
    }
    let store = Store::open(&root).unwrap();
    let mut hits = 0;
    for i in 0..STEPS * CONTENTS {
        let (key, _, output) = entry(i);
        match store.lookup(&key).unwrap() {
            Lookup::Hit(hit) => {
                assert_eq!(hit.outputs, [output], "wrong output for entry {i}");
                hits += 1;
            }
            Lookup::Miss => {}
            Lookup::Corrupt(why) => panic!("a kill left a torn entry {i}: {why}"),
        }
    }
    assert!(hits > 0, "the child wrote nothing");
    let report = store
        .prune(&PruneOptions {
            temp_grace: Duration::ZERO,
            ..PruneOptions::default()
        })
        .unwrap();
    assert_eq!(report.corrupt_removed, 0);
    assert_eq!(store.stats().unwrap().temp_files, 0);
}
