//! `morphir cache stats | prune | clean` on caches filled by hand through the cache crate (the
//! way a build fills them).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use morphir_cache::{Digest, Key, KeyBuilder, LogLine, NewAction, Store};
use morphir_envelope::Envelope;
use morphir_tests::{morphir, morphir_bin, stderr, stdout};

use crate::fixtures::{TWO_TASKS, project, write_config};

/// Stores a fake result of `step` in the cache at `dir`: one record, one blob, one last run.
fn put_step(dir: &Path, step: &str) -> Key {
    let store = Store::open(dir).unwrap();
    let (key, manifest) = KeyBuilder::new("0.1.0")
        .abi_version(1)
        .extension_wasm(Digest::of(b"wasm").as_bytes())
        .operation("transform")
        .extra("step", step.as_bytes())
        .finish()
        .unwrap();
    // Larger than what lives inside a record: each entry is a record and a blob.
    let mut content = format!("output of {step}").into_bytes();
    content.resize(morphir_cache::INLINE_MAX + 1, b'.');
    let outputs = [Envelope::new("application/octet-stream", content)];
    store
        .put(
            &key,
            &NewAction {
                step_id: step,
                manifest: &manifest,
                outputs: &outputs,
                logs: &[LogLine::new("info", format!("ran {step}"))],
                executor_version: "0.1.0",
            },
        )
        .unwrap();
    key
}

/// Makes the entry of `key` (its record and its step's last run) look unused for `ago`.
fn age(dir: &Path, key: &Key, step: &str, ago: Duration) {
    let store = Store::open(dir).unwrap();
    for path in [store.record_path(key), store.last_run_path(step)] {
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(SystemTime::now() - ago)
            .unwrap();
    }
}

