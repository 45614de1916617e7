//! Loads that succeed: what the validated types hold.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use morphir_config::{Blake3Hash, ByteSize, Config, LoadOptions, Protocol, find_config};
use serde_json::json;

use crate::{BASE, Workspace};

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "one workspace, every field checked in one place"
)]
fn a_full_workspace() {
    let ws = Workspace::new(&[
        (
            "morphir.toml",
            r#"
[project]
name = "demo"
description = "A demo."
include = ["tasks/*.toml"]

[cache]
dir = ".morphir-cache"
max_size = "2GB"

[[extensions]]
name = "ir"
source = { type = "wasm", path = "ext/ir.wasm" }
[extensions.permissions]
max_memory = "64MiB"
max_execution_time = "1500ms"
env = ["HOME", "HOME"]
allowed_hosts = ["api.example.com"]
[extensions.config]
zeta = 1
alpha = { keep = true, list = [1, 2] }

[tasks.model]
description = "The model."
frontend = { extension = "ir", inputs = ["ir/**/*.json"], config = { alpha = { list = [3] }, extra = "x" } }
env = ["MY_VAR"]
"#,
        ),
        (
            "tasks/docs.toml",
            r#"
[[extensions]]
name = "ts"
enabled = true
protocol = "core"
source = { type = "wasm", path = "../ext/ts.wasm" }

[tasks.docs]
frontend = { extension = "ir" }
transforms = []
backends = [
  { extension = "ts", output = "out/./ts/" },
]
depends_on = ["model", "model"]
cache = false
"#,
        ),
    ]);
    let config = ws.load().unwrap();
    assert_eq!(config.project.name, "demo");
    assert_eq!(config.project.description.as_deref(), Some("A demo."));
    assert_eq!(config.root, ws.root());
    assert_eq!(config.cache.dir, ws.root().join(".morphir-cache"));
    assert_eq!(config.cache.max_size, Some(ByteSize::new(2_000_000_000)));
    assert_eq!(
        config.files,
        [
            ws.root().join("morphir.toml"),
            ws.root().join("tasks/docs.toml")
        ]
    );

    let ir = &config.extensions["ir"];
    assert!(ir.enabled);
    assert_eq!(ir.protocol, Protocol::Core);
    assert_eq!(ir.source.path, ws.root().join("ext/ir.wasm"));
    assert_eq!(ir.permissions.max_memory, Some(ByteSize::new(64 << 20)));
    assert_eq!(
        ir.permissions.max_execution_time,
        Some(Duration::from_millis(1500))
    );
    assert_eq!(ir.permissions.env, ["HOME"]);
    assert_eq!(ir.permissions.allowed_hosts, ["api.example.com"]);
    assert_eq!(
        ir.config,
        json!({"alpha": {"keep": true, "list": [1, 2]}, "zeta": 1})
    );
    // An extension's path is relative to the file that declares it.
    assert_eq!(
        config.extensions["ts"].source.path,
        ws.root().join("tasks/../ext/ts.wasm")
    );

    let model = &config.tasks["model"];
    assert_eq!(model.description.as_deref(), Some("The model."));
    assert_eq!(model.dir, ws.root());
    assert_eq!(model.member, None);
    assert_eq!(model.frontend.inputs, ["ir/**/*.json"]);
    // Deep merge: objects merge, arrays are replaced; keys sorted.
    assert_eq!(
        model.frontend.extension.config,
        json!({"alpha": {"keep": true, "list": [3]}, "extra": "x", "zeta": 1})
    );
    assert_eq!(
        serde_json::to_string(&model.frontend.extension.config).unwrap(),
        r#"{"alpha":{"keep":true,"list":[3]},"extra":"x","zeta":1}"#
    );
    assert_eq!(model.env, ["MY_VAR"]);
    assert!(model.cache);
    assert!(model.backends.is_empty());
    assert_eq!((model.location.line, model.location.column), (23, 8));
    assert_eq!(model.final_ir().name, "ir");

    let docs = &config.tasks["docs"];
    assert!(!docs.cache);
    assert_eq!(docs.backends[0].output, Path::new("out/ts"));
    assert_eq!(docs.backends[0].output_dir, ws.root().join("out/ts"));
    assert_eq!(docs.depends_on.len(), 1, "duplicates are dropped");
    let dependency = &docs.depends_on[0];
    assert_eq!(dependency.task, "model");
    assert_eq!(
        &*dependency.location.file,
        ws.root().join("tasks/docs.toml")
    );
    assert_eq!(
        (dependency.location.line, dependency.location.column),
        (14, 15)
    );
    assert_eq!(
        (
            docs.backends[0].extension.location.line,
            docs.backends[0].output_location.column
        ),
        (12, 32)
    );
}

