//! `morphir build` end to end: real binary, real guests, real files.

use morphir_tests::{Project, stderr, steps_with};

/// Two tasks: `guides` (frontend → title-case → html) and `site`, which depends on `guides`.
const DOCS: &str = r#"
[project]
name = "docs"

[[extensions]]
name = "docs"
source = { type = "wasm", path = "{docs}" }

[[extensions]]
name = "title-case"
source = { type = "wasm", path = "{title}" }
config = { field = "title" }

[[extensions]]
name = "html"
source = { type = "wasm", path = "{html}" }

[tasks.guides]
frontend = { extension = "docs", inputs = ["guides/*.md"] }
transforms = [{ extension = "title-case" }]
backends = [{ extension = "html", output = "out/guides" }]

[tasks.site]
frontend = { extension = "docs", inputs = ["pages/*.md"] }
transforms = [{ extension = "title-case" }]
backends = [{ extension = "html", output = "out/site", config = { title = "Site" } }]
depends_on = ["guides"]
env = ["MORPHIR_TEST_SITE_FLAVOUR"]
"#;

fn docs_project() -> Project {
    let p = Project::new(DOCS);
    p.write(
        "guides/install.md",
        "# install it\nRun the bootstrap script.\n",
    );
    p.write("guides/use.md", "# use it\nRun morphir build.\n");
    p.write("pages/index.md", "# home page\nWelcome.\n");
    p
}

const ALL: [&str; 6] = [
    "guides:frontend",
    "guides:transform[0]:title-case",
    "guides:backend:html",
    "site:frontend",
    "site:transform[0]:title-case",
    "site:backend:html",
];

