//! One snapshot per kind of configuration error: the message the user reads.

use crate::{BASE, Workspace, assert_errors};

/// A valid task to append to [`BASE`].
const TASK: &str = r#"
[tasks.model]
frontend = { extension = "ir", inputs = ["ir/**/*.json"] }
backends = [{ extension = "ts", output = "out/ts" }]
"#;

#[test]
fn toml_syntax() {
    let ws = Workspace::with_root("[tasks.model\nfrontend = 1\n");
    assert_errors!(ws, ws.errors());
}

#[test]
fn unknown_keys_suggest_the_closest() {
    let ws = Workspace::new(&[(
        "morphir.toml",
        r#"
[project]
name = "demo"
memebrs = []

[cahce]
dir = "c"

[[extensions]]
name = "ir"
source = { type = "wasm", path = "ext/ir.wasm" }
permissions = { max_mem = "10MB" }

[tasks.model]
frontnd = { extension = "ir" }

[tasks.other]
frontend = { extension = "ir", input = ["x"] }
depends-on = ["model"]

[tasks.third]
frontend = { extension = "ir" }
zzzzzz = 1
"#,
    )]);
    assert_errors!(ws, ws.errors());
}

#[test]
fn wrong_types() {
    let ws = Workspace::with_root(
        r#"
[tasks.a]
frontend = { extension = 3 }

[tasks.b]
frontend = { extension = "ir" }
cache = "no"

[tasks.c]
frontend = "ir"

[tasks.d]
frontend = { extension = "ir" }
backends = { extension = "ts", output = "out" }
"#,
    );
    assert_errors!(ws, ws.errors());
}

#[test]
fn missing_keys() {
    let ws = Workspace::new(&[(
        "morphir.toml",
        r#"
[project]
description = "no name"

[[extensions]]
name = "ir"

[tasks.a]
backends = []
"#,
    )]);
    assert_errors!(ws, ws.errors());
}

#[test]
fn missing_project_table() {
    let ws = Workspace::new(&[("morphir.toml", "[tasks]\n")]);
    assert_errors!(ws, ws.errors());
}

#[test]
fn bad_sizes_and_durations() {
    let ws = Workspace::new(&[(
        "morphir.toml",
        r#"
[project]
name = "demo"

[cache]
max_size = "2 gigabytes"

[[extensions]]
name = "ir"
source = { type = "wasm", path = "ext/ir.wasm" }
[extensions.permissions]
max_memory = "1.5GB"
max_execution_time = "10h"

[[extensions]]
name = "ts"
source = { type = "wasm", path = "ext/ts.wasm" }
permissions = { max_memory = "100", max_execution_time = "0s" }
"#,
    )]);
    assert_errors!(ws, ws.errors());
}

#[test]
fn unknown_and_disabled_extensions() {
    let ws = Workspace::with_root(
        r#"
[[extensions]]
name = "old"
enabled = false
source = { type = "wasm", path = "ext/missing-but-disabled.wasm" }

[tasks.model]
frontend = { extension = "irr" }
transforms = [{ extension = "old" }, { extension = "nothing-like-it" }]
backends = [{ extension = "ts", output = "out/ts" }]
"#,
    );
    assert_errors!(ws, ws.errors());
}

#[test]
fn duplicate_extensions_across_files() {
    let ws = Workspace::new(&[
        (
            "morphir.toml",
            &BASE.replace(
                "name = \"demo\"",
                "name = \"demo\"\ninclude = [\"tasks/*.toml\"]",
            ),
        ),
        (
            "tasks/more.toml",
            r#"
[[extensions]]
name = "ts"
source = { type = "wasm", path = "../ext/ts.wasm" }
"#,
        ),
    ]);
    assert_errors!(ws, ws.errors());
}

#[test]
fn duplicate_tasks_across_files() {
    let ws = Workspace::new(&[
        (
            "morphir.toml",
            &BASE.replace(
                "name = \"demo\"",
                "name = \"demo\"\ninclude = [\"tasks/a.toml\", \"tasks/b.toml\"]",
            ),
        ),
        ("tasks/a.toml", TASK),
        ("tasks/b.toml", &TASK.replace("out/ts", "out/ts2")),
    ]);
    assert_errors!(ws, ws.errors());
}

#[test]
fn missing_wasm_file() {
    let ws = Workspace::with_root(
        r#"
[[extensions]]
name = "gone"
source = { type = "wasm", path = "ext/dist/gone.wasm" }
"#,
    );
    assert_errors!(ws, ws.errors());
}

#[test]
fn bad_hashes() {
    let ws = Workspace::with_root(
        r#"
[[extensions]]
name = "h1"
source = { type = "wasm", path = "ext/ir.wasm", hash = "sha256:00" }

[[extensions]]
name = "h2"
source = { type = "wasm", path = "ext/ir.wasm", hash = "blake3:abc" }

[[extensions]]
name = "h3"
source = { type = "wasm", path = "ext/ir.wasm", hash = "blake3:ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB" }
"#,
    );
    assert_errors!(ws, ws.errors());
}

#[test]
fn unknown_dependency() {
    let ws = Workspace::with_root(&format!(
        "{TASK}\n[tasks.docs]\nfrontend = {{ extension = \"ir\" }}\ndepends_on = [\"modle\", \"nope\"]\n"
    ));
    assert_errors!(ws, ws.errors());
}

#[test]
fn invalid_names() {
    let ws = Workspace::with_root(
        r#"
[[extensions]]
name = "Bad_Ext"
source = { type = "wasm", path = "ext/ir.wasm" }

[tasks.Model]
frontend = { extension = "ir" }

[tasks."with space"]
frontend = { extension = "ir" }
env = ["OK_VAR", "not-ok"]
"#,
    );
    assert_errors!(ws, ws.errors());
}

