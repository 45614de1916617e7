//! `morphir`: runs Morphir build pipelines made of WebAssembly extensions.
//!
//! One file per command under `commands/`; this file parses arguments, installs the tracing
//! subscriber (the only place that does), runs the command and maps errors to exit codes
//! (documented in `docs/cli.md`).

mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;

/// Exit codes.
pub(crate) mod exit {
    /// A command failed at run time (a step failed).
    pub(crate) const FAILURE: u8 = 1;
    /// The input was wrong: bad arguments, bad configuration, an extension that does not load.
    pub(crate) const USAGE: u8 = 2;
}

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    init_tracing(args.verbose);
    match commands::run(args) {
        Ok(code) => code,
        Err(e) => {
            #[expect(clippy::print_stderr, reason = "the binary's error report")]
            {
                eprintln!("error: {}", render(&*e));
            }
            ExitCode::from(exit::USAGE)
        }
    }
}

/// The error and its causes on one line. Our library errors already include their cause in
/// their message (so `to_string()` is useful alone); a cause is appended only when the message
/// does not already say it.
pub(crate) fn render(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = cause.source();
    }
    msg
}

fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    // Extension logs are shown by the build's progress (live and replayed from the cache
    // alike), so they are off here unless RUST_LOG asks for them.
    let default = match verbose {
        0 => "warn,morphir::extension=off,extism=off",
        1 => "info,morphir::extension=off,extism=off",
        2 => "debug,morphir::extension=off,extism=off",
        _ => "trace,morphir::extension=off,extism=off",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let stderr = tracing_subscriber::fmt::layer()
        // Progress lines held back (non-terminal stderr) go out first, keeping the order.
        .with_writer(|| {
            commands::flush_pending();
            std::io::stderr()
        })
        .with_target(true)
        .with_ansi(
            std::env::var_os("NO_COLOR").is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        )
        .without_time()
        .with_filter(filter);
    let registry = tracing_subscriber::registry().with(stderr);
    // In the daemon, its warnings about a build also go to the client that asked for it.
    let registry = registry.with(morphir_daemon::log_forwarding_layer());
    registry.init();
}