#[test]
fn cache_dir_env_override() {
    let ws = Workspace::with_root("");
    let config = ws.load().unwrap();
    assert_eq!(config.cache.dir, ws.root().join("cache"), "the default");
    assert_eq!(config.cache_dir(None), ws.root().join("cache"));
    assert_eq!(
        config.cache_dir(Some(OsStr::new(""))),
        ws.root().join("cache")
    );
    assert_eq!(
        config.cache_dir(Some(OsStr::new("/var/cache/m"))),
        Path::new("/var/cache/m")
    );
    assert_eq!(
        config.cache_dir(Some(OsStr::new("rel"))),
        ws.root().join("rel")
    );
    assert_eq!(morphir_config::CACHE_DIR_ENV, "MORPHIR_CACHE_DIR");
}

#[test]
fn a_monorepo() {
    let ws = Workspace::new(&[
        (
            "morphir.toml",
            &format!(
                "{}\n[tasks.shared]\nfrontend = {{ extension = \"ir\" }}\n",
                BASE.replace(
                    "name = \"demo\"",
                    "name = \"demo\"\nmembers = [\"packages/*\"]"
                )
            ),
        ),
        (
            "packages/api/morphir.toml",
            r#"
[project]
name = "the-api"
include = ["tasks/*.toml"]

[tasks.model]
frontend = { extension = "ir", inputs = ["ir/*.json", "../../common/*.json"] }
depends_on = ["shared"]
"#,
        ),
        (
            "packages/api/tasks/docs.toml",
            r#"
[[extensions]]
name = "api-only"
source = { type = "wasm", path = "../../../ext/ir.wasm" }

[tasks.docs]
frontend = { extension = "api-only" }
backends = [{ extension = "ts", output = "out/docs" }]
depends_on = ["model", "web/model"]
"#,
        ),
        (
            "packages/web/morphir.toml",
            r#"
[tasks.model]
frontend = { extension = "ir" }
backends = [{ extension = "ts", output = "out/docs" }]
"#,
        ),
        ("packages/not-a-member/README.md", ""),
    ]);
    let config = ws.load().unwrap();
    let names: Vec<&str> = config.tasks.keys().map(String::as_str).collect();
    assert_eq!(names, ["api/docs", "api/model", "shared", "web/model"]);
    let members: Vec<(&str, &Path, Option<&str>)> = config
        .members
        .iter()
        .map(|m| (m.name.as_str(), m.dir.as_path(), m.project_name.as_deref()))
        .collect();
    assert_eq!(
        members,
        [
            ("api", Path::new("packages/api"), Some("the-api")),
            ("web", Path::new("packages/web"), None),
        ]
    );

    let model = &config.tasks["api/model"];
    assert_eq!(model.member.as_deref(), Some("api"));
    assert_eq!(model.dir, ws.root().join("packages/api"));
    assert_eq!(
        model.depends_on[0].task, "shared",
        "falls back to the root task"
    );

    let docs = &config.tasks["api/docs"];
    let deps: Vec<&str> = docs.depends_on.iter().map(|d| d.task.as_str()).collect();
    assert_eq!(deps, ["api/model", "web/model"]);
    // Outputs are relative to the member, stored relative to the workspace root: the two
    // `out/docs` do not collide.
    assert_eq!(docs.backends[0].output, Path::new("packages/api/out/docs"));
    assert_eq!(
        config.tasks["web/model"].backends[0].output,
        Path::new("packages/web/out/docs")
    );

    // Running inside a member finds the workspace root.
    assert_eq!(
        find_config(&ws.root().join("packages/api/tasks")),
        Some(ws.root().join("morphir.toml"))
    );
}