fn stats_json(project: &Path) -> serde_json::Value {
    let out = morphir(project, &["cache", "stats", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `oldest use`/`newest use` lines say when; the rest is stable.
fn without_times(text: &str) -> String {
    text.lines()
        .map(|line| match line.strip_prefix("oldest use  ") {
            Some(_) => "oldest use  [time]",
            None if line.starts_with("newest use  ") => "newest use  [time]",
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn stats_of_a_cache_that_does_not_exist_is_empty_and_creates_nothing() {
    let dir = project(TWO_TASKS);
    let out = morphir(dir.path(), &["cache", "stats"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(stdout(&out), @"cache: empty (the directory does not exist yet)");

    let json = stats_json(dir.path());
    insta::assert_json_snapshot!(json, @r#"
    {
      "blob_bytes": 0,
      "blobs": 0,
      "capabilities": 0,
      "capability_bytes": 0,
      "dir": "cache",
      "entries": 0,
      "entry_bytes": 0,
      "exists": false,
      "last_run_bytes": 0,
      "last_runs": 0,
      "newest_use": null,
      "oldest_use": null,
      "temp_bytes": 0,
      "temp_files": 0,
      "total_bytes": 0
    }
    "#);
    assert!(!dir.path().join("cache").exists());

    for command in ["prune", "clean"] {
        let mut args = vec!["cache", command];
        if command == "prune" {
            args.extend(["--max-age", "1d"]);
        }
        let out = morphir(dir.path(), &args);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            stdout(&out),
            format!("nothing to {command}: the cache directory cache does not exist\n")
        );
    }
    assert!(!dir.path().join("cache").exists());
}

#[test]
fn stats_counts_entries_blobs_and_sizes() {
    let dir = project(TWO_TASKS);
    let cache = dir.path().join("cache");
    put_step(&cache, "model:frontend");
    put_step(&cache, "site:frontend");

    let out = morphir(dir.path(), &["cache", "stats"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(without_times(&stdout(&out)));

    let json = stats_json(dir.path());
    assert_eq!(json["exists"], true);
    assert_eq!(json["entries"], 2);
    assert_eq!(json["blobs"], 2);
    assert_eq!(json["last_runs"], 2);
    let oldest = json["oldest_use"].as_str().unwrap();
    assert!(
        oldest.len() == "2026-01-31T12:00:00Z".len() && oldest.ends_with('Z'),
        "{oldest}"
    );
}

#[test]
fn prune_by_age_removes_only_old_entries() {
    let dir = project(TWO_TASKS);
    let cache = dir.path().join("cache");
    let old = put_step(&cache, "model:frontend");
    put_step(&cache, "site:frontend");
    age(
        &cache,
        &old,
        "model:frontend",
        Duration::from_hours(40 * 24),
    );

    let out = morphir(dir.path(), &["cache", "prune", "--max-age", "30d"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    insta::assert_snapshot!(text);

    let json = stats_json(dir.path());
    assert_eq!((&json["entries"], &json["blobs"]), (&1.into(), &1.into()));
    assert!(!Store::open(&cache).unwrap().record_path(&old).exists());
}

#[test]
fn prune_by_size_defaults_to_the_configured_max_size() {
    let dir = project(TWO_TASKS);
    let cache = dir.path().join("cache");
    put_step(&cache, "model:frontend");

    // Neither a flag nor `[cache] max_size`: say what to pass.
    let out = morphir(dir.path(), &["cache", "prune"]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(stderr(&out), @"error: nothing to prune by: pass --max-size SIZE (e.g. 500MB) or --max-age AGE (e.g. 30d), or set max_size in the [cache] table of morphir.toml");

    // An explicit size well over the cache keeps everything.
    let out = morphir(dir.path(), &["cache", "prune", "--max-size", "1GiB"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stats_json(dir.path())["entries"], 1);

    // `[cache] max_size` applies when no flag is given.
    write_config(
        dir.path(),
        &TWO_TASKS.replace(
            "name = \"demo\"\n",
            "name = \"demo\"\n\n[cache]\nmax_size = \"1B\"\n",
        ),
    );
    let out = morphir(dir.path(), &["cache", "prune"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The last-run record stays: those are pruned by age only (they are small, and explain
    // the next miss).
    insta::assert_snapshot!("prune_by_configured_max_size", stdout(&out));
    assert_eq!(stats_json(dir.path())["entries"], 0);
}

#[test]
fn bad_sizes_and_ages_are_refused_by_the_argument_parser() {
    let dir = project(TWO_TASKS);
    let out = morphir(dir.path(), &["cache", "prune", "--max-age", "30x"]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(stderr(&out), @r"
    error: invalid value '30x' for '--max-age <AGE>': unknown unit `x`; write a whole number followed by s, m, h, d or w, e.g. 30d or 12h

    For more information, try '--help'.
    ");
    let out = morphir(dir.path(), &["cache", "prune", "--max-size", "1.5GB"]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(stderr(&out), @r"
    error: invalid value '1.5GB' for '--max-size <SIZE>': fractions are not supported; write a whole number followed by B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024), e.g. 500MB

    For more information, try '--help'.
    ");
}

#[test]
fn clean_removes_everything_and_says_how_much() {
    let dir = project(TWO_TASKS);
    let cache = dir.path().join("cache");
    put_step(&cache, "model:frontend");
    put_step(&cache, "site:frontend");
    std::fs::write(cache.join("README.md"), "kept").unwrap();

    let out = morphir(dir.path(), &["cache", "clean"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(stdout(&out));
    let json = stats_json(dir.path());
    assert_eq!(
        (&json["entries"], &json["total_bytes"]),
        (&0.into(), &0.into())
    );
    assert!(
        cache.join("README.md").is_file(),
        "clean leaves other files"
    );
}

#[test]
fn morphir_cache_dir_overrides_the_configured_directory() {
    let dir = project(TWO_TASKS);
    put_step(&dir.path().join("elsewhere"), "model:frontend");
    let out = Command::new(morphir_bin())
        .current_dir(dir.path())
        .args(["cache", "stats", "--json"])
        .env("MORPHIR_CACHE_DIR", "elsewhere")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&json["dir"], &json["entries"]),
        (&"elsewhere".into(), &1.into())
    );
}

#[test]
fn a_cache_that_cannot_be_used_is_a_run_time_failure() {
    let dir = project(TWO_TASKS);
    let bucket = dir.path().join("cache/v1");
    std::fs::create_dir_all(&bucket).unwrap();
    std::fs::write(bucket.join("blobs"), "not a directory").unwrap();
    let out = morphir(dir.path(), &["cache", "stats"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert!(
        err.starts_with("error: cache: cannot create directory cache/v1/blobs"),
        "{err}"
    );
}

#[test]
fn remembered_extension_capabilities_are_counted_pruned_by_age_and_cleaned() {
    let dir = project(
        r#"
[project]
name = "caps"

[[extensions]]
name = "echo"
source = { type = "wasm", path = "{dist}/echo.wasm" }

[tasks.t]
frontend = { extension = "echo", inputs = ["in/*.txt"] }
"#,
    );
    std::fs::create_dir(dir.path().join("in")).unwrap();
    std::fs::write(dir.path().join("in/a.txt"), "a").unwrap();
    let out = morphir(dir.path(), &["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let caps_dir = dir
        .path()
        .join("cache")
        .join(morphir_cache::CAPABILITIES_DIR);
    let entries: Vec<_> = std::fs::read_dir(&caps_dir).unwrap().flatten().collect();
    assert_eq!(entries.len(), 1);
    let json = stats_json(dir.path());
    assert_eq!(json["capabilities"], 1);
    let size = entries[0].metadata().unwrap().len();
    assert_eq!(json["capability_bytes"], size);
    let text = stdout(&morphir(dir.path(), &["cache", "stats"]));
    assert!(
        text.contains(&format!("extensions  1 ({size} B)")),
        "{text}"
    );

    // Used recently: kept. Unused for 40 days: removed (the next build compiles the module
    // once to learn its capabilities again).
    let out = morphir(dir.path(), &["cache", "prune", "--max-age", "30d"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stats_json(dir.path())["capabilities"], 1);
    std::fs::File::options()
        .write(true)
        .open(entries[0].path())
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_hours(40 * 24))
        .unwrap();
    let out = morphir(dir.path(), &["cache", "prune", "--max-age", "30d"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("1 extension capability record"),
        "{}",
        stdout(&out)
    );
    assert_eq!(stats_json(dir.path())["capabilities"], 0);

    let out = morphir(dir.path(), &["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stats_json(dir.path())["capabilities"], 1);
    let out = morphir(dir.path(), &["cache", "clean"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("1 extension capability record"),
        "{}",
        stdout(&out)
    );
    assert!(!caps_dir.exists());
    assert_eq!(stats_json(dir.path())["total_bytes"], 0);
}
