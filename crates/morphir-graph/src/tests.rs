//! Unit tests on configurations built in memory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use morphir_config::{
    Backend, CacheConfig, Config, Dependency, ExtensionRef, Frontend, Location, Project, Task,
};
use serde_json::json;

use crate::{GraphError, StepGraph, StepIndex, StepKind, StepState};

/// `(name, transforms, backends, depends_on)`.
type Spec<'a> = (&'a str, &'a [&'a str], &'a [&'a str], &'a [&'a str]);

fn location(line: usize, column: usize) -> Location {
    Location {
        file: Arc::from(Path::new("morphir.toml")),
        line,
        column,
        span: 0..0,
    }
}

fn ext(name: &str, line: usize) -> ExtensionRef {
    ExtensionRef {
        name: name.to_owned(),
        config: json!({}),
        location: location(line, 1),
    }
}

fn config(specs: &[Spec<'_>]) -> Config {
    let tasks = specs
        .iter()
        .enumerate()
        .map(|(line, &(name, transforms, backends, depends_on))| {
            let task = Task {
                name: name.to_owned(),
                member: name.split_once('/').map(|(m, _)| m.to_owned()),
                dir: PathBuf::new(),
                description: None,
                frontend: Frontend {
                    extension: ext("ir", line),
                    inputs: Vec::new(),
                },
                transforms: transforms.iter().map(|t| ext(t, line)).collect(),
                backends: backends
                    .iter()
                    .map(|b| Backend {
                        extension: ext(b, line),
                        output: PathBuf::from(format!("out/{name}/{b}")),
                        output_dir: PathBuf::from(format!("out/{name}/{b}")),
                        output_location: location(line, 2),
                    })
                    .collect(),
                depends_on: depends_on
                    .iter()
                    .enumerate()
                    .map(|(i, d)| Dependency {
                        task: (*d).to_owned(),
                        location: location(line + 1, 15 + 10 * i),
                    })
                    .collect(),
                env: Vec::new(),
                cache: true,
                cache_http: false,
                location: location(line + 1, 8),
            };
            (name.to_owned(), task)
        })
        .collect();
    Config {
        file: PathBuf::from("morphir.toml"),
        root: PathBuf::new(),
        project: Project {
            name: "test".to_owned(),
            description: None,
        },
        cache: CacheConfig {
            dir: PathBuf::from("cache"),
            max_size: None,
            remote: None,
        },
        members: Vec::new(),
        extensions: BTreeMap::new(),
        tasks,
        files: Vec::new(),
    }
}

fn ids(graph: &StepGraph, steps: &[StepIndex]) -> Vec<String> {
    steps.iter().map(|&s| graph[s].id.clone()).collect()
}

fn id(graph: &StepGraph, id: &str) -> StepIndex {
    graph.find(id).unwrap_or_else(|| panic!("no step {id}"))
}

#[test]
fn a_task_is_a_chain_then_a_fan_out() {
    let graph = StepGraph::build(&config(&[(
        "model",
        &["strip-docs", "strip-docs"],
        &["json-schema", "typescript"],
        &[],
    )]))
    .unwrap();
    assert_eq!(
        ids(&graph, graph.task_steps("model").unwrap()),
        [
            "model:frontend",
            "model:transform[0]:strip-docs",
            "model:transform[1]:strip-docs",
            "model:backend:json-schema",
            "model:backend:typescript",
        ]
    );
    let last = id(&graph, "model:transform[1]:strip-docs");
    assert_eq!(graph.final_ir("model"), Some(last));
    assert_eq!(
        ids(&graph, &graph.dependents(last)),
        ["model:backend:json-schema", "model:backend:typescript"]
    );
    assert_eq!(ids(&graph, &graph.roots()), ["model:frontend"]);
    let backend = id(&graph, "model:backend:typescript");
    assert_eq!(graph[backend].kind, StepKind::Backend(1));
    assert_eq!(
        graph[backend].output.as_deref(),
        Some(Path::new("out/model/typescript"))
    );
    assert_eq!(graph.transitive_dependencies(backend).len(), 3);
}

#[test]
fn depends_on_links_the_final_ir_to_the_downstream_frontend() {
    let graph = StepGraph::build(&config(&[
        ("a", &[], &["ts"], &[]),
        ("b", &["t"], &[], &["a"]),
        ("c", &[], &["ts"], &["a", "b"]),
    ]))
    .unwrap();
    assert_eq!(
        ids(&graph, &graph.dependencies(id(&graph, "c:frontend"))),
        ["a:frontend", "b:transform[0]:t"]
    );
    assert_eq!(
        ids(
            &graph,
            &graph.transitive_dependents(id(&graph, "a:frontend"))
        ),
        [
            "a:backend:ts",
            "b:frontend",
            "b:transform[0]:t",
            "c:frontend",
            "c:backend:ts"
        ]
    );
    let order = graph.topo_order();
    assert_eq!(order.len(), graph.len());
    let position = |s: StepIndex| order.iter().position(|&o| o == s).unwrap();
    for (from, to, _) in graph.edges() {
        assert!(position(from) < position(to));
    }
}

#[test]
fn cycles_are_named_in_order_with_locations() {
    let error = StepGraph::build(&config(&[
        ("a", &[], &[], &["b"]),
        ("b", &["t"], &[], &["c"]),
        ("c", &[], &[], &["a"]),
        ("self", &[], &[], &["self"]),
        ("x", &[], &[], &["y"]),
        ("y", &[], &[], &["x"]),
        ("ok", &[], &[], &["a"]),
    ]))
    .unwrap_err();
    let GraphError::Cycles(cycles) = &error else {
        panic!("{error}")
    };
    let names: Vec<Vec<&str>> = cycles
        .iter()
        .map(|c| c.tasks.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(names, [vec!["a", "b", "c"], vec!["self"], vec!["x", "y"]]);
    assert_eq!(cycles[0].links[2].task, "c");
    assert_eq!(cycles[0].links[2].depends_on, "a");
    assert_eq!(cycles[0].links[2].location, location(3, 15));
    let message = error.to_string();
    assert!(message.starts_with("3 dependency cycles:\ndependency cycle: a -> b -> c -> a\n"));
    assert!(
        message.contains(
            "dependency cycle: self -> self\n  morphir.toml:4:15: `self` depends on `self`"
        )
    );
}

#[test]
fn tangled_cycles_list_the_other_members() {
    // a <-> b and b <-> c: one component, shortest cycle through `a` is a -> b -> a.
    let error = StepGraph::build(&config(&[
        ("a", &[], &[], &["b"]),
        ("b", &[], &[], &["a", "c"]),
        ("c", &[], &[], &["b"]),
    ]))
    .unwrap_err();
    let GraphError::Cycles(cycles) = &error else {
        panic!("{error}")
    };
    assert_eq!(cycles.len(), 1);
    assert_eq!(cycles[0].tasks, ["a", "b"]);
    assert_eq!(cycles[0].also_involved, ["c"]);
}

#[test]
fn unknown_dependencies_of_hand_built_configs_are_errors() {
    let error = StepGraph::build(&config(&[("a", &[], &[], &["ghost"])])).unwrap_err();
    assert_eq!(
        error.to_string(),
        "morphir.toml:1:15: task `a` depends on unknown task `ghost`"
    );
}

#[test]
fn duplicate_step_ids_of_hand_built_configs_are_errors() {
    let error = StepGraph::build(&config(&[("a", &[], &["ts", "ts"], &[])])).unwrap_err();
    assert!(matches!(error, GraphError::DuplicateStep { ref id, .. } if id == "a:backend:ts"));
}

#[test]
fn subgraph_selects_targets_and_their_dependencies() {
    let graph = StepGraph::build(&config(&[
        ("base", &[], &["ts"], &[]),
        ("api-docs", &[], &["ts"], &["model"]),
        ("model", &["t"], &[], &["base"]),
        ("other", &[], &["ts"], &[]),
        ("web/model", &[], &["ts"], &["base"]),
        ("app/model", &[], &["ts"], &[]),
    ]))
    .unwrap();
    let sub = graph.subgraph_for(&["api-docs"]).unwrap();
    assert_eq!(
        sub.tasks().collect::<Vec<_>>(),
        ["api-docs", "base", "model"]
    );
    assert_eq!(sub.len(), 6);
    // Indices are renumbered but ids and edges survive.
    let frontend = sub.find("api-docs:frontend").unwrap();
    assert_eq!(
        ids(&sub, &sub.dependencies(frontend)),
        ["model:transform[0]:t"]
    );
    assert_eq!(sub.final_ir("model"), sub.find("model:transform[0]:t"));
    assert_eq!(sub.topo_order().len(), 6);

    // A root task wins over members; members are selected when there is no root task.
    let sub = graph.subgraph_for(&["model"]).unwrap();
    assert_eq!(sub.tasks().collect::<Vec<_>>(), ["base", "model"]);
    let graph = StepGraph::build(&config(&[
        ("base", &[], &["ts"], &[]),
        ("web/docs", &[], &["ts"], &["base"]),
        ("app/docs", &[], &["ts"], &[]),
    ]))
    .unwrap();
    let sub = graph.subgraph_for(&["docs"]).unwrap();
    assert_eq!(
        sub.tasks().collect::<Vec<_>>(),
        ["app/docs", "base", "web/docs"]
    );

    let error = graph.subgraph_for(&["web/dosc"]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown task `web/dosc`; did you mean `web/docs`?"
    );
    let error = graph.subgraph_for(&["zzz"]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown task `zzz`; the tasks are: app/docs, base, web/docs"
    );
}

#[test]
fn ready_set_follows_completion_and_skips_after_failure() {
    let graph = StepGraph::build(&config(&[
        ("a", &["t"], &["x", "y"], &[]),
        ("b", &[], &["z"], &["a"]),
        ("c", &[], &["z"], &[]),
    ]))
    .unwrap();
    let mut ready = graph.ready_set();
    assert_eq!(
        ids(&graph, &ready.ready().collect::<Vec<_>>()),
        ["a:frontend", "c:frontend"]
    );
    let a = ready.pop().unwrap();
    assert_eq!(graph[a].id, "a:frontend");
    assert_eq!(ready.state(a), StepState::Running);
    assert_eq!(ready.running(), 1);
    assert_eq!(ids(&graph, &ready.complete(a)), ["a:transform[0]:t"]);
    assert!(
        ready.complete(a).is_empty(),
        "completing twice does nothing"
    );
    let t = ready.pop().unwrap();
    let newly = ready.complete(t);
    assert_eq!(
        ids(&graph, &newly),
        ["a:backend:x", "a:backend:y", "b:frontend"]
    );
    // b's frontend fails: its backend is skipped; everything else goes on.
    let b = id(&graph, "b:frontend");
    assert_eq!(ids(&graph, &ready.fail(b)), ["b:backend:z"]);
    assert_eq!(ready.state(id(&graph, "b:backend:z")), StepState::Skipped);
    let mut done = Vec::new();
    while let Some(step) = ready.pop() {
        done.push(graph[step].id.clone());
        ready.complete(step);
    }
    assert_eq!(
        done,
        ["a:backend:x", "a:backend:y", "c:frontend", "c:backend:z"]
    );
    assert!(ready.is_finished());
}

/// 2,500 tasks of 4 steps in a chain: 10,000 steps. Checks shape, not time.
#[test]
fn ten_thousand_steps() {
    let names: Vec<String> = (0..2500).map(|i| format!("t{i:04}")).collect();
    let deps: Vec<[&str; 1]> = names.iter().map(|n| [n.as_str()]).collect();
    let specs: Vec<Spec<'_>> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let depends_on: &[&str] = if i == 0 { &[] } else { &deps[i - 1] };
            (name.as_str(), &["t1", "t2"][..], &["ts"][..], depends_on)
        })
        .collect();
    let config = config(&specs);
    let graph = StepGraph::build(&config).unwrap();
    assert_eq!(graph.len(), 10_000);
    assert_eq!(graph.edges().len(), 2500 * 3 + 2499);
    assert_eq!(ids(&graph, &graph.roots()), ["t0000:frontend"]);
    let last = id(&graph, "t2499:frontend");
    assert_eq!(graph.transitive_dependencies(last).len(), 2499 * 3);
    assert_eq!(
        graph
            .transitive_dependents(id(&graph, "t0000:frontend"))
            .len(),
        9_999
    );
    let order = graph.topo_order();
    assert_eq!(order.len(), 10_000);
    assert_eq!(graph[order[0]].id, "t0000:frontend");
    assert_eq!(graph[order[9_999]].id, "t2499:backend:ts");
    let sub = graph.subgraph_for(&["t0100"]).unwrap();
    assert_eq!(sub.len(), 101 * 4);

    let mut ready = graph.ready_set();
    let mut count = 0;
    while let Some(step) = ready.pop() {
        count += 1;
        ready.complete(step);
    }
    assert_eq!(count, 10_000);
}

/// A ring of 1,000 tasks is one cycle naming all of them in order.
#[test]
fn a_thousand_task_cycle() {
    let names: Vec<String> = (0..1000).map(|i| format!("n{i:03}")).collect();
    let deps: Vec<[&str; 1]> = (0..1000)
        .map(|i| [names[(i + 1) % 1000].as_str()])
        .collect();
    let specs: Vec<Spec<'_>> = names
        .iter()
        .zip(&deps)
        .map(|(name, dep)| (name.as_str(), &[][..], &[][..], &dep[..]))
        .collect();
    let error = StepGraph::build(&config(&specs)).unwrap_err();
    let GraphError::Cycles(cycles) = error else {
        panic!("{error}")
    };
    assert_eq!(cycles.len(), 1);
    assert_eq!(cycles[0].tasks, names);
    assert_eq!(cycles[0].links.len(), 1000);
    assert_eq!(cycles[0].links[999].depends_on, "n000");
    assert_eq!(cycles[0].also_involved, Vec::<String>::new());
}
