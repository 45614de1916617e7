//! `morphir extensions`: load each module through the runtime and print its capabilities.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use morphir_runtime::{Limits, Runtime, RuntimeConfig};
use serde::Serialize;

use crate::cli::ExtensionsArgs;

#[derive(Serialize)]
struct Row {
    name: String,
    path: String,
    protocol: &'static str,
    version: String,
    operations: Vec<String>,
    host_imports: Vec<String>,
    hash: String,
    description: String,
}

pub(crate) fn run(args: &ExtensionsArgs) -> anyhow::Result<ExitCode> {
    let runtime = Runtime::new(&RuntimeConfig::default()).context("starting the Wasm runtime")?;
    let mut rows = Vec::new();
    for path in &args.paths {
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        let module = runtime.load_file(&name, path, Limits::default())?;
        let caps = module.capabilities();
        rows.push(Row {
            name: caps.name.clone(),
            path: path.display().to_string(),
            protocol: "core",
            version: caps.version.clone(),
            operations: caps.operations.clone(),
            host_imports: module.host_imports().to_vec(),
            hash: module.hash_string(),
            description: caps.description.clone(),
        });
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
    } else {
        let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
        writeln!(
            out,
            "{:width$}  {:8}  {:9}  OPERATIONS",
            "NAME", "PROTOCOL", "VERSION"
        )?;
        for r in &rows {
            writeln!(
                out,
                "{:width$}  {:8}  {:9}  {}",
                r.name,
                r.protocol,
                r.version,
                r.operations.join(", ")
            )?;
            writeln!(out, "{:width$}  {}", "", r.description)?;
            writeln!(out, "{:width$}  {}", "", r.hash)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