#[test]
fn outputs_that_escape_or_collide() {
    let ws = Workspace::with_root(
        r#"
[tasks.a]
frontend = { extension = "ir" }
backends = [
  { extension = "ts", output = "../outside" },
  { extension = "schema", output = "/abs/out" },
]

[tasks.b]
frontend = { extension = "ir" }
backends = [{ extension = "ts", output = "." }]

[tasks.c]
frontend = { extension = "ir" }
backends = [{ extension = "ts", output = "out/shared" }, { extension = "schema", output = "out" }]

[tasks.d]
frontend = { extension = "ir" }
backends = [{ extension = "ts", output = "out/./shared" }, { extension = "ts", output = "out/other" }]
"#,
    );
    assert_errors!(ws, ws.errors());
}

#[test]
fn include_of_a_missing_file() {
    let ws = Workspace::new(&[(
        "morphir.toml",
        &BASE.replace(
            "name = \"demo\"",
            "name = \"demo\"\ninclude = [\"nothing/*.toml\", \"tasks/missing.toml\"]",
        ),
    )]);
    assert_errors!(ws, ws.errors());
}

#[test]
fn protocols_and_source_types_must_agree() {
    // `comp` is valid (a component); the others are not.
    let ws = Workspace::with_root(
        r#"
[[extensions]]
name = "comp"
protocol = "component"
source = { type = "wasm-component", path = "ext/ir.wasm" }

[[extensions]]
name = "weird"
protocol = "grpc"
source = { type = "wasm", path = "ext/ir.wasm" }

[[extensions]]
name = "mixed"
source = { type = "wasm-component", path = "ext/ir.wasm" }

[[extensions]]
name = "mixed-too"
protocol = "component"
source = { type = "wasm", path = "ext/ir.wasm" }
"#,
    );
    assert_errors!(ws, ws.errors());
}

#[test]
fn inputs_globs_and_hosts() {
    let ws = Workspace::with_root(
        r#"
[[extensions]]
name = "net"
source = { type = "wasm", path = "ext/ir.wasm" }
permissions = { allowed_hosts = ["https://api.example.com/v1"], env = ["HOME", "9LIVES"] }
config = { ratio = nan }

[tasks.model]
frontend = { extension = "ir", inputs = ["ir/[.json", "../../etc/*", "/etc/*"] }
"#,
    );
    assert_errors!(ws, ws.errors());
}

#[test]
fn not_allowed_in_included_files_or_members() {
    let ws = Workspace::new(&[
        (
            "morphir.toml",
            &BASE.replace(
                "name = \"demo\"",
                "name = \"demo\"\ninclude = [\"tasks/*.toml\"]\nmembers = [\"packages/*\"]",
            ),
        ),
        (
            "tasks/x.toml",
            "[project]\nname = \"x\"\n\n[cache]\ndir = \"c\"\n",
        ),
        (
            "packages/api/morphir.toml",
            "[project]\nmembers = [\"sub\"]\n\n[cache]\ndir = \"c\"\n",
        ),
    ]);
    assert_errors!(ws, ws.errors());
}

#[test]
fn bad_members() {
    let ws = Workspace::new(&[
        (
            "morphir.toml",
            &BASE.replace(
                "name = \"demo\"",
                "name = \"demo\"\nmembers = [\"packages/*\", \"libs/*\", \"missing\", \"../up\"]",
            ),
        ),
        ("packages/api/morphir.toml", ""),
        ("packages/Web/morphir.toml", ""),
        ("libs/api/morphir.toml", ""),
        ("libs/no-config/README.md", ""),
    ]);
    assert_errors!(ws, ws.errors());
}

/// All problems of a load come back together, sorted by file and position, without a cascade
/// of "unknown" errors for things a broken entry might have declared.
#[test]
fn all_errors_of_a_load_together() {
    let ws = Workspace::new(&[
        (
            "morphir.toml",
            &format!(
                "{}{}",
                BASE.replace(
                    "name = \"demo\"",
                    "name = \"demo\"\ninclude = [\"tasks/*.toml\"]"
                ),
                r#"
[[extensions]]
name = "broken"
source = { type = "wasm", path = "ext/ir.wasm", typo = 1 }

[tasks.uses-broken]
frontend = { extension = "broken" }
depends_on = ["half"]

[tasks.model]
frontend = { extension = "ir" }
backends = [{ extension = "ts", output = "out/ts" }]
cahce = false
"#
            ),
        ),
        (
            "tasks/more.toml",
            r#"
[tasks.half]
frontend = { extension = "ir", inputs = 1 }

[tasks.second]
frontend = { extension = "ir" }
backends = [{ extension = "tss", output = "out/ts" }]
"#,
        ),
    ]);
    assert_errors!(ws, ws.errors());
}

#[test]
fn a_file_with_syntax_errors_does_not_cascade() {
    let ws = Workspace::new(&[
        (
            "morphir.toml",
            &format!(
                "{}{}",
                BASE.replace(
                    "name = \"demo\"",
                    "name = \"demo\"\ninclude = [\"tasks/*.toml\"]"
                ),
                "\n[tasks.docs]\nfrontend = { extension = \"from-broken-file\" }\ndepends_on = [\"from-broken-file\"]\n"
            ),
        ),
        ("tasks/broken.toml", "[tasks.from-broken-file\n"),
    ]);
    assert_errors!(ws, ws.errors());
}

#[test]
fn unreadable_root_file() {
    let ws = Workspace::new(&[]);
    assert_errors!(ws, ws.errors());
}