#[test]
fn input_files_are_matched_sorted_and_deduplicated() {
    let ws = Workspace::new(&[
        (
            "morphir.toml",
            &format!(
                "{BASE}\n[tasks.model]\nfrontend = {{ extension = \"ir\", inputs = [\"ir/**/*.json\", \"ir/a.json\"] }}\n"
            ),
        ),
        ("ir/b.json", "{}"),
        ("ir/a.json", "{}"),
        ("ir/sub/c.json", "{}"),
        ("ir/sub/skip.txt", ""),
    ]);
    let config = ws.load().unwrap();
    let files: Vec<PathBuf> = config.tasks["model"]
        .input_files()
        .unwrap()
        .into_iter()
        .map(|p| p.strip_prefix(ws.root()).unwrap().to_owned())
        .collect();
    assert_eq!(
        files,
        [
            Path::new("ir/a.json"),
            Path::new("ir/b.json"),
            Path::new("ir/sub/c.json")
        ]
    );
}

#[test]
fn hash_pins_are_checked_against_the_file() {
    let good = Blake3Hash::of_bytes(b"\0asm");
    let ws = Workspace::with_root(&format!(
        "\n[[extensions]]\nname = \"pinned\"\nsource = {{ type = \"wasm\", path = \"ext/ir.wasm\", hash = \"{good}\" }}\n\n[[extensions]]\nname = \"stale\"\nsource = {{ type = \"wasm\", path = \"ext/ir.wasm\", hash = \"{}\" }}\n",
        Blake3Hash::of_bytes(b"old")
    ));
    let config = ws.load().unwrap();
    assert_eq!(config.extensions["pinned"].source.hash, Some(good));
    config.extensions["pinned"].source.verify_hash().unwrap();
    config.extensions["ir"].source.verify_hash().unwrap();
    let error = config.extensions["stale"].source.verify_hash().unwrap_err();
    let message = error
        .to_string()
        .replace(&ws.root().display().to_string(), "[ROOT]");
    insta::assert_snapshot!(message);
}

#[test]
fn missing_wasm_files_can_be_checked_later() {
    let ws = Workspace::with_root(
        "\n[[extensions]]\nname = \"later\"\nsource = { type = \"wasm\", path = \"ext/later.wasm\" }\n",
    );
    assert!(ws.load().is_err());
    let config = ws.load_unchecked().unwrap();
    assert_eq!(config.check_files().unwrap_err().errors().len(), 1);
}

/// The example at the repository root documents every key; it must load (its wasm files are not
/// built, so without the file check). It is copied into a temporary directory so that the
/// repository's own `tasks/` and `packages/` do not leak in.
#[test]
fn the_repository_example_loads() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../morphir.toml.example");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("morphir.toml");
    std::fs::copy(&example, &file).unwrap();
    let config = Config::load_with(&file, LoadOptions { check_files: false })
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!config.tasks.is_empty());
    assert!(!config.extensions.is_empty());
    let remote = config.cache.remote.as_ref().expect("[cache.remote]");
    assert_eq!(remote.endpoint, "grpcs://cache.example.com:443");
    assert_eq!(
        remote.token_env.as_deref(),
        Some("MORPHIR_REMOTE_CACHE_TOKEN")
    );
    for task in config.tasks.values() {
        for dependency in &task.depends_on {
            assert!(config.tasks.contains_key(&dependency.task));
        }
    }
}

