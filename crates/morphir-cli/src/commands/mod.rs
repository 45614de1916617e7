use std::process::ExitCode;

use crate::cli::{Cli, Command};

mod build;
mod cache;
mod completions;
mod daemon;
mod extensions;
mod graph;
mod project;
mod run;
mod session;
mod watch;

pub(crate) use build::flush_pending;

pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let verbose = cli.verbose;
    let result = match cli.command {
        Command::Build(args) => build::run(&args, verbose),
        Command::Graph(args) => graph::run(&args),
        Command::Cache(args) => cache::run(&args),
        Command::Extensions(args) => extensions::run(&args),
        Command::Run(args) => run::run(&args, verbose),
        Command::Completions(args) => completions::run(&args),
        Command::Daemon(args) => daemon::run(&args),
        Command::Session(args) => session::run(&args, verbose),
    };
    match result {
        // The reader of stdout went away (`morphir graph | head`): it has what it wanted, as
        // with any Unix filter; not an error to report.
        Err(e) if is_broken_pipe(&e) => Ok(ExitCode::SUCCESS),
        other => other,
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        let kind = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                cause
                    .downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            });
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}
