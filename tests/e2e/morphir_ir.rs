//! The Morphir IR extensions end to end (issue #4): the `morphir-ir` frontend, the `keep-modules`
//! and `strip-docs` transforms and the `json-schema` and `typescript` backends, through the real
//! `morphir` binary. Generated schemas are checked with a real validator (boon) and generated
//! TypeScript with the real compiler (`tsc --noEmit --strict`, installed with npm on first use).
//!
//! The real IR samples of `../shared/ir-samples/` (or `$MORPHIR_IR_SAMPLES`) are used when
//! present; the tests that need them say so and pass when they are absent.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use morphir_tests::{Project, guest, repo_root, stderr, steps_with};
use serde_json::{Value, json};

/// The five IR extensions, and echo (whose `files` mode writes a step's input to `echo.out`).
const EXTENSIONS: &str = r#"
[[extensions]]
name = "morphir-ir"
source = { type = "wasm", path = "{ir}" }

[[extensions]]
name = "keep-modules"
source = { type = "wasm", path = "{keep}" }

[[extensions]]
name = "strip-docs"
source = { type = "wasm", path = "{strip}" }

[[extensions]]
name = "json-schema"
source = { type = "wasm", path = "{schema}" }

[[extensions]]
name = "typescript"
source = { type = "wasm", path = "{ts}" }

[[extensions]]
name = "echo"
source = { type = "wasm", path = "{echo}" }
config = { mode = "files" }
"#;

fn project(tasks: &str) -> Project {
    let path = |name: &str| guest(name).display().to_string().replace('\\', "\\\\");
    let config = format!("[project]\nname = \"ir-test\"\n{EXTENSIONS}\n{tasks}")
        .replace("{ir}", &path("morphir-ir-frontend"))
        .replace("{keep}", &path("keep-modules"))
        .replace("{strip}", &path("strip-docs"))
        .replace("{schema}", &path("json-schema"))
        .replace("{ts}", &path("typescript"));
    Project::new(&config)
}

/// One of the repository's own IR fixtures (always present).
fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        repo_root()
            .join("crates/morphir-ir/tests/fixtures")
            .join(name),
    )
    .unwrap()
}

/// The real IR samples, or `None` with a message saying why the test does not use them.
fn samples_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("MORPHIR_IR_SAMPLES")
        .map_or_else(|| repo_root().join("../shared/ir-samples"), PathBuf::from);
    if dir.is_dir() {
        Some(dir)
    } else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: no real IR samples at {} (set MORPHIR_IR_SAMPLES to a directory of Morphir IR JSON files to run this test)",
            dir.display()
        );
        None
    }
}

fn files_under(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, suffix: &str, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, suffix, out);
            } else if path.to_string_lossy().ends_with(suffix) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, suffix, &mut out);
    out.sort();
    out
}

// ------------------------------------------------------------------------------------------------
// JSON Schema: every generated document is compiled (and so checked against the 2020-12
// metaschema) by boon; instances are validated against `file#/$defs/Type`.

struct Schemas {
    compiler: boon::Compiler,
    compiled: boon::Schemas,
    dir: PathBuf,
}

impl Schemas {
    /// Loads and compiles every `*.schema.json` under `dir`.
    fn load(dir: &Path) -> Self {
        let files = files_under(dir, ".schema.json");
        assert!(!files.is_empty(), "no schemas under {}", dir.display());
        let mut compiler = boon::Compiler::new();
        compiler.enable_format_assertions();
        for f in &files {
            let doc: Value = serde_json::from_slice(&std::fs::read(f).unwrap())
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", f.display()));
            assert_eq!(
                doc["$schema"],
                "https://json-schema.org/draft/2020-12/schema",
                "{}",
                f.display()
            );
            compiler
                .add_resource(&f.display().to_string(), doc)
                .unwrap();
        }
        let mut schemas = boon::Schemas::new();
        for f in &files {
            compiler
                .compile(&f.display().to_string(), &mut schemas)
                .unwrap_or_else(|e| panic!("{} is not a valid schema: {e:#}", f.display()));
        }
        Self {
            compiler,
            compiled: schemas,
            dir: dir.to_owned(),
        }
    }

