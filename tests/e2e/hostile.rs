//! Hostile extensions through the real binary and a real `morphir.toml`: each misbehaviour is
//! contained in its step, reported with the extension's name, the build process itself ends
//! normally (exit code 1, not a signal), the same extension keeps serving other steps (on a
//! fresh instance after a trap), and nothing of a failed step is cached. Broken module files
//! stop the build before anything runs. The runtime-level versions (WAT modules) are in
//! `crates/morphir-runtime/tests/it/hostile.rs`.

use std::fmt::Write as _;

use morphir_tests::{Project, stderr, steps_with};

/// Number of action records in the project's cache.
fn records(p: &Project) -> usize {
    let actions = p.path().join("cache/v1/actions");
    std::fs::read_dir(actions).map_or(0, |shards| {
        shards
            .flatten()
            .map(|s| {
                std::fs::read_dir(s.path()).map_or(0, |files| {
                    files
                        .flatten()
                        .filter(|f| !f.file_name().to_string_lossy().starts_with('.'))
                        .count()
                })
            })
            .sum()
    })
}

const MISBEHAVING: &str = r#"
[project]
name = "hostile"

[[extensions]]
name = "echo"
source = { type = "wasm", path = "{echo}" }
permissions = { max_memory = "64MB", max_execution_time = "1s" }

[tasks.spin]
frontend = { extension = "echo", inputs = ["in.txt"], config = { mode = "spin" } }

[tasks.grow]
frontend = { extension = "echo", inputs = ["in.txt"], config = { mode = "grow" } }

[tasks.recurse]
frontend = { extension = "echo", inputs = ["in.txt"], config = { mode = "recurse" } }

[tasks.panic]
frontend = { extension = "echo", inputs = ["in.txt"], config = { mode = "panic" } }

[tasks.escape]
frontend = { extension = "echo", inputs = ["in.txt"], config = { mode = "read", arg = "../secret.txt" } }

[tasks.undeclared]
frontend = { extension = "echo", inputs = ["in.txt"], config = { mode = "read", arg = "secret.txt" } }

[tasks.network]
frontend = { extension = "echo", inputs = ["in.txt"], config = { mode = "http", arg = "http://127.0.0.1:9/" } }

[tasks.good]
frontend = { extension = "echo", inputs = ["in.txt"] }
backends = [{ extension = "echo", output = "out", config = { mode = "files" } }]
"#;

#[test]
fn misbehaving_steps_are_contained_named_and_never_cached() {
    let p = Project::new(MISBEHAVING);
    p.write("in.txt", "payload");
    p.write("secret.txt", "not declared as an input");
    for round in 0..2 {
        let (out, summary) = p.build_json(&["--keep-going", "--jobs", "2"]);
        // The process survived every fault and reports them: exit code 1, not a signal.
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        // A host panic would print "thread '…' panicked"; a guest panic is a step error.
        assert!(!err.contains("thread '"), "{err}");
        let mut failed = steps_with(&summary, "failed");
        failed.sort();
        assert_eq!(
            failed,
            [
                "escape:frontend",
                "grow:frontend",
                "network:frontend",
                "panic:frontend",
                "recurse:frontend",
                "spin:frontend",
                "undeclared:frontend",
            ],
            "round {round}: {err}"
        );
        let expect = |step: &str, what: &[&str]| {
            let prefix =
                format!("step `{step}` failed: extension `echo`, operation `frontend-compile`: ");
            let line = err
                .lines()
                .find(|l| l.contains(&prefix))
                .unwrap_or_else(|| panic!("no error for {step}: {err}"));
            for w in what {
                assert!(line.contains(w), "{step}: {line:?} lacks {w:?}");
            }
        };
        expect("spin:frontend", &["max_execution_time", "1s"]);
        expect("grow:frontend", &["memory"]);
        expect("recurse:frontend", &["stack"]);
        expect("panic:frontend", &["Wasm trap", "panicked"]);
        assert!(err.contains("echo was asked to panic"), "{err}");
        expect("escape:frontend", &["permission-denied"]);
        expect("undeclared:frontend", &["permission-denied"]);
        expect("network:frontend", &["permission-denied"]);
        // The same extension, on other instances or fresh ones after the traps, served the
        // good task: the one whose steps were cached in round 0 are hits in round 1.
        let good = if round == 0 { "executed" } else { "cached" };
        assert_eq!(
            steps_with(&summary, good),
            ["good:frontend", "good:backend:echo"],
            "round {round}"
        );
        assert_eq!(p.read("out/in.txt"), "payload");
        // Only the good task's two steps are in the cache: no failed step left a record.
        assert_eq!(records(&p), 2, "round {round}");
    }
}

const ONE_MODULE: &str = r#"
[project]
name = "bad-module"

[[extensions]]
name = "weird"
source = { type = "wasm", path = "weird.wasm" }

[tasks.t]
frontend = { extension = "weird", inputs = ["in.txt"] }
backends = [{ extension = "weird", output = "out" }]
"#;

