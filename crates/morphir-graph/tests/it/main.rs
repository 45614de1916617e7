//! Integration tests of `morphir-graph`: configurations loaded from real files, graphs and
//! cycle errors as insta snapshots.

use std::path::Path;

use morphir_config::{Config, LoadOptions};
use morphir_graph::{GraphError, StepGraph};

const CONFIG: &str = r#"
[project]
name = "demo"

[[extensions]]
name = "morphir-ir"
source = { type = "wasm", path = "ext/ir.wasm" }

[[extensions]]
name = "strip-docs"
source = { type = "wasm", path = "ext/strip.wasm" }

[[extensions]]
name = "keep-modules"
source = { type = "wasm", path = "ext/keep.wasm" }

[[extensions]]
name = "json-schema"
source = { type = "wasm", path = "ext/schema.wasm" }

[[extensions]]
name = "typescript"
source = { type = "wasm", path = "ext/ts.wasm" }

[tasks.model]
frontend = { extension = "morphir-ir", inputs = ["ir/**/*.json"] }
transforms = [{ extension = "strip-docs" }, { extension = "keep-modules", config = { modules = ["A"] } }]
backends = [{ extension = "json-schema", output = "out/schema" }, { extension = "typescript", output = "out/ts" }]

[tasks.api-docs]
frontend = { extension = "morphir-ir" }
backends = [{ extension = "typescript", output = "out/api-docs" }]
depends_on = ["model"]

[tasks.base]
frontend = { extension = "morphir-ir", inputs = ["base/*.json"] }

[tasks.unrelated]
frontend = { extension = "morphir-ir" }
backends = [{ extension = "json-schema", output = "out/unrelated" }]
depends_on = ["base"]
"#;

/// Loads `text` as the root file of a temporary workspace (without checking wasm files).
fn load(text: &str) -> (tempfile::TempDir, Config) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("morphir.toml");
    std::fs::write(&file, text).unwrap();
    let config = Config::load_with(&file, LoadOptions { check_files: false })
        .unwrap_or_else(|e| panic!("{e}"));
    (dir, config)
}

fn filtered(root: &Path, text: &str) -> String {
    text.replace(&root.display().to_string(), "[ROOT]")
}

#[test]
fn dot() {
    let (_dir, config) = load(CONFIG);
    let graph = StepGraph::build(&config).unwrap();
    insta::assert_snapshot!(graph.to_dot());
}

#[test]
fn json() {
    let (_dir, config) = load(CONFIG);
    let graph = StepGraph::build(&config).unwrap();
    insta::assert_json_snapshot!(graph.to_json());
}

#[test]
fn subgraph_dot() {
    let (_dir, config) = load(CONFIG);
    let graph = StepGraph::build(&config).unwrap();
    let sub = graph.subgraph_for(&["api-docs"]).unwrap();
    insta::assert_snapshot!(sub.to_dot());
}

#[test]
fn steps_reach_their_configuration() {
    let (_dir, config) = load(CONFIG);
    let graph = StepGraph::build(&config).unwrap();
    let step = &graph[graph.find("model:transform[1]:keep-modules").unwrap()];
    let used = step.extension_ref(&config).unwrap();
    assert_eq!(used.name, "keep-modules");
    assert_eq!(used.config, serde_json::json!({"modules": ["A"]}));
    assert_eq!(step.task(&config).unwrap().name, "model");
    // The order a one-worker scheduler would follow.
    let order: Vec<&str> = graph
        .topo_order()
        .into_iter()
        .map(|s| graph[s].id.as_str())
        .collect();
    insta::assert_snapshot!(order.join("\n"));
}

#[test]
fn cycles_name_every_member_and_where_it_was_declared() {
    let text = format!(
        "{CONFIG}\n{}",
        r#"
[tasks.a]
frontend = { extension = "morphir-ir" }
depends_on = ["b"]

[tasks.b]
frontend = { extension = "morphir-ir" }
transforms = [{ extension = "strip-docs" }]
depends_on = ["model", "c"]

[tasks.c]
frontend = { extension = "morphir-ir" }
depends_on = ["a"]

[tasks.selfish]
frontend = { extension = "morphir-ir" }
depends_on = ["selfish"]
"#
    );
    let (dir, config) = load(&text);
    let error = StepGraph::build(&config).unwrap_err();
    assert!(matches!(&error, GraphError::Cycles(cycles) if cycles.len() == 2));
    insta::assert_snapshot!(filtered(dir.path(), &error.to_string()));
}

#[test]
fn unknown_target() {
    let (_dir, config) = load(CONFIG);
    let graph = StepGraph::build(&config).unwrap();
    let error = graph.subgraph_for(&["api-doc"]).unwrap_err();
    insta::assert_snapshot!(error.to_string(), @"unknown task `api-doc`; did you mean `api-docs`?");
}
