//! `morphir extensions`: load each module through the runtime and print its capabilities.
//!
//! With paths, those modules; without, the `[[extensions]]` of `morphir.toml`, under the name
//! the configuration gives them (a module also declares a name of its own, shown when it
//! differs), with the limits of their `permissions` and their pinned hash checked, the way a
//! build loads them. A disabled extension is listed but not loaded.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use morphir_config::{Config, Protocol};
use morphir_runtime::Protocol as RuntimeProtocol;
use morphir_runtime::{Limits, Module, Runtime, RuntimeConfig};
use serde::Serialize;

use super::project::{self, ConfigLoadError};
use crate::cli::ExtensionsArgs;

/// One line of the listing; also the `--json` schema (an array of these).
#[derive(Serialize)]
struct Row {
    /// The name to use in `morphir.toml`: the configuration's name, or the module's own name
    /// for a path.
    name: String,
    /// The name the module declares for itself; `null` when it was not loaded (disabled).
    module_name: Option<String>,
    /// `false` for an extension disabled in the configuration (it is not loaded).
    enabled: bool,
    path: String,
    /// `core` or `component`.
    protocol: &'static str,
    /// The WIT world of a component (`morphir:ext/backend@0.1.0`); `null` for a core module.
    world: Option<String>,
    version: Option<String>,
    operations: Vec<String>,
    host_imports: Vec<String>,
    hash: Option<String>,
    description: Option<String>,
    /// Its named capabilities (`name`, `description`, optional schemas); empty when not loaded.
    capabilities: serde_json::Value,
    /// Where the configuration declares it (`file:line:col`); `null` for a path.
    declared_at: Option<String>,
}

impl Row {
    fn loaded(name: String, path: String, module: &Module) -> Self {
        let caps = module.capabilities();
        Self {
            name,
            module_name: Some(caps.name.clone()),
            enabled: true,
            path,
            protocol: module.protocol().name(),
            world: module.world().map(str::to_owned),
            // The seed's `morphir:extension` world has no version.
            version: Some(caps.version.clone()).filter(|v| !v.is_empty()),
            operations: caps.operations.clone(),
            host_imports: module.host_imports().to_vec(),
            hash: Some(module.hash_string()),
            description: Some(caps.description.clone()),
            capabilities: serde_json::to_value(&caps.capabilities)
                .unwrap_or_else(|_| serde_json::json!([])),
            declared_at: None,
        }
    }
}

pub(crate) fn run(args: &ExtensionsArgs) -> anyhow::Result<ExitCode> {
    let runtime = Runtime::new(&RuntimeConfig::default()).context("starting the Wasm runtime")?;
    let rows = if args.paths.is_empty() {
        let config = match project::load_config(&args.config) {
            Ok(config) => config,
            Err(e @ ConfigLoadError::NotFound { .. }) => {
                anyhow::bail!("{e}, or name modules: morphir extensions FILE.wasm...")
            }
            Err(e) => return Err(e.into()),
        };
        from_config(&runtime, &config)?
    } else {
        let mut rows = Vec::new();
        for path in &args.paths {
            let name = path.file_stem().map_or_else(
                || path.display().to_string(),
                |s| s.to_string_lossy().into_owned(),
            );
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            // A path has no configuration to say its protocol: the bytes do.
            let protocol = RuntimeProtocol::detect(&bytes).unwrap_or(RuntimeProtocol::Core);
            let module = runtime.load_as(protocol, &name, bytes, Limits::default())?;
            let own_name = module.capabilities().name.clone();
            rows.push(Row::loaded(own_name, path.display().to_string(), &module));
        }
        rows
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
    } else {
        write_table(&mut out, &rows)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Every extension of the configuration, sorted by name; enabled ones loaded.
fn from_config(runtime: &Runtime, config: &Config) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::with_capacity(config.extensions.len());
    for ext in config.extensions.values() {
        let path = ext.source.path.display().to_string();
        let declared_at = Some(ext.location.to_string());
        if !ext.enabled {
            rows.push(Row {
                name: ext.name.clone(),
                module_name: None,
                enabled: false,
                path,
                protocol: ext.protocol.name(),
                world: None,
                version: None,
                operations: Vec::new(),
                host_imports: Vec::new(),
                hash: ext.source.hash.map(|h| h.to_string()),
                description: None,
                capabilities: serde_json::json!([]),
                declared_at,
            });
            continue;
        }
        ext.source.verify_hash().with_context(|| {
            let at = ext.source.hash_location.as_ref().unwrap_or(&ext.location);
            format!("{at}: extension `{}`", ext.name)
        })?;
        let module = runtime.load_file_as(
            runtime_protocol(ext.protocol),
            &ext.name,
            &ext.source.path,
            limits(ext),
        )?;
        rows.push(Row {
            declared_at,
            ..Row::loaded(ext.name.clone(), path, &module)
        });
    }
    Ok(rows)
}

/// The runtime limits of an extension's `permissions`, runtime defaults for the rest: what a
/// build applies, so a module whose initial memory is over `max_memory` fails here too.
pub(crate) use morphir_build::limits;

/// The runtime's protocol for the configuration's (the two crates do not depend on each other).
pub(crate) fn runtime_protocol(protocol: Protocol) -> RuntimeProtocol {
    match protocol {
        Protocol::Component => RuntimeProtocol::Component,
        // `Protocol` is non-exhaustive; the loader knows no other.
        _ => RuntimeProtocol::Core,
    }
}

/// ```text
/// NAME           PROTOCOL   VERSION    OPERATIONS
/// docs           core       0.1.0      frontend-compile
///                module name: docs-frontend        (only when it differs from NAME)
///                world: morphir:ext/backend@0.1.0  (components)
///                Reads Markdown/text files into a JSON list of documents.
///                blake3:...
/// legacy         core       -          disabled (not loaded)
///                declared at morphir.toml:12:1
/// ```
fn write_table(out: &mut impl std::io::Write, rows: &[Row]) -> std::io::Result<()> {
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    writeln!(
        out,
        "{:width$}  {:9}  {:9}  OPERATIONS",
        "NAME", "PROTOCOL", "VERSION"
    )?;
    for r in rows {
        if !r.enabled {
            writeln!(
                out,
                "{:width$}  {:9}  {:9}  disabled (not loaded)",
                r.name, r.protocol, "-"
            )?;
            if let Some(at) = &r.declared_at {
                writeln!(out, "{:width$}  declared at {at}", "")?;
            }
            continue;
        }
        writeln!(
            out,
            "{:width$}  {:9}  {:9}  {}",
            r.name,
            r.protocol,
            r.version.as_deref().unwrap_or("-"),
            r.operations.join(", ")
        )?;
        if let Some(own) = r.module_name.as_deref().filter(|own| *own != r.name) {
            writeln!(out, "{:width$}  module name: {own}", "")?;
        }
        if let Some(world) = &r.world {
            writeln!(out, "{:width$}  world: {world}", "")?;
        }
        if let Some(description) = &r.description {
            writeln!(out, "{:width$}  {description}", "")?;
        }
        if let Some(hash) = &r.hash {
            writeln!(out, "{:width$}  {hash}", "")?;
        }
    }
    Ok(())
}
