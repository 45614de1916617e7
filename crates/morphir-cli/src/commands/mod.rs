use std::process::ExitCode;

use crate::cli::{Cli, Command};

mod build;
mod cache;
mod completions;
mod extensions;
mod graph;
mod project;

pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let verbose = cli.verbose;
    match cli.command {
        Command::Build(args) => build::run(&args, verbose),
        Command::Graph(args) => graph::run(&args),
        Command::Cache(args) => cache::run(&args),
        Command::Extensions(args) => extensions::run(&args),
        Command::Completions(args) => completions::run(&args),
    }
}
