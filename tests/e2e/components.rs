//! Component Model extensions in real builds: a component transform between core modules, a
//! component backend beside a core one, and the configuration errors a wrong protocol or world
//! gives before anything runs.

use morphir_tests::{Project, guest, stderr, steps_with};

use crate::fixtures::redact;

/// `guides`: core frontend → component transform (seed world `morphir:extension`) → a core
/// backend and a component backend (`morphir:ext` world `backend`).
fn config() -> String {
    format!(
        r#"
[project]
name = "mixed"

[[extensions]]
name = "docs"
source = {{ type = "wasm", path = "{docs}" }}

[[extensions]]
name = "title"
protocol = "component"
source = {{ type = "wasm-component", path = "{title}" }}
config = {{ field = "title" }}
[extensions.permissions]
max_memory = "100MB"
max_execution_time = "10s"

[[extensions]]
name = "html"
source = {{ type = "wasm", path = "{html}" }}

[[extensions]]
name = "index"
protocol = "component"
source = {{ type = "wasm-component", path = "{index}" }}

[tasks.guides]
frontend = {{ extension = "docs", inputs = ["guides/*.md"] }}
transforms = [{{ extension = "title" }}]
backends = [
  {{ extension = "html", output = "out/html" }},
  {{ extension = "index", output = "out/index" }},
]
"#,
        docs = guest("docs-frontend").display(),
        title = guest("title-case-component").display(),
        html = guest("html-backend").display(),
        index = guest("index-backend-component").display(),
    )
}

const ALL: [&str; 4] = [
    "guides:frontend",
    "guides:transform[0]:title",
    "guides:backend:html",
    "guides:backend:index",
];

fn project() -> Project {
    let p = Project::new(&config());
    p.write(
        "guides/install.md",
        "# install it\nRun the bootstrap script.\n",
    );
    p.write("guides/use.md", "# use it\nRun morphir build.\n");
    p
}