/// `[cache.remote]`: values checked at load, env overrides applied by `remote_cache`.
#[test]
fn the_remote_cache_table_is_validated_and_overridden_by_the_environment() {
    let ws = Workspace::with_root(
        "\n[cache.remote]\nendpoint = \"grpc://127.0.0.1:9092\"\ninstance_name = \"ci\"\n\
         token_env = \"CACHE_TOKEN\"\nca_file = \"ca.pem\"\ntimeout = \"3s\"\nupload = false\n",
    );
    let config = ws.load().unwrap_or_else(|e| panic!("{e}"));
    let remote = config.cache.remote.clone().unwrap();
    assert_eq!(remote.instance_name, "ci");
    assert_eq!(remote.token_env.as_deref(), Some("CACHE_TOKEN"));
    assert_eq!(remote.ca_file, Some(config.root.join("ca.pem")));
    assert_eq!(remote.timeout, Some(std::time::Duration::from_secs(3)));
    assert!(!remote.upload);

    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| std::ffi::OsString::from(v))
        }
    };
    assert_eq!(config.remote_cache(env(&[])).unwrap(), Some(remote.clone()));
    let overridden = config
        .remote_cache(env(&[
            ("MORPHIR_REMOTE_CACHE", "grpcs://cache.example.com"),
            ("MORPHIR_REMOTE_CACHE_UPLOAD", "true"),
            ("MORPHIR_REMOTE_CACHE_INSTANCE", "main"),
        ]))
        .unwrap()
        .unwrap();
    assert_eq!(overridden.endpoint, "grpcs://cache.example.com");
    assert!(overridden.upload);
    assert_eq!(overridden.instance_name, "main");
    assert_eq!(overridden.token_env, remote.token_env, "the rest is kept");
    assert_eq!(
        config
            .remote_cache(env(&[("MORPHIR_REMOTE_CACHE", "off")]))
            .unwrap(),
        None
    );
    let err = config
        .remote_cache(env(&[("MORPHIR_REMOTE_CACHE_UPLOAD", "maybe")]))
        .unwrap_err();
    assert!(err.contains("MORPHIR_REMOTE_CACHE_UPLOAD"), "{err}");
    let err = config
        .remote_cache(env(&[("MORPHIR_REMOTE_CACHE", "http://x")]))
        .unwrap_err();
    assert!(
        err.starts_with("MORPHIR_REMOTE_CACHE: endpoint `http://x` must start with grpc://"),
        "{err}"
    );

    // No table: only the environment sets one up.
    let plain = Workspace::with_root("").load().unwrap();
    assert_eq!(plain.remote_cache(env(&[])).unwrap(), None);
    let from_env = plain
        .remote_cache(env(&[("MORPHIR_REMOTE_CACHE", "grpc://localhost:1")]))
        .unwrap()
        .unwrap();
    assert!(from_env.upload);
    assert_eq!(from_env.token_env, None);

    // Every bad value at once, each at its place.
    let bad = Workspace::with_root(
        "\n[cache.remote]\nendpoint = \"https://cache.example.com/x\"\n\
         token_env = \"s3cr3t token\"\ntimeout = \"soon\"\n",
    );
    let errors = bad.load().unwrap_err().to_string();
    assert!(
        errors.contains("must start with grpc:// (plain) or grpcs:// (TLS)"),
        "{errors}"
    );
    assert!(
        errors.contains("`token_env` names the environment variable"),
        "{errors}"
    );
    assert!(
        !errors.contains("s3cr3t"),
        "the value is not echoed: {errors}"
    );
    assert!(errors.contains("`timeout`"), "{errors}");
    let unknown =
        Workspace::with_root("\n[cache.remote]\nendpoint = \"grpc://h:1\"\ntoken = \"x\"\n");
    let unknown = unknown.load().unwrap_err().to_string();
    assert!(unknown.contains("unknown key `token`"), "{unknown}");
}

#[test]
fn a_component_extension_loads_with_its_protocol() {
    let ws = Workspace::with_root(
        r#"
[[extensions]]
name = "component-backend"
enabled = true
protocol = "component"
[extensions.source]
type = "wasm-component"
path = "./ext/ir.wasm"
[extensions.permissions]
max_memory = "100MB"
max_execution_time = "10s"
"#,
    );
    let config = ws.load().unwrap();
    let ext = &config.extensions["component-backend"];
    assert_eq!(ext.protocol, Protocol::Component);
    assert_eq!(ext.protocol.to_string(), "component");
    assert_eq!(ext.permissions.max_memory, Some(ByteSize::new(100_000_000)));
    assert_eq!(config.extensions["ir"].protocol, Protocol::Core);
}
