use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Build Morphir pipelines made of WebAssembly extensions.
#[derive(Debug, Parser)]
#[command(name = "morphir", version, propagate_version = true)]
pub(crate) struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace). `RUST_LOG` overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Load extensions and list what each can do.
    Extensions(ExtensionsArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ExtensionsArgs {
    /// Extension modules (.wasm) to load.
    #[arg(required = true)]
    pub(crate) paths: Vec<PathBuf>,

    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}