#[test]
fn a_component_transform_between_core_modules_builds_caches_and_rebuilds() {
    let p = project();
    let (out, summary) = p.build_json(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(steps_with(&summary, "executed"), ALL);
    let html = p.read("out/html/index.html");
    assert!(html.contains("Install It"), "the component ran: {html}");
    assert_eq!(
        p.read("out/index/index.md"),
        "# Index\n\n- Install It (guides/install.md)\n- Use It (guides/use.md)\n"
    );
    let first = p.tree("out");

    // Nothing changed: everything is served from the cache, components included.
    let (out, summary) = p.build_json(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(steps_with(&summary, "executed"), Vec::<String>::new());
    assert_eq!(steps_with(&summary, "cached"), ALL);
    std::fs::remove_dir_all(p.path().join("out")).unwrap();
    let (_, summary) = p.build_json(&[]);
    assert_eq!(steps_with(&summary, "executed"), Vec::<String>::new());
    assert_eq!(p.tree("out"), first);

    // An edited input re-runs its downstream, through the component.
    p.write("guides/use.md", "# use it well\nRun morphir build.\n");
    let (out, summary) = p.build_json(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(steps_with(&summary, "executed"), ALL);
    assert!(
        p.read("out/index/index.md")
            .contains("- Use It Well (guides/use.md)")
    );

    // The component's `[extensions.config]` is what `initialize` receives: a new field re-runs
    // the transform, and title-cases bodies instead.
    p.set_config(&config().replace(
        r#"config = { field = "title" }"#,
        r#"config = { field = "body" }"#,
    ));
    let (out, summary) = p.build_json(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        steps_with(&summary, "executed").contains(&"guides:transform[0]:title".to_owned()),
        "{summary}"
    );
    assert!(steps_with(&summary, "cached").contains(&"guides:frontend".to_owned()));
    let html = p.read("out/html/guides-install.html");
    assert!(html.contains("Run The Bootstrap Script."), "{html}");
}

#[test]
fn a_failing_component_step_caches_nothing() {
    let p = project();
    // The component's initialize refuses this configuration.
    p.set_config(&config().replace(r#"config = { field = "title" }"#, "config = { field = 3 }"));
    let (out, summary) = p.build_json(&[]);
    assert!(!out.status.success());
    assert_eq!(
        steps_with(&summary, "failed"),
        ["guides:transform[0]:title"]
    );
    let err = stderr(&out);
    assert!(
        err.contains("initialize returned status \"`field` must be a string, found 3\""),
        "{err}"
    );
    // Fixed: the transform runs (it was not cached as failed), the frontend is a hit.
    p.set_config(&config());
    let (out, summary) = p.build_json(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(steps_with(&summary, "cached"), ["guides:frontend"]);
}

#[test]
fn a_protocol_mismatch_is_a_configuration_error_before_anything_runs() {
    let p = project();
    // The first build remembers the component's capabilities by its hash; the check must not
    // rely on a load to notice the mismatch.
    assert!(p.build_json(&[]).0.status.success());
    std::fs::remove_dir_all(p.path().join("out")).unwrap();
    let core_as_component = config().replace(
        r#"name = "html"
source = { type = "wasm","#,
        r#"name = "html"
protocol = "component"
source = { type = "wasm-component","#,
    );
    p.set_config(&core_as_component);
    let out = p.morphir(&["build"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    insta::assert_snapshot!(
        "core_module_configured_as_component",
        redact(&stderr(&out), p.path())
    );
    let component_as_core = config().replace(
        r#"name = "title"
protocol = "component"
source = { type = "wasm-component","#,
        r#"name = "title"
source = { type = "wasm","#,
    );
    p.set_config(&component_as_core);
    let out = p.morphir(&["build"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    insta::assert_snapshot!(
        "component_configured_as_core",
        redact(&stderr(&out), p.path())
    );
    assert!(!p.path().join("out").exists(), "nothing ran");
}

#[test]
fn a_component_of_no_morphir_world_is_a_configuration_error() {
    let p = project();
    // The smallest valid component: a header and nothing else, so no world.
    std::fs::write(p.path().join("empty.wasm"), b"\0asm\x0d\x00\x01\x00").unwrap();
    p.set_config(&config().replace(
        &guest("index-backend-component").display().to_string(),
        "empty.wasm",
    ));
    let out = p.morphir(&["build"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    insta::assert_snapshot!(redact(&stderr(&out), p.path()));
    assert!(!p.path().join("out").exists(), "nothing ran");
}

#[test]
fn extensions_lists_each_protocol_and_world() {
    let p = project();
    let out = p.morphir(&["extensions"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(redact(&morphir_tests::stdout(&out), p.path()));
    let out = p.morphir(&["extensions", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let protocols: Vec<(&str, &str)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["protocol"].as_str().unwrap()))
        .collect();
    assert_eq!(
        protocols,
        [
            ("docs", "core"),
            ("html", "core"),
            ("index", "component"),
            ("title", "component")
        ]
    );
    assert_eq!(rows[2]["world"], "morphir:ext/backend@0.1.0");
    assert_eq!(rows[0]["world"], serde_json::Value::Null);
}

/// A component built for wasm32-wasip2 imports WASI; in a build it sees only what its
/// permissions grant, and its stdout and stderr are the step's log lines, cached with it.
#[test]
fn a_wasi_component_in_a_build_sees_only_what_is_granted() {
    let p = Project::new(&format!(
        r#"
[project]
name = "wasi"

[[extensions]]
name = "docs"
source = {{ type = "wasm", path = "{docs}" }}

[[extensions]]
name = "report"
protocol = "component"
source = {{ type = "wasm-component", path = "{wasi}" }}
[extensions.permissions]
env = ["MORPHIR_E2E_GRANTED"]

[tasks.guides]
frontend = {{ extension = "docs", inputs = ["guides/*.md"] }}
backends = [{{ extension = "report", output = "out" }}]
"#,
        docs = guest("docs-frontend").display(),
        wasi = guest("wasi-component").display(),
    ));
    p.write("guides/a.md", "# a\nbody\n");
    let env = [("MORPHIR_E2E_GRANTED", "yes"), ("MORPHIR_E2E_DENIED", "no")];
    let build = || morphir_tests::morphir_with_env(p.path(), &["build", "-v"], &env);
    let out = build();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&p.read("out/report.json")).unwrap();
    assert_eq!(
        report["env"],
        serde_json::json!([["MORPHIR_E2E_GRANTED", "yes"]])
    );
    assert_eq!(report["wall_clock_secs"], 0);
    for denied in ["read_dir_root", "read_file", "tcp", "dns"] {
        let seen = report[denied].as_str().unwrap();
        assert!(seen.starts_with("error"), "{denied}: {seen}");
    }
    let live = stderr(&out);
    assert!(
        live.contains("[guides:backend:report] info: to stdout: hello from wasi-component"),
        "{live}"
    );
    assert!(
        live.contains("[guides:backend:report] warn: to stderr: careful"),
        "{live}"
    );

    // Cached, logs replayed; the report (its random bytes included) is the same.
    let first = p.tree("out");
    std::fs::remove_dir_all(p.path().join("out")).unwrap();
    let out = build();
    let replayed = stderr(&out);
    assert!(
        replayed.contains("[guides:backend:report] warn (cached): to stderr: careful"),
        "{replayed}"
    );
    assert_eq!(p.tree("out"), first);
}
