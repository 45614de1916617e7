//! Graphviz and JSON renderings of a [`StepGraph`].

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::graph::{EdgeKind, Step, StepGraph, StepKind};

impl StepGraph {
    /// The graph in Graphviz DOT: one cluster per task (sorted by name), steps in pipeline
    /// order labelled with their kind, extension and output; `depends_on` edges dashed. The
    /// output is the same for the same configuration.
    pub fn to_dot(&self) -> String {
        let mut out = String::from(
            "digraph morphir {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n",
        );
        for (cluster, task) in self.tasks().enumerate() {
            let _ = writeln!(out, "  subgraph cluster_{cluster} {{");
            let _ = writeln!(out, "    label={};", quote(task));
            for &step in self.task_steps(task).unwrap_or_default() {
                let step = self.step(step);
                let _ = writeln!(
                    out,
                    "    {} [label={}];",
                    quote(&step.id),
                    quote(&label(step))
                );
            }
            out.push_str("  }\n");
        }
        for (from, to, kind) in self.edges() {
            let style = match kind {
                EdgeKind::Pipeline => "",
                EdgeKind::Dependency => " [style=dashed, label=\"depends_on\"]",
            };
            let _ = writeln!(
                out,
                "  {} -> {}{style};",
                quote(&self.step(from).id),
                quote(&self.step(to).id)
            );
        }
        out.push_str("}\n");
        out
    }

    /// The graph as JSON, for `--json` output and tools:
    ///
    /// ```json
    /// { "nodes": [ { "id": "model:backend:ts", "task": "model", "kind": "backend",
    ///                "index": 0, "extension": "ts", "output": "out/ts" } ],
    ///   "edges": [ { "from": "model:frontend", "to": "model:backend:ts", "kind": "pipeline" } ] }
    /// ```
    ///
    /// `index` is the position among the task's transforms or backends (`null` for a
    /// frontend); `output` is the backend's directory relative to the workspace root, with `/`
    /// separators (`null` for other steps). Nodes in index order, edges sorted.
    pub fn to_json(&self) -> Value {
        let nodes: Vec<Value> = self
            .steps()
            .map(|(_, step)| {
                let index = match step.kind {
                    StepKind::Frontend => None,
                    StepKind::Transform(i) | StepKind::Backend(i) => Some(i),
                };
                json!({
                    "id": step.id,
                    "task": step.task,
                    "kind": step.kind.name(),
                    "index": index,
                    "extension": step.extension,
                    "output": step.output.as_deref().map(slash_path),
                })
            })
            .collect();
        let edges: Vec<Value> = self
            .edges()
            .into_iter()
            .map(|(from, to, kind)| {
                json!({
                    "from": self.step(from).id,
                    "to": self.step(to).id,
                    "kind": kind.name(),
                })
            })
            .collect();
        json!({ "nodes": nodes, "edges": edges })
    }
}

/// `frontend\nmorphir-ir`, `transform[0]\nstrip-docs`, `backend\ntypescript\n-> out/ts`.
fn label(step: &Step) -> String {
    let kind = match step.kind {
        StepKind::Frontend => "frontend".to_owned(),
        StepKind::Transform(i) => format!("transform[{i}]"),
        StepKind::Backend(_) => "backend".to_owned(),
    };
    match &step.output {
        Some(output) => format!("{kind}\n{}\n-> {}", step.extension, slash_path(output)),
        None => format!("{kind}\n{}", step.extension),
    }
}

/// A DOT string literal.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A relative path with `/` separators whatever the platform.
fn slash_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
