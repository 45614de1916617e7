use std::process::ExitCode;

use crate::cli::{Cli, Command};

mod extensions;

pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Extensions(args) => extensions::run(&args),
    }
}
