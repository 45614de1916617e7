//! Graph construction at scale: loading a generated `morphir.toml` of 1,000 and 10,000 steps
//! (`Config::load_with`, without the extension-file check) and building its step graph
//! (`StepGraph::build`), then walking it with a `ReadySet` the way the scheduler does, and `to_json` (`morphir graph
//! --format json`).
//!
//! The workspaces have the shape of `bench/gen.py`'s (STEPS / 4 tasks of frontend, two
//! transforms and a backend; `depends_on` chains of ten tasks), so these figures sit beside the
//! whole-process ones of `bench/run`. Run with `cargo bench -p morphir-graph`.

use std::fmt::Write as _;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use morphir_config::{Config, LoadOptions};
use morphir_graph::StepGraph;

const SIZES: [usize; 2] = [1_000, 10_000];

/// The `morphir.toml` of a `steps`-step workspace (see `bench/gen.py`, which this mirrors).
fn workspace_toml(steps: usize) -> String {
    let mut toml = String::from(
        "[project]\nname = \"bench\"\n\n[[extensions]]\nname = \"echo\"\n\
         source = { type = \"wasm\", path = \"echo.wasm\" }\n\n",
    );
    let tasks = steps.div_ceil(4);
    for i in 0..tasks {
        let n = (steps - 4 * i).min(4);
        writeln!(toml, "[tasks.p{i:05}]").unwrap();
        writeln!(
            toml,
            "frontend = {{ extension = \"echo\", inputs = [\"src/p{i:05}/*.txt\"] }}"
        )
        .unwrap();
        let transforms = (n - 1).min(2);
        if transforms > 0 {
            let list = vec!["{ extension = \"echo\" }"; transforms].join(", ");
            writeln!(toml, "transforms = [{list}]").unwrap();
        }
        if n == 4 {
            writeln!(
                toml,
                "backends = [{{ extension = \"echo\", output = \"out/p{i:05}\", config = {{ mode = \"files\" }} }}]"
            )
            .unwrap();
        }
        if i % 10 != 0 {
            writeln!(toml, "depends_on = [\"p{:05}\"]", i - 1).unwrap();
        }
        toml.push('\n');
    }
    toml
}

fn load(file: &Path) -> Config {
    Config::load_with(file, LoadOptions { check_files: false }).expect("generated config loads")
}

fn graph(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("graph");
    group.sample_size(20);
    for steps in SIZES {
        let file = dir.path().join(format!("{steps}/morphir.toml"));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, workspace_toml(steps)).unwrap();
        let config = load(&file);
        let built = StepGraph::build(&config).unwrap();
        assert_eq!(
            built.len(),
            steps,
            "the generated workspace has {steps} steps"
        );
        group.throughput(Throughput::Elements(steps as u64));

        group.bench_with_input(BenchmarkId::new("config-load", steps), &file, |b, file| {
            b.iter(|| load(file));
        });
        group.bench_with_input(BenchmarkId::new("build", steps), &config, |b, config| {
            b.iter(|| StepGraph::build(config).unwrap());
        });
        group.bench_with_input(
            BenchmarkId::new("ready-set-walk", steps),
            &built,
            |b, graph| {
                b.iter(|| {
                    let mut ready = graph.ready_set();
                    let mut done = 0;
                    while let Some(step) = ready.pop() {
                        ready.complete(step);
                        done += 1;
                    }
                    assert_eq!(done, steps);
                });
            },
        );
        group.bench_with_input(BenchmarkId::new("to-json", steps), &built, |b, graph| {
            b.iter(|| graph.to_json());
        });
    }
    group.finish();
}

criterion_group!(benches, graph);
criterion_main!(benches);