#[test]
fn first_build_runs_everything_second_runs_nothing_and_restores_identical_outputs() {
    let p = docs_project();
    let (out, summary) = p.build_json(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(steps_with(&summary, "executed"), ALL);
    let first = p.tree("out");
    assert!(
        first.iter().any(|(name, _)| name == "site/index.html"),
        "{first:?}"
    );
    let index = p.read("out/site/index.html");
    assert!(index.contains("<title>Site</title>"), "{index}");
    assert!(
        index.contains("Install It"),
        "the dependency's documents are merged: {index}"
    );

    let (out, summary) = p.build_json(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(steps_with(&summary, "executed"), Vec::<String>::new());
    assert_eq!(steps_with(&summary, "cached"), ALL);
    assert_eq!(p.tree("out"), first);

    // Deleted outputs come back from the cache, byte for byte, without running anything.
    std::fs::remove_dir_all(p.path().join("out")).unwrap();
    let (_, summary) = p.build_json(&[]);
    assert_eq!(steps_with(&summary, "executed"), Vec::<String>::new());
    assert_eq!(p.tree("out"), first);
}

#[test]
fn touching_an_input_reruns_nothing_editing_one_reruns_exactly_its_downstream() {
    let p = docs_project();
    assert!(p.build_json(&[]).0.status.success());
    // Same content, new timestamp.
    let file = p.path().join("pages/index.md");
    let text = std::fs::read(&file).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&file, &text).unwrap();
    let (_, summary) = p.build_json(&[]);
    assert_eq!(steps_with(&summary, "executed"), Vec::<String>::new());

    p.write("pages/index.md", "# home page\nWelcome back.\n");
    let (_, summary) = p.build_json(&[]);
    assert_eq!(
        steps_with(&summary, "executed"),
        [
            "site:frontend",
            "site:transform[0]:title-case",
            "site:backend:html"
        ]
    );
    assert!(
        p.read("out/site/pages-index.html")
            .contains("Welcome back.")
    );
}

#[test]
fn an_upstream_step_with_unchanged_output_leaves_its_dependents_cached() {
    let p = docs_project();
    assert!(p.build_json(&[]).0.status.success());
    // Editing only the body of a guide changes the guides frontend's output, so all guides
    // steps re-run; the title-case transform of `site` consumes that output too (through the
    // site frontend), so it re-runs. But changing title-case's config to a field no document
    // has leaves every transform output exactly as before: the transforms re-run (their config
    // changed) and the backends stay cached.
    p.set_config(&DOCS.replace(
        r#"config = { field = "title" }"#,
        r#"config = { field = "title", unused = true }"#,
    ));
    let (out, summary) = p.build_json(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        steps_with(&summary, "executed"),
        [
            "guides:transform[0]:title-case",
            "site:transform[0]:title-case"
        ]
    );
    assert_eq!(
        steps_with(&summary, "cached"),
        [
            "guides:frontend",
            "guides:backend:html",
            "site:frontend",
            "site:backend:html"
        ]
    );
}

#[test]
fn a_declared_env_var_or_an_extension_config_reruns_the_step_and_its_dependents() {
    let p = docs_project();
    assert!(p.build_json(&[]).0.status.success());
    let out = std::process::Command::new(morphir_tests::morphir_bin())
        .current_dir(p.path())
        .args(["build", "--json"])
        .env("MORPHIR_TEST_SITE_FLAVOUR", "dark")
        .env("XDG_CACHE_HOME", p.path().join(".xdg"))
        .output()
        .unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // `env` is declared by task `site`: its steps re-run, `guides` stays cached.
    assert_eq!(
        steps_with(&summary, "executed"),
        [
            "site:frontend",
            "site:transform[0]:title-case",
            "site:backend:html"
        ]
    );

    p.set_config(&DOCS.replace(
        r#"config = { title = "Site" }"#,
        r#"config = { title = "Site 2" }"#,
    ));
    let (_, summary) = p.build_json(&[]);
    assert_eq!(steps_with(&summary, "executed"), ["site:backend:html"]);
    assert!(
        p.read("out/site/index.html")
            .contains("<title>Site 2</title>")
    );
}

#[test]
fn explain_names_what_changed() {
    let p = docs_project();
    assert!(p.build_json(&[]).0.status.success());
    p.write("guides/use.md", "# use it\nRun morphir build twice.\n");
    let (out, summary) = p.build_json(&["--explain"]);
    assert!(out.status.success());
    let changes = |id: &str| {
        summary["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .map(|s| s["changes"].clone())
            .unwrap()
    };
    assert_eq!(
        changes("guides:frontend"),
        serde_json::json!(["input file guides/use.md changed"])
    );
    assert_eq!(
        changes("site:frontend"),
        serde_json::json!(["upstream step guides:transform[0]:title-case changed"])
    );
    let text = stderr(&out);
    assert!(
        text.contains("miss: input file guides/use.md changed"),
        "{text}"
    );
}

#[test]
fn a_corrupted_cache_entry_is_detected_rerun_and_repaired() {
    let p = docs_project();
    assert!(p.build_json(&[]).0.status.success());
    let corrupted = morphir_tests::corrupt_cache_entries(p.path());
    assert!(corrupted >= 6, "{corrupted}");
    let before = p.tree("out");
    let (out, summary) = p.build_json(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Every step's entry was bad: every step re-ran (none served a wrong result)...
    assert_eq!(steps_with(&summary, "executed"), ALL);
    assert!(
        summary["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["repaired"] == true)
    );
    assert_eq!(p.tree("out"), before);
    // ...and the entries were repaired.
    let (_, summary) = p.build_json(&[]);
    assert_eq!(steps_with(&summary, "cached"), ALL);
}

const FAILING: &str = r#"
[project]
name = "failing"

[[extensions]]
name = "echo"
source = { type = "wasm", path = "{echo}" }

[tasks.bad]
frontend = { extension = "echo", inputs = ["in/*.txt"], config = { mode = "fail" } }
backends = [{ extension = "echo", output = "out/bad", config = { mode = "files" } }]

[tasks.good]
frontend = { extension = "echo", inputs = ["in/*.txt"] }
backends = [{ extension = "echo", output = "out/good", config = { mode = "files" } }]
"#;

#[test]
fn a_failing_step_stops_the_build_and_keep_going_finishes_the_independent_branch() {
    let p = Project::new(FAILING);
    p.write("in/a.txt", "a");
    let (out, summary) = p.build_json(&["--jobs", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(steps_with(&summary, "failed"), ["bad:frontend"]);
    let err = stderr(&out);
    assert!(
        err.contains("error: step `bad:frontend` failed: extension `echo`, operation `frontend-compile`: echo was asked to fail [requested]"),
        "{err}"
    );
    assert!(!p.path().join("out/bad").exists());

    let (out, summary) = p.build_json(&["--keep-going"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(steps_with(&summary, "failed"), ["bad:frontend"]);
    assert_eq!(steps_with(&summary, "skipped"), ["bad:backend:echo"]);
    assert_eq!(
        steps_with(&summary, "executed"),
        ["good:frontend", "good:backend:echo"]
    );
    assert_eq!(p.read("out/good/in/a.txt"), "a");
    // A failed step cached nothing: it fails again, it is not served.
    let (_, summary) = p.build_json(&["--keep-going"]);
    assert_eq!(steps_with(&summary, "failed"), ["bad:frontend"]);
}

#[test]
fn selecting_a_task_builds_it_and_what_it_depends_on_only() {
    let p = docs_project();
    let (out, summary) = p.build_json(&["guides"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        steps_with(&summary, "executed"),
        [
            "guides:frontend",
            "guides:transform[0]:title-case",
            "guides:backend:html"
        ]
    );
    assert!(!p.path().join("out/site").exists());
}

#[test]
fn the_config_is_found_by_walking_up() {
    let p = docs_project();
    std::fs::create_dir_all(p.path().join("pages/deep/er")).unwrap();
    let out = morphir_tests::morphir(&p.path().join("pages/deep/er"), &["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(p.path().join("out/site/index.html").exists());
}

#[test]
fn an_extension_used_in_a_role_it_does_not_declare_stops_the_build_before_anything_runs() {
    let p = Project::new(&DOCS.replace(
        r#"frontend = { extension = "docs", inputs = ["pages/*.md"] }"#,
        r#"frontend = { extension = "html", inputs = ["pages/*.md"] }"#,
    ));
    p.write("pages/index.md", "# x\n");
    let out = p.morphir(&["build"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("morphir.toml:"), "{err}");
    assert!(
        err.contains("extension `html` is used as a frontend here, but it does not implement `frontend-compile` (it declares: backend-generate)"),
        "{err}"
    );
    assert!(!p.path().join("out").exists(), "nothing ran");
}

#[test]
fn a_pinned_hash_that_does_not_match_stops_the_build() {
    let pinned = DOCS.replace(
        r#"source = { type = "wasm", path = "{title}" }"#,
        &format!(
            r#"source = {{ type = "wasm", path = "{{title}}", hash = "blake3:{}" }}"#,
            "0".repeat(64)
        ),
    );
    let p = Project::new(&pinned);
    p.write("pages/index.md", "# x\n");
    let out = p.morphir(&["build"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("extension `title-case`"), "{err}");
    assert!(err.contains("update the pinned hash"), "{err}");
    assert!(!p.path().join("out").exists(), "nothing ran");
}

#[cfg(unix)]
#[test]
fn ctrl_c_leaves_no_record_and_no_partial_output() {
    let p = Project::new(
        r#"
[project]
name = "slow"

[[extensions]]
name = "echo"
source = { type = "wasm", path = "{echo}" }
permissions = { max_execution_time = "60s" }

[tasks.slow]
frontend = { extension = "echo", inputs = ["in/*.txt"], config = { mode = "spin" } }
backends = [{ extension = "echo", output = "out/slow", config = { mode = "files" } }]
"#,
    );
    p.write("in/a.txt", "a");
    let child = std::process::Command::new(morphir_tests::morphir_bin())
        .current_dir(p.path())
        .args(["build", "--json"])
        .env("XDG_CACHE_HOME", p.path().join(".xdg"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the build listens for Ctrl-C: it does from the start of the build, before
    // it opens the cache, whose lock file therefore says so (a fixed sleep raced a slow start
    // on a busy machine). The step is then about to run or running; either way it is cancelled.
    let lock = p.path().join("cache/v1/lock");
    let started = std::time::Instant::now();
    while !lock.exists() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "the build never opened its cache"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["cancelled"], true);
    assert_eq!(
        steps_with(&summary, "cancelled"),
        ["slow:frontend", "slow:backend:echo"]
    );
    let records = p.path().join("cache/v1/actions");
    let count = std::fs::read_dir(&records).map_or(0, Iterator::count);
    assert_eq!(count, 0, "a cancelled step left a cache record");
    assert!(
        !p.path().join("out").exists(),
        "a cancelled build left outputs"
    );
}

#[test]
fn a_monorepo_member_consumes_another_members_output() {
    let p = Project::new(
        r#"
[project]
name = "mono"
members = ["packages/*"]

[[extensions]]
name = "docs"
source = { type = "wasm", path = "{docs}" }

[[extensions]]
name = "html"
source = { type = "wasm", path = "{html}" }
"#,
    );
    p.write(
        "packages/core/morphir.toml",
        r#"
[project]
name = "core"

[tasks.docs]
frontend = { extension = "docs", inputs = ["*.md"] }
"#,
    );
    p.write("packages/core/model.md", "# the model\nTypes.\n");
    p.write(
        "packages/app/morphir.toml",
        r#"
[project]
name = "app"

[tasks.site]
frontend = { extension = "docs", inputs = ["*.md"] }
backends = [{ extension = "html", output = "out" }]
depends_on = ["core/docs"]
"#,
    );
    p.write("packages/app/readme.md", "# the app\nUses the model.\n");
    // From inside a member, the workspace root's morphir.toml is used.
    let out = morphir_tests::morphir(&p.path().join("packages/app"), &["build", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut executed = steps_with(&summary, "executed");
    executed.sort();
    assert_eq!(
        executed,
        [
            "app/site:backend:html",
            "app/site:frontend",
            "core/docs:frontend"
        ]
    );
    let index = p.read("packages/app/out/index.html");
    // The member's frontend received the other member's documents.
    assert!(
        index.contains("<a href=\"core-docs-model.html\">the model</a>"),
        "{index}"
    );
}

#[test]
fn a_cache_hit_replays_the_steps_logs() {
    let p = docs_project();
    let first = p.morphir(&["build", "-v"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let live = stderr(&first);
    assert!(
        live.contains("[guides:frontend] info: read 2 documents"),
        "{live}"
    );
    let second = p.morphir(&["build", "-v"]);
    let replayed = stderr(&second);
    assert!(
        replayed.contains("[guides:frontend] info (cached): read 2 documents"),
        "{replayed}"
    );
    // Without -v, info lines stay quiet; the summary line is always there.
    let quiet = p.morphir(&["build"]);
    let text = stderr(&quiet);
    assert!(!text.contains("read 2 documents"), "{text}");
    assert!(text.contains("build finished in"), "{text}");
    assert!(
        text.contains("6 steps, 0 executed, 6 cached, 0 failed, 0 skipped"),
        "{text}"
    );
}

#[test]
fn input_globs_never_read_the_builds_own_outputs_or_cache() {
    let p = Project::new(
        r#"
[project]
name = "greedy"

[[extensions]]
name = "echo"
source = { type = "wasm", path = "{echo}" }

[tasks.all]
frontend = { extension = "echo", inputs = ["**/*"] }
backends = [{ extension = "echo", output = "out", config = { mode = "files" } }]
"#,
    );
    p.write("in/a.txt", "a");
    for _ in 0..2 {
        let (out, _) = p.build_json(&[]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let (_, summary) = p.build_json(&[]);
    assert_eq!(
        steps_with(&summary, "executed"),
        Vec::<String>::new(),
        "the build settles"
    );
    let files: Vec<String> = p.tree("out").into_iter().map(|(name, _)| name).collect();
    assert_eq!(files, [".morphir-outputs.json", "in/a.txt", "morphir.toml"]);
}

/// `count` tasks `t00`, `t01`, ...: an echo frontend over `in/*.txt` with `frontend_config`, and
/// an echo backend that copies the input files to `out/tNN`.
fn echo_tasks(count: usize, frontend_config: &str) -> String {
    let mut config = String::from(
        r#"
[project]
name = "many"

[[extensions]]
name = "echo"
source = { type = "wasm", path = "{echo}" }
"#,
    );
    for i in 0..count {
        std::fmt::Write::write_fmt(
            &mut config,
            format_args!(
                r#"
[tasks.t{i:02}]
frontend = {{ extension = "echo", inputs = ["in/*.txt"], config = {frontend_config} }}
backends = [{{ extension = "echo", output = "out/t{i:02}", config = {{ mode = "files" }} }}]
"#
            ),
        )
        .expect("writing to a String");
    }
    config
}

/// Every path under `dir` (files and directories, hidden ones included), relative and sorted.
fn all_paths(dir: &std::path::Path) -> Vec<String> {
    fn walk(base: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            out.push(path.strip_prefix(base).unwrap().display().to_string());
            if path.is_dir() {
                walk(base, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[cfg(unix)]
#[test]
fn ctrl_c_during_a_run_of_cache_hits_stops_cleanly() {
    use std::io::{BufRead as _, Read as _};

    // Each frontend logs 100 rounds of five lines; a hit replays the warn and error ones
    // (about 9 KB of stderr per task), so the 48 hits print far more than a pipe holds.
    let p = Project::new(&echo_tasks(48, r#"{ mode = "log", arg = "100" }"#));
    p.write("in/a.txt", "a");
    p.write("in/b.txt", "b");
    let (out, _) = p.build_json(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Every step is a hit now; with the outputs gone, every backend hit restores files.
    std::fs::remove_dir_all(p.path().join("out")).unwrap();

    let mut child = std::process::Command::new(morphir_tests::morphir_bin())
        .current_dir(p.path())
        .args(["build", "--json"])
        .env("XDG_CACHE_HOME", p.path().join(".xdg"))
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let summary = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).unwrap();
        text
    });
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    // The build is serving hits once it replays a cached line. From here this test reads
    // nothing until the signal is sent: the build soon blocks writing to the full pipe, in the
    // middle of its hits, and cannot finish them before it is interrupted.
    let mut seen = String::new();
    while !seen.contains("(cached)") {
        seen.clear();
        assert_ne!(err.read_line(&mut seen).unwrap(), 0, "stderr ended early");
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // Time for the signal to be handled while the build is blocked (it is not a wait for the
    // build: that cannot move on until stderr is read below).
    std::thread::sleep(std::time::Duration::from_millis(500));
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    let summary: serde_json::Value = serde_json::from_str(&summary.join().unwrap()).unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(rest.contains("build interrupted in"), "{rest}");
    assert_eq!(summary["cancelled"], true);
    let cached = steps_with(&summary, "cached");
    let cancelled = steps_with(&summary, "cancelled");
    assert!(!cached.is_empty() && !cancelled.is_empty(), "{summary}");
    assert_eq!(cached.len() + cancelled.len(), 96, "{summary}");

    // Each backend's outputs are complete or absent; no temporary file anywhere.
    let expected = [".morphir-outputs.json", "in", "in/a.txt", "in/b.txt"];
    let mut restored = 0;
    for i in 0..48 {
        let dir = p.path().join(format!("out/t{i:02}"));
        if dir.exists() {
            assert_eq!(all_paths(&dir), expected, "out/t{i:02}");
            assert_eq!(p.read(&format!("out/t{i:02}/in/b.txt")), "b");
            restored += 1;
        }
    }
    let backends_cached = cached.iter().filter(|s| s.contains(":backend:")).count();
    assert_eq!(restored, backends_cached);
    assert!(
        all_paths(&p.path().join("out"))
            .iter()
            .all(|f| !f.contains("morphir-tmp")),
        "a temporary file was left"
    );
}

#[test]
fn a_backend_whose_outputs_fail_part_way_writes_nothing_and_caches_nothing() {
    let p = Project::new(
        r#"
[project]
name = "partial"

[[extensions]]
name = "echo"
source = { type = "wasm", path = "{echo}" }

[tasks.copy]
frontend = { extension = "echo", inputs = ["in/**/*.txt"] }
backends = [{ extension = "echo", output = "out", config = { mode = "files" } }]
"#,
    );
    p.write("in/a.txt", "a");
    p.write("in/z/b.txt", "b");
    // The user's file where the second output needs a directory: the first output is fine,
    // the second cannot be written.
    p.write("out/in/z", "mine");
    let (out, summary) = p.build_json(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(steps_with(&summary, "failed"), ["copy:backend:echo"]);
    let err = stderr(&out);
    assert!(
        err.contains("is a file where the output needs a directory"),
        "{err}"
    );
    assert_eq!(
        all_paths(&p.path().join("out")),
        ["in", "in/z"],
        "the first file is not written either, and no temporary file is left"
    );
    assert_eq!(p.read("out/in/z"), "mine");

    // Nothing was cached for the failed step: it runs again once it can succeed.
    std::fs::remove_file(p.path().join("out/in/z")).unwrap();
    let (out, summary) = p.build_json(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(steps_with(&summary, "executed"), ["copy:backend:echo"]);
    assert_eq!(p.read("out/in/z/b.txt"), "b");
}

#[test]
fn guest_logs_are_capped_per_call_and_the_note_is_replayed_from_the_cache() {
    // 300 rounds of five lines: 1,500 lines, of which 1,000 are kept.
    let p = Project::new(&echo_tasks(1, r#"{ mode = "log", arg = "300" }"#));
    p.write("in/a.txt", "a");
    let note = "[t00:frontend] warn: extension `echo` logged more than one call may keep \
                (1000 lines or 1048576 bytes): 500 more lines (4800 bytes) dropped";
    let first = p.morphir(&["build"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let text = stderr(&first);
    assert!(text.contains(note), "{text}");
    // Warn and error lines are shown by default: 2 of every 5 kept lines.
    assert_eq!(
        text.matches("[t00:frontend] error: error line").count(),
        200
    );

    let second = p.morphir(&["build"]);
    let text = stderr(&second);
    assert!(
        text.contains(&note.replace("warn:", "warn (cached):")),
        "{text}"
    );
    assert_eq!(text.matches("(cached)").count(), 401, "{text}");
}

#[test]
fn a_module_that_cannot_load_is_a_configuration_error_before_anything_runs_even_when_its_capabilities_are_remembered()
 {
    let config = echo_tasks(1, r#"{ mode = "echo" }"#);
    let p = Project::new(&config);
    p.write("in/a.txt", "a");
    assert!(p.build_json(&[]).0.status.success());

    // A fully cached build compiles no module: a fresh compile cache stays empty.
    let xdg = p.path().join(".xdg-fresh");
    let out = std::process::Command::new(morphir_tests::morphir_bin())
        .current_dir(p.path())
        .args(["build", "--json"])
        .env("XDG_CACHE_HOME", &xdg)
        .output()
        .unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(steps_with(&summary, "cached").len(), 2, "{}", stderr(&out));
    let code = xdg.join("morphir/wasmtime/code");
    let compiled: Vec<String> = all_paths(&code)
        .into_iter()
        .filter(|f| code.join(f).is_file())
        .collect();
    assert_eq!(
        compiled,
        Vec::<String>::new(),
        "a fully cached build compiled a module"
    );

    // Its capabilities are remembered, but under this max_memory the module cannot load: the
    // build stops before any step, as for any configuration error.
    p.set_config(&config.replace(
        r#"path = "{echo}" }"#,
        r#"path = "{echo}" }
permissions = { max_memory = "64KB" }"#,
    ));
    let (out, summary) = p.build_json(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(summary, serde_json::Value::Null, "nothing ran");
    let err = crate::fixtures::redact(&stderr(&out), p.path());
    insta::assert_snapshot!(err, @"error: morphir.toml:7:34: extension `echo` ([dist]/echo.wasm) cannot be loaded: its initial memory (1114112 bytes) is over max_memory (64000 bytes)");
}

#[cfg(unix)]
#[test]
fn an_input_whose_name_a_file_bundle_cannot_carry_is_named_with_its_task_and_the_reason() {
    use std::os::unix::ffi::OsStrExt as _;

    let p = Project::new(
        r#"
[project]
name = "names"

[[extensions]]
name = "echo"
source = { type = "wasm", path = "{echo}" }

[tasks.odd]
frontend = { extension = "echo", inputs = ["in/**/*.txt"] }
"#,
    );
    p.write("in/c:d.txt", "colon");
    let (out, summary) = p.build_json(&[]);
    assert_eq!(out.status.code(), Some(1));
    let error = summary["steps"][0]["error"].as_str().unwrap();
    insta::assert_snapshot!(error, @r"task `odd`: input file in/c:d.txt cannot be passed to its frontend: its name contains `\` or `:`, which a file bundle refuses (they mean other things on other systems); rename it, or narrow the task's `inputs` so they do not match it");

    std::fs::remove_file(p.path().join("in/c:d.txt")).unwrap();
    let odd = p
        .path()
        .join("in")
        .join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    std::fs::create_dir_all(&odd).unwrap();
    std::fs::write(odd.join("menu.txt"), "latin-1").unwrap();
    let (out, summary) = p.build_json(&[]);
    assert_eq!(out.status.code(), Some(1));
    let error = summary["steps"][0]["error"].as_str().unwrap();
    assert!(error.starts_with("task `odd`: input file "), "{error}");
    assert!(
        error.contains("menu.txt cannot be passed to its frontend: its name is not valid UTF-8"),
        "{error}"
    );
}

#[test]
fn an_input_pattern_that_matches_nothing_is_warned_about_on_every_build() {
    let p = Project::new(
        r#"
[project]
name = "empty"

[[extensions]]
name = "echo"
source = { type = "wasm", path = "{echo}" }

[tasks.t]
frontend = { extension = "echo", inputs = ["in/*.txt", "docs/*.md"] }
"#,
    );
    p.write("in/a.txt", "a");
    for status in ["executed", "cached"] {
        let (out, summary) = p.build_json(&[]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(steps_with(&summary, status), ["t:frontend"]);
        let err = stderr(&out);
        assert!(
            err.contains(
                "WARN morphir::build: task `t`: input pattern `docs/*.md` matches no file\n"
            ),
            "{err}"
        );
        assert!(!err.contains("in/*.txt"), "{err}");
    }
}

/// Key sensitivity through the real binary: one byte of a module, an input's path (same bytes),
/// each reruns exactly the steps whose key they are part of (unit tests cover every key
/// component and the executor's version; `morphir-cache` `key.rs`).
#[test]
fn one_byte_of_a_module_or_an_inputs_path_reruns_exactly_the_steps_it_feeds() {
    let p = docs_project();
    // The title-case module copied into the project, with a custom section of one byte that
    // the engine ignores: the module behaves the same, only its bytes differ.
    let mut wasm = std::fs::read(morphir_tests::guest("title-case")).unwrap();
    wasm.extend_from_slice(&[0, 3, 1, b'k', b'1']);
    let module = p.path().join("ext/title.wasm");
    std::fs::create_dir_all(module.parent().unwrap()).unwrap();
    std::fs::write(&module, &wasm).unwrap();
    p.set_config(&DOCS.replace("{title}", "ext/title.wasm"));
    let (out, summary) = p.build_json(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(steps_with(&summary, "executed"), ALL);

    // One byte of the module: both title-case steps run again; their outputs are the same, so
    // everything after them stays cached (early cutoff).
    *wasm.last_mut().unwrap() = b'2';
    std::fs::write(&module, &wasm).unwrap();
    let (out, summary) = p.build_json(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        steps_with(&summary, "executed"),
        [
            "guides:transform[0]:title-case",
            "site:transform[0]:title-case"
        ]
    );
    let (_, summary) = p.build_json(&[]);
    assert_eq!(steps_with(&summary, "executed"), Vec::<String>::new());

    // An input renamed, its bytes unchanged: its frontend runs again (the path is part of the
    // key), and so does what its new output feeds.
    std::fs::rename(
        p.path().join("guides/use.md"),
        p.path().join("guides/usage.md"),
    )
    .unwrap();
    let (out, summary) = p.build_json(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The page's name is part of what the frontend outputs, so everything downstream runs too.
    assert_eq!(steps_with(&summary, "executed"), ALL);
    assert!(p.path().join("out/guides/guides-usage.html").exists());
    // Renamed back: the first key again, served from the cache.
    std::fs::rename(
        p.path().join("guides/usage.md"),
        p.path().join("guides/use.md"),
    )
    .unwrap();
    let (_, summary) = p.build_json(&[]);
    assert_eq!(steps_with(&summary, "executed"), Vec::<String>::new());
}