    /// Whether `instance` is valid against type `name` of schema file `file`.
    fn valid(&mut self, file: &str, name: &str, instance: &Value) -> bool {
        let loc = format!("{}#/$defs/{name}", self.dir.join(file).display());
        let index = self
            .compiler
            .compile(&loc, &mut self.compiled)
            .unwrap_or_else(|e| panic!("{loc}: {e:#}"));
        self.compiled.validate(instance, index).is_ok()
    }
}

// ------------------------------------------------------------------------------------------------
// TypeScript: `tsc` from `npm install typescript@5`, once per target directory.

/// The TypeScript compiler's entry point, installed on first use into `<target>/ts-tools`.
/// Concurrency-safe: each process installs into a directory of its own and renames it into
/// place; a process that loses the race uses the winner's.
fn tsc() -> &'static Path {
    static TSC: OnceLock<PathBuf> = OnceLock::new();
    TSC.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        // <target>/<profile>/deps/e2e-<hash>
        let target = exe.ancestors().nth(3).expect("target dir").to_owned();
        let tools = target.join("ts-tools");
        let entry = |dir: &Path| dir.join("node_modules/typescript/bin/tsc");
        if entry(&tools).is_file() {
            return entry(&tools);
        }
        for tool in ["node", "npm"] {
            let ok = Command::new(tool)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success());
            assert!(
                ok,
                "`{tool}` is needed to check the generated TypeScript (node 18+ and npm); install Node.js"
            );
        }
        let tmp = target.join(format!(
            "ts-tools.tmp-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::write(tmp.join("package.json"), "{\"private\": true}\n").unwrap();
        let out = Command::new("npm")
            .current_dir(&tmp)
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "typescript@5",
            ])
            .output()
            .expect("run npm");
        assert!(
            out.status.success(),
            "npm install typescript@5 failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if std::fs::rename(&tmp, &tools).is_err() {
            // Another test process installed it first.
            let _ = std::fs::remove_dir_all(&tmp);
        }
        assert!(entry(&tools).is_file(), "no tsc in {}", tools.display());
        entry(&tools)
    })
}

