//! `morphir graph`: print the step graph (all tasks, or the named ones and what they depend on)
//! as Graphviz DOT or JSON. The graph is the one `morphir build` runs.

use std::io::Write as _;
use std::process::ExitCode;

use morphir_config::LoadOptions;
use morphir_graph::StepGraph;

use super::project;
use crate::cli::{GraphArgs, GraphFormat};

pub(crate) fn run(args: &GraphArgs) -> anyhow::Result<ExitCode> {
    // The graph needs no module: it can be drawn before the extensions are built.
    let config = project::load_config_with(&args.config, LoadOptions { check_files: false })?;
    let graph = project::select_tasks(StepGraph::build(&config)?, &args.tasks)?;
    let mut out = std::io::stdout().lock();
    match args.format {
        GraphFormat::Dot => out.write_all(graph.to_dot().as_bytes())?,
        GraphFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &graph.to_json())?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
