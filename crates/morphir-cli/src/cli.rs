use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use morphir_config::ByteSize;

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
    /// Run the tasks of morphir.toml (all of them, or the named ones and what they depend on).
    Build(BuildArgs),
    /// Print the step graph.
    Graph(GraphArgs),
    /// Inspect and maintain the local build cache.
    Cache(CacheArgs),
    /// Load extensions and list what each can do.
    Extensions(ExtensionsArgs),
    /// Run a runtime extension (TEA): messages as JSON lines on stdin, outputs on stdout.
    Run(RunArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Start, stop and inspect the background daemon that keeps extensions warm between builds.
    Daemon(DaemonArgs),
    /// Drive a runtime extension (TEA) that the daemon keeps running between invocations.
    Session(SessionArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SessionArgs {
    #[command(subcommand)]
    pub(crate) command: SessionCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SessionCommand {
    /// Start a program on the daemon (starting the daemon if needed); prints the session id.
    Start(SessionStartArgs),
    /// Send messages to a session's program: the JSON given, or JSON lines on stdin.
    Send {
        /// The session id (`morphir session start` printed it).
        id: String,
        /// One message, as JSON (default: one message per line of stdin).
        message: Option<String>,
    },
    /// Print what the program emitted (JSON lines on stdout, as `morphir run`), logged and
    /// failed (stderr) since the last poll. Exits with 1 when a call or command failed.
    Poll {
        /// The session id.
        id: String,
        /// Wait this long for the first event when there is none yet (e.g. 5s; at most 60s).
        #[arg(long, value_name = "AGE", value_parser = parse_age)]
        wait: Option<Duration>,
    },
    /// Stop the program: prints its last events and its final model (`{"model": ...}`).
    Stop {
        /// The session id.
        id: String,
    },
    /// The sessions the daemon runs.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct SessionStartArgs {
    /// The extension: its name in morphir.toml, or the path of a .wasm module (as `morphir run`).
    pub(crate) extension: String,

    #[command(flatten)]
    pub(crate) config: ConfigArgs,

    /// The flags `init` receives, as JSON (default: the extension's `config`, or `{}`).
    #[arg(long, value_name = "JSON", conflicts_with = "flags_file")]
    pub(crate) flags: Option<String>,

    /// Read the flags from a JSON file.
    #[arg(long, value_name = "PATH")]
    pub(crate) flags_file: Option<PathBuf>,

    /// Seed of the `random` host function (default: a new seed).
    #[arg(long, value_name = "N")]
    pub(crate) seed: Option<u64>,
}

/// Where the configuration is.
#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    /// The morphir.toml to use (default: found by walking up from the current directory).
    #[arg(long, value_name = "PATH", global = true)]
    pub(crate) config: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent command-line flags"
)]
pub(crate) struct BuildArgs {
    /// Tasks to build (default: all). Their dependencies are built too.
    pub(crate) tasks: Vec<String>,

    #[command(flatten)]
    pub(crate) config: ConfigArgs,

    /// Steps to run at once (default: the number of CPUs).
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub(crate) jobs: Option<u16>,

    /// After a step fails, go on with the steps that do not depend on it.
    #[arg(short, long)]
    pub(crate) keep_going: bool,

    /// Run every step, ignoring cached results (results are still stored).
    #[arg(long)]
    pub(crate) no_cache: bool,

    /// For every step, print its cache key, whether it hit, and for a miss what changed since
    /// the last recorded run.
    #[arg(long)]
    pub(crate) explain: bool,

    /// Print a machine-readable run summary on stdout.
    #[arg(long)]
    pub(crate) json: bool,

    /// Run the build on the daemon, starting it (or restarting one of another morphir build)
    /// when needed. Without this flag a running daemon is used when there is one.
    #[arg(long, conflicts_with = "no_daemon")]
    pub(crate) daemon: bool,

    /// Run the build in this process even when a daemon is running.
    #[arg(long, env = NO_DAEMON_ENV)]
    pub(crate) no_daemon: bool,

    /// After the build, watch the inputs, the configuration and the extensions' modules, and
    /// build again after every change (only the affected steps run). Ctrl-C stops.
    #[arg(long)]
    pub(crate) watch: bool,
}

/// Set to `1` or `true`, every `morphir build` runs in process (as `--no-daemon`).
pub(crate) const NO_DAEMON_ENV: &str = "MORPHIR_NO_DAEMON";

#[derive(Debug, Args)]
pub(crate) struct DaemonArgs {
    #[command(subcommand)]
    pub(crate) command: DaemonCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DaemonCommand {
    /// Start the daemon in the background (nothing to do when one is running).
    Start(DaemonRunArgs),
    /// Stop the daemon: its running builds are cancelled; nothing of an unfinished step is
    /// cached.
    Stop,
    /// Whether a daemon is running, and what it keeps warm. Exits with 1 when none is.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the daemon in the foreground (what `start` runs in the background).
    #[command(hide = true)]
    Run(DaemonRunArgs),
}

#[derive(Debug, Clone, Args)]
pub(crate) struct DaemonRunArgs {
    /// Drop an extension's warm instances after it has been unused this long (e.g. 30m, 90s).
    #[arg(long, value_name = "AGE", value_parser = parse_age, default_value = "30m")]
    pub(crate) idle_timeout: Duration,

    /// Keep at most this many idle extension instances, all workspaces together.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub(crate) max_idle_instances: usize,

    /// Exit after this long without a client (for tests and CI: a killed test leaves no daemon).
    #[arg(long, value_name = "AGE", value_parser = parse_age, env = "MORPHIR_DAEMON_EXIT_WHEN_IDLE", hide = true)]
    pub(crate) exit_when_idle: Option<Duration>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum GraphFormat {
    /// Graphviz DOT.
    Dot,
    /// JSON: nodes and edges.
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct GraphArgs {
    /// Only these tasks and what they depend on (default: all).
    pub(crate) tasks: Vec<String>,

    #[command(flatten)]
    pub(crate) config: ConfigArgs,

    /// Output format.
    #[arg(long, value_enum, default_value = "dot")]
    pub(crate) format: GraphFormat,
}

#[derive(Debug, Args)]
pub(crate) struct CacheArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArgs,

    #[command(subcommand)]
    pub(crate) command: CacheCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CacheCommand {
    /// Entries, blobs, size, oldest and newest entry.
    Stats {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Also ask the remote cache (`[cache.remote]`) for its capabilities.
        #[arg(long)]
        remote: bool,
    },
    /// Remove entries not used for a while, then least recently used ones until under a size.
    Prune {
        /// Keep at most this much (e.g. 500MB, 2GiB). Default: `[cache] max_size`.
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        max_size: Option<ByteSize>,
        /// Remove entries not used for this long (e.g. 30d, 12h, 90m, 45s; also w for weeks).
        #[arg(long, value_name = "AGE", value_parser = parse_age)]
        max_age: Option<Duration>,
    },
    /// Remove every entry.
    Clean,
}

#[derive(Debug, Args)]
pub(crate) struct ExtensionsArgs {
    /// Extension modules (.wasm) to load (default: the extensions of morphir.toml).
    pub(crate) paths: Vec<PathBuf>,

    #[command(flatten)]
    pub(crate) config: ConfigArgs,

    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The extension: its name in morphir.toml (which gives its permissions and limits), or the
    /// path of a .wasm module (run with the default limits and no permissions).
    pub(crate) extension: String,

    #[command(flatten)]
    pub(crate) config: ConfigArgs,

    /// The flags `init` receives, as JSON (default: the extension's `config` from
    /// morphir.toml, or `{}`).
    #[arg(long, value_name = "JSON", conflicts_with = "flags_file")]
    pub(crate) flags: Option<String>,

    /// Read the flags from a JSON file.
    #[arg(long, value_name = "PATH")]
    pub(crate) flags_file: Option<PathBuf>,

    /// Seed of the `random` host function (default: a new seed every run).
    #[arg(long, value_name = "N")]
    pub(crate) seed: Option<u64>,
}

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

/// `--max-size`: a [`ByteSize`] (`500MB`, `2GiB`), as in `morphir.toml`.
fn parse_size(text: &str) -> Result<ByteSize, String> {
    text.parse().map_err(|reason| {
        format!(
            "{reason}; write a whole number followed by B, KB, MB, GB (powers of 1000) or KiB, \
             MiB, GiB (powers of 1024), e.g. 500MB"
        )
    })
}

/// `--max-age`: a whole number and `s`, `m`, `h`, `d` or `w` (`45s`, `90m`, `12h`, `30d`,
/// `2w`). Wider than the durations of `morphir.toml` (`ms`, `s`, `m`), which are step time
/// limits; cache ages are hours and days.
fn parse_age(text: &str) -> Result<Duration, String> {
    const HELP: &str = "write a whole number followed by s, m, h, d or w, e.g. 30d or 12h";
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    let unit = unit.trim_start();
    if digits.is_empty() {
        return Err(format!("it does not start with a whole number; {HELP}"));
    }
    if unit.starts_with(['.', ',']) {
        return Err(format!("fractions are not supported; {HELP}"));
    }
    let seconds_per_unit: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 60 * 60,
        "d" => 24 * 60 * 60,
        "w" => 7 * 24 * 60 * 60,
        "" => return Err(format!("the unit is missing; {HELP}")),
        other => return Err(format!("unknown unit `{other}`; {HELP}")),
    };
    let seconds = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(seconds_per_unit))
        .ok_or_else(|| "the age is too large".to_owned())?;
    if seconds == 0 {
        return Err(
            "the age must be greater than zero (`morphir cache clean` removes everything)"
                .to_owned(),
        );
    }
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }

    #[test]
    fn ages() {
        assert_eq!(parse_age("45s"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_age("90m"), Ok(Duration::from_mins(90)));
        assert_eq!(parse_age("12h"), Ok(Duration::from_hours(12)));
        assert_eq!(parse_age(" 30 d "), Ok(Duration::from_hours(30 * 24)));
        assert_eq!(parse_age("2w"), Ok(Duration::from_hours(14 * 24)));
        for (bad, reason) in [
            ("30", "the unit is missing"),
            ("d", "does not start with a whole number"),
            ("1.5d", "fractions"),
            ("30x", "unknown unit `x`"),
            ("30D", "unknown unit `D`"),
            ("0d", "greater than zero"),
            ("99999999999999999999d", "too large"),
            ("9999999999999999999w", "too large"),
        ] {
            let error = parse_age(bad).unwrap_err();
            assert!(error.contains(reason), "{bad}: {error}");
        }
    }

    #[test]
    fn sizes_explain_the_units() {
        assert_eq!(parse_size("2GiB"), Ok(ByteSize::new(2 << 30)));
        let error = parse_size("1.5GB").unwrap_err();
        assert!(
            error.starts_with("fractions are not supported; write"),
            "{error}"
        );
    }
}