/// Compiles `files` with `tsc --noEmit --strict`; panics with the compiler's output on errors.
fn compile_typescript(dir: &Path, files: &[PathBuf]) {
    assert!(!files.is_empty(), "no TypeScript under {}", dir.display());
    let out = Command::new("node")
        .current_dir(dir)
        .arg(tsc())
        .args([
            "--noEmit",
            "--strict",
            "--target",
            "es2020",
            "--module",
            "esnext",
            "--moduleResolution",
            "bundler",
        ])
        .args(files)
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "tsc found errors:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ------------------------------------------------------------------------------------------------
// The example project (examples/morphir-ir), as the README's main command builds it.

/// The example's steps, sorted.
const EXAMPLE_STEPS: [&str; 9] = [
    "app:backend:json-schema",
    "app:backend:typescript",
    "app:frontend",
    "app:transform[0]:keep-modules",
    "app:transform[1]:strip-docs",
    "core:backend:json-schema",
    "core:backend:typescript",
    "core:frontend",
    "core:transform[0]:strip-docs",
];

/// A copy of `examples/morphir-ir` whose configuration points at the built guests and uses a
/// cache of its own.
fn example_project() -> Project {
    let root = repo_root();
    let example = root.join("examples/morphir-ir");
    let dist = guest("morphir-ir-frontend")
        .parent()
        .unwrap()
        .display()
        .to_string()
        .replace('\\', "\\\\");
    let config = std::fs::read_to_string(example.join("morphir.toml"))
        .unwrap()
        .replace("../../extensions/dist", &dist)
        .replace("[cache]\ndir = \"../../cache\"\n", "");
    let p = Project::new(&config);
    for f in files_under(&example.join("ir"), ".json") {
        let rel = f.strip_prefix(&example).unwrap().display().to_string();
        p.write(&rel, &std::fs::read_to_string(&f).unwrap());
    }
    p
}

/// A Morphir value of a type, as JSON: whether it is one, and whether TypeScript can tell when
/// it is not (some constraints, a date's format or a char's length, only the schema checks).
struct Sample {
    file: &'static str,
    module: &'static str,
    name: &'static str,
    json: Value,
    valid: bool,
    ts_catches: bool,
}

fn sample(file: &'static str, name: &'static str, json: Value, valid: bool, ts: bool) -> Sample {
    let module = file.trim_end_matches(".schema.json");
    Sample {
        file,
        module,
        name,
        json,
        valid,
        ts_catches: ts,
    }
}

#[expect(clippy::too_many_lines, reason = "a table of samples")]
fn example_samples() -> Vec<Sample> {
    const MONEY: &str = "Shop.Core.Money.schema.json";
    const CAL: &str = "Shop.Core.Calendar.schema.json";
    const CUST: &str = "Shop.App.Customers.schema.json";
    const ORDERS: &str = "Shop.App.Orders.schema.json";
    let amount = json!({"value": "12.50", "currency": "EUR"});
    let order = json!({
        "id": "o-1",
        "customer": "c-1",
        "lines": [{"sku": "tea", "quantity": 2, "price": {"value": "3.20", "currency": "GBP"}}],
        "status": ["Shipped", "2024-03-01", "DHL"],
        "notes": [["gift", "yes"]],
        "check": ["Ok", {"value": "6.40", "currency": "GBP"}],
        "placed": ["2024-02-29", "13:45:00"]
    });
    let with = |base: &Value, key: &str, v: Value| {
        let mut o = base.clone();
        o[key] = v;
        o
    };
    vec![
        sample(MONEY, "Amount", amount.clone(), true, true),
        sample(
            MONEY,
            "Amount",
            with(&amount, "value", json!(12.5)),
            false,
            true,
        ),
        sample(
            MONEY,
            "Amount",
            with(&amount, "currency", json!("JPY")),
            false,
            true,
        ),
        sample(
            MONEY,
            "Amount",
            with(&amount, "value", json!("1.2.3")),
            false,
            false,
        ),
        sample(MONEY, "Amount", json!({"value": "1"}), false, true),
        sample(
            MONEY,
            "Amount",
            with(&amount, "extra", json!(1)),
            false,
            true,
        ),
        sample(MONEY, "Currency", json!("USD"), true, true),
        sample(MONEY, "Currency", json!(["USD"]), false, true),
        sample(
            CAL,
            "OpeningHours",
            json!({"day": "2024-01-01", "opens": "09:00", "closes": "17:30:00", "season": "January"}),
            true,
            true,
        ),
        sample(
            CAL,
            "OpeningHours",
            json!({"day": "2024-01-01", "opens": "09:00", "closes": "17:30:00", "season": "Jan"}),
            false,
            true,
        ),
        sample(
            CAL,
            "OpeningHours",
            json!({"day": "1 Jan 2024", "opens": "09:00", "closes": "17:30", "season": "May"}),
            false,
            false,
        ),
        sample(CAL, "Closure", json!("BankHoliday"), true, true),
        sample(
            CAL,
            "Closure",
            json!(["StockTake", "2024-01-02"]),
            true,
            true,
        ),
        sample(CAL, "Closure", json!(["Other", "flood", 3]), true, true),
        sample(CAL, "Closure", json!(["Other", "flood"]), false, true),
        sample(
            CUST,
            "Customer",
            json!({"id": "c-1", "name": "Ada", "email": null, "tags": ["vip"], "vip": true, "initial": "A", "score": 1.5}),
            true,
            true,
        ),
        sample(
            CUST,
            "Customer",
            json!({"id": "c-1", "name": "Ada", "email": "ada@example.com", "tags": [], "vip": false, "initial": "AB", "score": 2}),
            false,
            false,
        ),
        sample(
            CUST,
            "Customer",
            json!({"id": "c-1", "name": "Ada", "tags": [], "vip": false, "initial": "A", "score": 2}),
            false,
            true,
        ),
        sample(ORDERS, "Order", order.clone(), true, true),
        sample(
            ORDERS,
            "Order",
            with(&order, "status", json!("Open")),
            true,
            true,
        ),
        sample(
            ORDERS,
            "Order",
            with(&order, "status", json!("Lost")),
            false,
            true,
        ),
        sample(
            ORDERS,
            "Order",
            with(&order, "status", json!(["Paid"])),
            false,
            true,
        ),
        sample(
            ORDERS,
            "Order",
            with(&order, "check", json!(["Err", "too late"])),
            true,
            true,
        ),
        sample(
            ORDERS,
            "Order",
            with(&order, "check", json!(["Maybe", 1])),
            false,
            true,
        ),
        sample(
            ORDERS,
            "Order",
            with(
                &order,
                "lines",
                json!([{"sku": "tea", "quantity": 1.5, "price": {"value": "1", "currency": "EUR"}}]),
            ),
            false,
            false,
        ),
        sample(
            ORDERS,
            "Order",
            with(&order, "placed", json!(["29/02/2024", "13:45"])),
            false,
            false,
        ),
        sample(
            ORDERS,
            "Status",
            json!(["Paid", {"value": "1.00", "currency": "USD"}]),
            true,
            true,
        ),
        sample(ORDERS, "Status", json!(["Cancelled"]), false, true),
        sample(
            ORDERS,
            "OrderPage",
            json!({"items": [order.clone()], "total": 1, "next": null}),
            true,
            true,
        ),
        sample(
            ORDERS,
            "OrderPage",
            json!({"items": [{"id": 1}], "total": 1, "next": 2}),
            false,
            true,
        ),
    ]
}

/// A TypeScript file that uses the generated types with the same samples: valid ones must
/// type-check, invalid ones that TypeScript can see must not (`@ts-expect-error`).
fn usage_file(samples: &[&Sample], ts_dir_of: impl Fn(&str) -> String) -> String {
    let mut imports: BTreeMap<&str, String> = BTreeMap::new();
    let mut body = String::new();
    for (i, s) in samples.iter().enumerate() {
        let alias = format!("M_{}", s.module.replace('.', "_"));
        imports.insert(s.module, alias.clone());
        if s.valid {
            let _ = writeln!(body, "export const ok{i}: {alias}.{} = {};", s.name, s.json);
        } else if s.ts_catches {
            let _ = writeln!(
                body,
                "// @ts-expect-error: not a {}\nexport const bad{i}: {alias}.{} = {};",
                s.name, s.name, s.json
            );
        }
    }
    let mut text = String::new();
    for (module, alias) in imports {
        let _ = writeln!(
            text,
            "import type * as {alias} from \"{}\";",
            ts_dir_of(module)
        );
    }
    text.push_str(&body);
    text
}

#[test]
fn the_example_project_builds_into_valid_schemas_and_compiling_typescript() {
    let p = example_project();
    let (out, summary) = p.build_json(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut executed = steps_with(&summary, "executed");
    executed.sort();
    assert_eq!(executed, EXAMPLE_STEPS);

    // app's outputs hold its kept modules and the core modules its types use, not `Internal`.
    let schemas: Vec<String> = p
        .tree("out/app/json-schema")
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| name.starts_with("schemas/"))
        .collect();
    assert_eq!(
        schemas,
        [
            "schemas/Shop.App.Customers.schema.json",
            "schemas/Shop.App.Orders.schema.json",
            "schemas/Shop.Core.Money.schema.json",
            "schemas/Shop.Core.Paging.schema.json",
        ]
    );
    let order_schema = p.read("out/app/json-schema/schemas/Shop.App.Orders.schema.json");
    assert!(
        !order_schema.contains("An order.") && order_schema.contains("\"title\": \"Order\""),
        "strip-docs ran before the backend: {order_schema}"
    );
    assert!(
        p.read("out/core/typescript/Shop/Core/Money.ts")
            .contains("export type Currency =\n  \"EUR\"\n  | \"GBP\"\n  | \"USD\";")
    );

    // In each task's output: every schema is valid; the samples of the modules it holds validate
    // exactly when they are Morphir values; its TypeScript compiles with a file that uses it
    // with the same samples.
    let samples = example_samples();
    let mut checked = 0;
    for task in ["app", "core"] {
        let dir = p.path().join(format!("out/{task}/json-schema/schemas"));
        let mut schemas = Schemas::load(&dir);
        let here: Vec<&Sample> = samples
            .iter()
            .filter(|s| dir.join(s.file).is_file())
            .collect();
        for s in &here {
            assert_eq!(
                schemas.valid(s.file, s.name, &s.json),
                s.valid,
                "{task}: {} {} {}",
                s.file,
                s.name,
                s.json
            );
            checked += 1;
        }
        let ts = p.path().join(format!("out/{task}/typescript"));
        let usage = usage_file(&here, |module| format!("./{}", module.replace('.', "/")));
        std::fs::write(ts.join("usage.ts"), usage).unwrap();
        compile_typescript(&ts, &files_under(&ts, ".ts"));
        std::fs::remove_file(ts.join("usage.ts")).unwrap();
    }
    assert!(checked > samples.len(), "every sample was checked");

    // A second build runs nothing and leaves identical outputs.
    let first = p.tree("out");
    let (out, summary) = p.build_json(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(steps_with(&summary, "executed"), Vec::<String>::new());
    assert_eq!(p.tree("out"), first);
}

#[test]
fn keep_modules_names_the_modules_that_exist_when_one_does_not() {
    let p = example_project();
    let config = p
        .read("morphir.toml")
        .replace("\"Shop.App.Orders\"", "\"Shop.App.Order\"");
    p.write("morphir.toml", &config);
    let out = p.morphir(&["build"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("unknown module `Shop.App.Order`; the IR has: Shop.App.Customers, Shop.App.Internal, Shop.App.Orders (at $.modules[1]) [unknown-name]"),
        "{err}"
    );
}

// ------------------------------------------------------------------------------------------------
// Normalisation: different encodings of one model give byte-identical canonical IR.

/// Canonical IR of each file (frontend, optionally strip-docs, then echo writes it out).
fn canonical_outputs(files: &[(&str, String)], strip: bool) -> Vec<Vec<u8>> {
    let mut tasks = String::new();
    for (i, (name, _)) in files.iter().enumerate() {
        let transforms = if strip {
            "[{ extension = \"strip-docs\" }]"
        } else {
            "[]"
        };
        let _ = writeln!(
            tasks,
            "[tasks.t{i}]\nfrontend = {{ extension = \"morphir-ir\", inputs = [\"ir/{name}\"] }}\ntransforms = {transforms}\nbackends = [{{ extension = \"echo\", output = \"out/t{i}\" }}]\n"
        );
    }
    let p = project(&tasks);
    for (name, text) in files {
        p.write(&format!("ir/{name}"), text);
    }
    let out = p.morphir(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    (0..files.len())
        .map(|i| std::fs::read(p.path().join(format!("out/t{i}/echo.out"))).unwrap())
        .collect()
}

#[test]
fn the_three_classic_encodings_of_one_model_give_identical_canonical_ir() {
    let outputs = canonical_outputs(
        &[
            ("v1.json", fixture("shop_v1.json")),
            ("v2.json", fixture("shop_v2.json")),
            ("v3.json", fixture("shop_v3.json")),
        ],
        true,
    );
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[1], outputs[2]);
    let ir: Value = serde_json::from_slice(&outputs[0]).unwrap();
    assert_eq!(ir["format"], "morphir-ir-canonical");
    assert!(ir["packages"]["my/shop"]["modules"]["orders"]["types"]["order-i-d"].is_object());
}

#[test]
fn real_v1_and_v2_samples_canonicalise_to_identical_bytes() {
    let Some(dir) = samples_dir() else { return };
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let (v1, v2) = (read("real_v1.json"), read("real_v2.json"));
    assert_ne!(v1, v2, "two encodings");
    let outputs = canonical_outputs(&[("real_v1.json", v1), ("real_v2.json", v2)], false);
    assert_eq!(outputs[0], outputs[1]);
    assert!(
        String::from_utf8_lossy(&outputs[0]).contains("\"morphir/example/app\""),
        "the rentals app"
    );
}

// ------------------------------------------------------------------------------------------------
// Errors

const ONE_TASK: &str = r#"
[tasks.m]
frontend = { extension = "morphir-ir", inputs = ["ir/*.json"] }
transforms = [{ extension = "strip-docs" }]
backends = [
  { extension = "json-schema", output = "out/json-schema" },
  { extension = "typescript", output = "out/typescript" },
]
"#;

fn build_error(bad: &str) -> String {
    let p = project(ONE_TASK);
    p.write("ir/bad.json", bad);
    let out = p.morphir(&["build"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    stderr(&out)
}

#[test]
fn bad_ir_fails_the_build_with_the_file_and_the_json_path() {
    let v3 = fixture("shop_v3.json");

    let err = build_error(&v3.replacen("\"Reference\"", "\"Refrence\"", 1));
    assert!(
        err.contains("extension `morphir-ir`, operation `frontend-compile`: ir/bad.json: unknown type tag \"Refrence\"; expected one of Variable, Reference, Tuple, Record, ExtensibleRecord, Function, Unit (at $.distribution[3].modules[0][1].value.types[1][1].value.value[2][2][0].tpe) [invalid-ir]"),
        "{err}"
    );

    let err = build_error(r#"{"formatVersion": 3, "distribution": ["Library", [["a"]], []]}"#);
    assert!(
        err.contains("ir/bad.json: expected a distribution [\"Library\", package, dependencies, definition]: an array of 4 elements, found 3 (at $.distribution)"),
        "{err}"
    );

    let err = build_error(&v3[..v3.len() / 2]);
    assert!(
        err.contains("ir/bad.json: the JSON ends early (truncated file?)"),
        "{err}"
    );
    assert!(
        err.contains("(at $.distribution[3].modules[1][1].value"),
        "{err}"
    );
}

// ------------------------------------------------------------------------------------------------
// Early cutoff

#[test]
fn a_docs_only_change_leaves_the_backends_after_strip_docs_cached() {
    let p = project(ONE_TASK);
    let v3 = fixture("shop_v3.json");
    assert!(v3.contains("The quantity of a line."));
    p.write("ir/shop.json", &v3);
    let (out, summary) = p.build_json(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(steps_with(&summary, "executed").len(), 4);
    let first = p.tree("out");

    p.write(
        "ir/shop.json",
        &v3.replace("The quantity of a line.", "How many items the line has."),
    );
    let (out, summary) = p.build_json(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        steps_with(&summary, "executed"),
        ["m:frontend", "m:transform[0]:strip-docs"]
    );
    assert_eq!(
        steps_with(&summary, "cached"),
        ["m:backend:json-schema", "m:backend:typescript"]
    );
    assert_eq!(p.tree("out"), first);

    // A change to a type does reach the backends.
    p.write(
        "ir/shop.json",
        &v3.replace("[\"sku\"]", "[\"stock\",\"code\"]"),
    );
    let (_, summary) = p.build_json(&[]);
    assert_eq!(steps_with(&summary, "executed").len(), 4);
    assert!(
        p.read("out/typescript/My/Shop/Orders.ts")
            .contains("stockCode: string")
    );
}

// ------------------------------------------------------------------------------------------------
// Every real sample through the whole pipeline

#[test]
fn every_real_sample_goes_through_the_full_pipeline() {
    let Some(dir) = samples_dir() else { return };
    let mut tasks = String::new();
    let mut names = Vec::new();
    let mut not_distributions = Vec::new();
    for f in files_under(&dir, ".json") {
        let text = std::fs::read_to_string(&f).unwrap();
        let stem = f.file_stem().unwrap().to_string_lossy().into_owned();
        let doc: Value = serde_json::from_str(&text).unwrap();
        if doc.get("distribution").is_none() {
            // v4-literal-examples.json holds literal fragments, not a distribution: the frontend
            // must refuse it clearly (checked below), not pass it through.
            not_distributions.push((stem, text));
            continue;
        }
        let task: String = stem
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let _ = writeln!(
            tasks,
            "[tasks.{task}]\nfrontend = {{ extension = \"morphir-ir\", inputs = [\"ir/{stem}.json\"] }}\ntransforms = [{{ extension = \"strip-docs\" }}]\nbackends = [\n  {{ extension = \"json-schema\", output = \"out/{task}/json-schema\" }},\n  {{ extension = \"typescript\", output = \"out/{task}/typescript\" }},\n]\n"
        );
        names.push((task, stem, text));
    }
    assert!(!names.is_empty(), "no samples in {}", dir.display());
    let p = project(&tasks);
    for (_, stem, text) in &names {
        p.write(&format!("ir/{stem}.json"), text);
    }
    let (out, summary) = p.build_json(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(steps_with(&summary, "failed"), Vec::<String>::new());

    let mut all_ts = Vec::new();
    for (task, _, _) in &names {
        let schemas = p.path().join(format!("out/{task}/json-schema/schemas"));
        Schemas::load(&schemas);
        all_ts.extend(files_under(
            &p.path().join(format!("out/{task}/typescript")),
            ".ts",
        ));
    }
    compile_typescript(p.path(), &all_ts);

    for (stem, text) in not_distributions {
        let err = build_error(&text);
        assert!(
            err.contains("ir/bad.json: not a Morphir IR document"),
            "{stem}: {err}"
        );
    }
}