#[test]
fn a_module_that_is_not_valid_wasm_stops_the_build_before_anything_runs() {
    let echo = std::fs::read(morphir_tests::guest("echo")).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "a JSON manifest named .wasm",
            br#"{"wasm":[{"path":"/etc/passwd"}],"allowed_hosts":["*"]}"#.to_vec(),
            "not a WebAssembly module",
        ),
        (
            "a TOML document named .wasm",
            b"[project]\nname = \"x\"\n".to_vec(),
            "not a WebAssembly module",
        ),
        ("garbage", vec![0xA5; 4096], "not a WebAssembly module"),
        ("empty", Vec::new(), "not a WebAssembly module"),
        (
            "a truncated module",
            echo[..echo.len() / 2].to_vec(),
            "invalid",
        ),
    ];
    for (what, bytes, expected) in cases {
        let p = Project::new(ONE_MODULE);
        p.write("in.txt", "x");
        std::fs::write(p.path().join("weird.wasm"), &bytes).unwrap();
        let out = p.morphir(&["build"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(
            err.contains("morphir.toml:7:34: extension `weird`"),
            "{what}: {err}"
        );
        assert!(err.contains(expected), "{what}: {err}");
        assert!(!p.path().join("out").exists(), "{what}: something ran");
        assert_eq!(records(&p), 0, "{what}");
    }
}

#[test]
fn an_oversized_module_is_refused_without_compiling_it() {
    let p = Project::new(ONE_MODULE);
    p.write("in.txt", "x");
    // Sparse: 65 MiB on paper, nothing on disk; over the 64 MiB module limit.
    let f = std::fs::File::create(p.path().join("weird.wasm")).unwrap();
    f.set_len(65 << 20).unwrap();
    drop(f);
    let out = p.morphir(&["build"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("extension `weird`"), "{err}");
    assert!(err.contains("68157440"), "the size is named: {err}");
    assert!(!p.path().join("out").exists());
}

#[test]
fn cycles_of_one_two_and_a_thousand_tasks_stop_the_build_before_anything_runs() {
    let ring = |n: usize| {
        let mut c = String::from(
            "[project]\nname = \"ring\"\n\n[[extensions]]\nname = \"echo\"\nsource = { type = \"wasm\", path = \"{echo}\" }\n",
        );
        for i in 0..n {
            let _ = write!(
                c,
                "\n[tasks.t{i}]\nfrontend = {{ extension = \"echo\", inputs = [\"in.txt\"] }}\n\
                 backends = [{{ extension = \"echo\", output = \"out/t{i}\", config = {{ mode = \"files\" }} }}]\n\
                 depends_on = [\"t{}\"]\n",
                (i + 1) % n
            );
        }
        c
    };
    for n in [1, 2, 1000] {
        let p = Project::new(&ring(n));
        p.write("in.txt", "x");
        let out = p.morphir(&["build"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{n}: {err}");
        assert!(
            err.contains("error: dependency cycle: t0 -> "),
            "{n}: {err}"
        );
        // Every edge of the cycle is named with its file:line:col.
        assert_eq!(
            err.matches("morphir.toml:").count(),
            n,
            "{n}: {}",
            &err[..err.len().min(2000)]
        );
        assert!(!p.path().join("out").exists(), "{n}: something ran");
        assert_eq!(records(&p), 0);
    }
}

#[cfg(unix)]
#[test]
fn a_symlink_planted_in_the_output_directory_is_never_written_through() {
    let p = Project::new(
        r#"
[project]
name = "links"

[[extensions]]
name = "echo"
source = { type = "wasm", path = "{echo}" }

[tasks.t]
frontend = { extension = "echo", inputs = ["in/*.txt"] }
backends = [{ extension = "echo", output = "out", config = { mode = "files" } }]
"#,
    );
    p.write("in/a.txt", "payload");
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(p.path().join("out")).unwrap();
    std::os::unix::fs::symlink(outside.path(), p.path().join("out/in")).unwrap();
    let out = p.morphir(&["build"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("step `t:backend:echo` failed") && err.contains("symbolic link"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    // The failed backend cached nothing; only the frontend's entry is there.
    assert_eq!(records(&p), 1);
}

/// `permissions.max_output`: an output far over the cap fails its step, named with the
/// extension, the size and the cap; nothing is cached, the process lives, other steps finish.
#[test]
fn an_output_over_the_configured_cap_fails_its_step_and_caches_nothing() {
    let p = Project::new(
        r#"
[project]
name = "caps"

[[extensions]]
name = "echo"
source = { type = "wasm", path = "{echo}" }
permissions = { max_output = "4KiB" }

[tasks.big]
frontend = { extension = "echo", inputs = ["big.txt"] }

[tasks.small]
frontend = { extension = "echo", inputs = ["small.txt"] }
"#,
    );
    p.write("big.txt", &"x".repeat(1 << 20));
    p.write("small.txt", "fits");
    for _ in 0..2 {
        let (out, summary) = p.build_json(&["--keep-going"]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert_eq!(steps_with(&summary, "failed"), ["big:frontend"]);
        let err = stderr(&out);
        assert!(err.contains("echo"), "{err}");
        assert!(err.contains("4096"), "the cap is named: {err}");
        assert_eq!(records(&p), 1, "only the small step is cached");
    }
    assert_eq!(
        steps_with(&p.build_json(&["--keep-going"]).1, "cached"),
        ["small:frontend"]
    );
}
