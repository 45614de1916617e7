//! `morphir graph`: the step graph as DOT and JSON, and the errors a graph can have.

use morphir_tests::{morphir, stderr, stdout};

use crate::fixtures::{TWO_TASKS, project, redact};

#[test]
fn dot_of_two_tasks_with_a_dependency_and_two_backends() {
    let dir = project(TWO_TASKS);
    let out = morphir(dir.path(), &["graph"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "nothing but the graph is printed");
    insta::assert_snapshot!(stdout(&out));
}

#[test]
fn json_of_two_tasks_with_a_dependency_and_two_backends() {
    let dir = project(TWO_TASKS);
    let out = morphir(dir.path(), &["graph", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let graph: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    insta::assert_json_snapshot!(graph);
}

#[test]
fn named_tasks_select_what_they_depend_on() {
    let dir = project(TWO_TASKS);
    let out = morphir(dir.path(), &["graph", "--format", "json", "model"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let graph: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["model:frontend", "model:transform[0]:title-case"]);

    // `site` needs `model`: both tasks are in.
    let out = morphir(dir.path(), &["graph", "site"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dot = stdout(&out);
    assert!(dot.contains("\"model:frontend\"") && dot.contains("\"site:backend:echo\""));
}

#[test]
fn the_graph_is_found_from_a_subdirectory_and_needs_no_built_module() {
    // `legacy` aside, point an enabled extension at a module that does not exist: the graph is
    // structure only, so it is still drawn.
    let dir = project(&TWO_TASKS.replace("{dist}/echo.wasm", "not-built/echo.wasm"));
    let sub = dir.path().join("pages/deep");
    std::fs::create_dir_all(&sub).unwrap();
    let out = morphir(&sub, &["graph", "site"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("site:backend:echo"));
}

#[test]
fn a_cycle_is_refused_with_its_tasks_and_locations() {
    let dir = project(
        r#"
[project]
name = "cycle"

[[extensions]]
name = "echo"
source = { type = "wasm", path = "{dist}/echo.wasm" }

[tasks.a]
frontend = { extension = "echo" }
depends_on = ["b"]

[tasks.b]
frontend = { extension = "echo" }
depends_on = ["a"]
"#,
    );
    let out = morphir(dir.path(), &["graph"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    insta::assert_snapshot!(stderr(&out), @r"
    error: dependency cycle: a -> b -> a
      morphir.toml:11:15: `a` depends on `b`
      morphir.toml:15:15: `b` depends on `a`
      remove one of these depends_on entries to break the cycle
    ");
}

#[test]
fn an_unknown_task_gets_a_suggestion() {
    let dir = project(TWO_TASKS);
    let out = morphir(dir.path(), &["graph", "modle"]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(stderr(&out), @"error: unknown task `modle`; did you mean `model`?");

    let out = morphir(dir.path(), &["graph", "zzzzzz"]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(stderr(&out), @"error: unknown task `zzzzzz`; the tasks are: model, site");
}

#[test]
fn every_configuration_error_is_listed_at_once() {
    let dir = project(
        r#"
[project]
name = "broken"
membrs = []

[tasks.a]
frontend = { extension = "nope" }
"#,
    );
    let out = morphir(dir.path(), &["graph"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    insta::assert_snapshot!(stderr(&out), @r"
    error: 2 errors in the configuration:
    morphir.toml:4:1: unknown key `membrs` in [project]; did you mean `members`?
    morphir.toml:7:26: task `a` uses unknown extension `nope`; declare it in an [[extensions]] table
    ");
}

#[test]
fn config_points_at_another_file() {
    let dir = project(TWO_TASKS);
    let elsewhere = tempfile::tempdir().unwrap();
    let file = dir.path().join("morphir.toml").display().to_string();
    let out = morphir(elsewhere.path(), &["graph", "--config", &file, "model"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("model:transform[0]:title-case"));

    let missing = dir.path().join("nope.toml").display().to_string();
    let out = morphir(elsewhere.path(), &["graph", "--config", &missing]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(
        redact(&stderr(&out), dir.path()),
        @"error: cannot read `[project]/nope.toml`: No such file or directory (os error 2)"
    );
}

#[test]
fn without_morphir_toml_the_error_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = morphir(dir.path(), &["graph"]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(
        redact(&stderr(&out), dir.path()),
        @"error: no morphir.toml in [project] or any parent directory; create one (see morphir.toml.example) or pass --config"
    );
}
