//! `morphir cache stats | prune | clean`: inspect and maintain the local build cache of the
//! workspace (`[cache] dir`, or `MORPHIR_CACHE_DIR`).
//!
//! A cache directory that does not exist is an empty cache, never an error, and none of these
//! commands creates it. Failures of the cache itself (permissions, a full disk) are run-time
//! failures: exit code 1.

use std::io::Write as _;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use morphir_cache::{CACHE_FORMAT_VERSION, PruneOptions, PruneReport, Stats, Store};
use morphir_config::LoadOptions;
use serde_json::json;

use super::project;
use crate::cli::{CacheArgs, CacheCommand};

pub(crate) fn run(args: &CacheArgs) -> anyhow::Result<ExitCode> {
    // The cache commands run no extension: the modules need not exist.
    let config = project::load_config_with(&args.config, LoadOptions { check_files: false })?;
    let dir = project::cache_dir(&config);
    let shown = tidy(&dir);
    let result = match &args.command {
        CacheCommand::Stats { json, remote } => {
            let remote = if *remote {
                Some(remote_stats(&config)?)
            } else {
                None
            };
            stats(&dir, &shown, *json, remote)
        }
        CacheCommand::Prune { max_size, max_age } => {
            let max_size = max_size.or(config.cache.max_size);
            if max_size.is_none() && max_age.is_none() {
                anyhow::bail!(
                    "nothing to prune by: pass --max-size SIZE (e.g. 500MB) or --max-age AGE \
                     (e.g. 30d), or set max_size in the [cache] table of {}",
                    config.file.display()
                );
            }
            prune(
                &dir,
                &shown,
                &PruneOptions::new(max_size.map(morphir_config::ByteSize::bytes), *max_age),
            )
        }
        CacheCommand::Clean => clean(&dir, &shown),
    };
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // The cache itself failed (permissions, a full disk): a run-time failure. Anything else
        // (stdout closed) goes the usual way.
        Err(e) if e.is::<morphir_cache::Error>() => {
            #[expect(clippy::print_stderr, reason = "the binary's error report")]
            {
                eprintln!("error: {}", crate::render(&*e));
            }
            Ok(ExitCode::from(crate::exit::FAILURE))
        }
        Err(e) => Err(e),
    }
}

/// `path` without `.` and `dir/..` pairs, for display: `examples/site/../../cache` reads
/// `cache`. A cache dir is `[cache] dir` joined to the workspace root, often through `..`. The
/// files are still reached through the path as it is, like the build does (the two differ when
/// a directory climbed out of is a symlink).
fn tidy(path: &Path) -> PathBuf {
    let mut parts: Vec<Component<'_>> = Vec::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir if matches!(parts.last(), Some(Component::Normal(_))) => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    if parts.is_empty() {
        PathBuf::from(".")
    } else {
        parts.iter().collect()
    }
}

/// Whether the store's bucket exists; when it does not, the cache is empty and is left alone
/// ([`Store::open`] would create it).
fn exists(dir: &Path) -> bool {
    dir.join(format!("v{CACHE_FORMAT_VERSION}")).is_dir()
}

/// What `cache stats --remote` says of the remote cache. REAPI has no statistics call: this is
/// whether the server answers, how fast, and what it offers.
fn remote_stats(config: &morphir_config::Config) -> anyhow::Result<serde_json::Value> {
    let Some(remote) = project::remote_cache(config, None)? else {
        anyhow::bail!(
            "no remote cache is configured: add a [cache.remote] table to {} or set {}",
            config.file.display(),
            morphir_config::REMOTE_CACHE_ENV
        );
    };
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let answer = tokio.block_on(morphir_remote::probe(&remote));
    Ok(match answer {
        Ok(info) => json!({
            "endpoint": remote.endpoint,
            "instance_name": remote.instance_name,
            "reachable": true,
            "upload": remote.upload && info.update_enabled,
            "digest_function": info.digest_function,
            "max_batch_bytes": info.max_batch_bytes,
            "update_enabled": info.update_enabled,
            "api_versions": info.api_versions,
            "round_trip_ms": info.round_trip_ms,
        }),
        Err(e) => json!({
            "endpoint": remote.endpoint,
            "instance_name": remote.instance_name,
            "reachable": false,
            "error": e.to_string(),
        }),
    })
}

fn print_remote(out: &mut impl std::io::Write, remote: &serde_json::Value) -> std::io::Result<()> {
    let field = |name: &str| match &remote[name] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    writeln!(out, "remote      {}", field("endpoint"))?;
    if remote["reachable"] == serde_json::Value::Bool(true) {
        writeln!(
            out,
            "  reachable in {} ms; digests {}; batches up to {}; {}",
            field("round_trip_ms"),
            field("digest_function"),
            human_size(remote["max_batch_bytes"].as_u64().unwrap_or(0)),
            if remote["upload"] == serde_json::Value::Bool(true) {
                "uploads on"
            } else {
                "read-only"
            }
        )?;
    } else {
        writeln!(out, "  not reachable: {}", field("error"))?;
    }
    Ok(())
}

fn stats(
    dir: &Path,
    shown: &Path,
    as_json: bool,
    remote: Option<serde_json::Value>,
) -> anyhow::Result<()> {
    let exists = exists(dir);
    let stats = if exists {
        Store::open(dir)?.stats()?
    } else {
        Stats::default()
    };
    let mut out = std::io::stdout().lock();
    if as_json {
        let value = json!({
            "dir": shown.display().to_string(),
            "exists": exists,
            "entries": stats.records,
            "entry_bytes": stats.record_bytes,
            "blobs": stats.blobs,
            "blob_bytes": stats.blob_bytes,
            "last_runs": stats.last_runs,
            "last_run_bytes": stats.last_run_bytes,
            "capabilities": stats.capabilities,
            "capability_bytes": stats.capability_bytes,
            "temp_files": stats.temp_files,
            "temp_bytes": stats.temp_bytes,
            "total_bytes": stats.total_bytes,
            "oldest_use": stats.oldest_use.map(rfc3339),
            "newest_use": stats.newest_use.map(rfc3339),
        });
        let mut value = value;
        if let Some(remote) = remote {
            value["remote"] = remote;
        }
        serde_json::to_writer_pretty(&mut out, &value)?;
        writeln!(out)?;
        return Ok(());
    }
    if !exists {
        writeln!(
            out,
            "{}: empty (the directory does not exist yet)",
            shown.display()
        )?;
        if let Some(remote) = &remote {
            print_remote(&mut out, remote)?;
        }
        return Ok(());
    }
    let now = SystemTime::now();
    let used = |t: Option<SystemTime>| {
        t.map_or_else(
            || "-".to_owned(),
            |t| format!("{} ({})", utc(t), ago(now, t)),
        )
    };
    writeln!(out, "cache       {}", shown.display())?;
    writeln!(
        out,
        "entries     {} ({})",
        stats.records,
        human_size(stats.record_bytes)
    )?;
    writeln!(
        out,
        "blobs       {} ({})",
        stats.blobs,
        human_size(stats.blob_bytes)
    )?;
    writeln!(
        out,
        "last runs   {} ({})",
        stats.last_runs,
        human_size(stats.last_run_bytes)
    )?;
    writeln!(
        out,
        "extensions  {} ({})",
        stats.capabilities,
        human_size(stats.capability_bytes)
    )?;
    writeln!(
        out,
        "temp files  {} ({})",
        stats.temp_files,
        human_size(stats.temp_bytes)
    )?;
    writeln!(out, "total       {}", human_size(stats.total_bytes))?;
    writeln!(out, "oldest use  {}", used(stats.oldest_use))?;
    writeln!(out, "newest use  {}", used(stats.newest_use))?;
    if let Some(remote) = &remote {
        print_remote(&mut out, remote)?;
    }
    Ok(())
}

fn prune(dir: &Path, shown: &Path, options: &PruneOptions) -> anyhow::Result<()> {
    let mut limits = Vec::new();
    if let Some(size) = options.max_size {
        limits.push(format!("max size {}", morphir_config::ByteSize::new(size)));
    }
    if let Some(age) = options.max_age {
        limits.push(format!("max age {}", age_text(age)));
    }
    let limits = limits.join(", ");
    let mut out = std::io::stdout().lock();
    if !exists(dir) {
        writeln!(
            out,
            "nothing to prune: the cache directory {} does not exist",
            shown.display()
        )?;
        return Ok(());
    }
    let report = Store::open(dir)?.prune(options)?;
    writeln!(out, "pruned {} ({limits})", shown.display())?;
    writeln!(out, "removed    {}", removed(&report))?;
    writeln!(out, "freed      {}", human_size(report.bytes_freed))?;
    writeln!(out, "remaining  {}", human_size(report.bytes_remaining))?;
    Ok(())
}

/// `2 entries, 1 corrupt entry, 3 blobs, 1 last-run record, 0 temp files`.
fn removed(report: &PruneReport) -> String {
    let mut parts = vec![count(report.records_removed, "entry", "entries")];
    if report.corrupt_removed > 0 {
        parts.push(count(
            report.corrupt_removed,
            "corrupt entry",
            "corrupt entries",
        ));
    }
    parts.push(count(report.blobs_removed, "blob", "blobs"));
    parts.push(count(
        report.last_runs_removed,
        "last-run record",
        "last-run records",
    ));
    if report.capabilities_removed > 0 {
        parts.push(count(
            report.capabilities_removed,
            "extension capability record",
            "extension capability records",
        ));
    }
    parts.push(count(report.temp_removed, "temp file", "temp files"));
    parts.join(", ")
}

fn clean(dir: &Path, shown: &Path) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if !exists(dir) {
        writeln!(
            out,
            "nothing to clean: the cache directory {} does not exist",
            shown.display()
        )?;
        return Ok(());
    }
    let store = Store::open(dir)?;
    let before = store.stats()?;
    store.clean()?;
    writeln!(
        out,
        "removed {}, {}, {} and {} ({}) from {}",
        count(before.records, "entry", "entries"),
        count(before.blobs, "blob", "blobs"),
        count(before.last_runs, "last-run record", "last-run records"),
        count(
            before.capabilities,
            "extension capability record",
            "extension capability records"
        ),
        human_size(before.total_bytes),
        shown.display()
    )?;
    Ok(())
}

fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `512 B`, `1.5 KiB`, `12.0 MiB`: powers of 1024, one decimal.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    #[expect(clippy::cast_precision_loss, reason = "one decimal is shown")]
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// An age as the shortest exact `--max-age` form: `30d`, `12h`, `90m`, `45s`.
fn age_text(age: Duration) -> String {
    let seconds = age.as_secs();
    [(86_400, "d"), (3_600, "h"), (60, "m")]
        .into_iter()
        .find(|&(factor, _)| seconds != 0 && seconds.is_multiple_of(factor))
        .map_or_else(
            || format!("{seconds}s"),
            |(factor, unit)| format!("{}{unit}", seconds / factor),
        )
}

/// `3 days ago`, `5 minutes ago`, `just now`.
fn ago(now: SystemTime, then: SystemTime) -> String {
    let seconds = now.duration_since(then).unwrap_or_default().as_secs();
    let (n, unit) = match seconds {
        0..60 => return "just now".to_owned(),
        60..3_600 => (seconds / 60, "minute"),
        3_600..86_400 => (seconds / 3_600, "hour"),
        _ => (seconds / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// A time in UTC: `(year, month, day, hour, minute, second)`.
fn civil(t: SystemTime) -> (i64, u32, u32, u64, u64, u64) {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400).cast_signed());
    let rem = secs % 86_400;
    (year, month, day, rem / 3_600, rem % 3_600 / 60, rem % 60)
}

/// `2026-01-31 12:00:00 UTC`.
fn utc(t: SystemTime) -> String {
    let (year, month, day, hour, min, sec) = civil(t);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{min:02}:{sec:02} UTC")
}

/// `2026-01-31T12:00:00Z`.
fn rfc3339(t: SystemTime) -> String {
    let (year, month, day, hour, min, sec) = civil(t);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{min:02}:{sec:02}Z")
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`), to print times without a date-time dependency.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_paths() {
        let tidy = |p: &str| tidy(Path::new(p)).display().to_string();
        assert_eq!(tidy("examples/site/../../cache"), "cache");
        assert_eq!(tidy("../../cache"), "../../cache");
        assert_eq!(tidy("a/./b/../../../c"), "../c");
        assert_eq!(tidy("/r/a/../cache"), "/r/cache");
        assert_eq!(tidy("a/.."), ".");
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400 + 3_723);
        assert_eq!(utc(t), "2000-02-29 01:02:03 UTC");
        assert_eq!(rfc3339(t), "2000-02-29T01:02:03Z");
    }

    #[test]
    fn sizes_and_ages() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 << 30), "3.0 GiB");
        assert_eq!(age_text(Duration::from_hours(30 * 24)), "30d");
        assert_eq!(age_text(Duration::from_mins(90)), "90m");
        assert_eq!(age_text(Duration::from_secs(45)), "45s");
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let before = |s| now - Duration::from_secs(s);
        assert_eq!(ago(now, before(5)), "just now");
        assert_eq!(ago(now, before(60)), "1 minute ago");
        assert_eq!(ago(now, before(7_200)), "2 hours ago");
        assert_eq!(ago(now, before(3 * 86_400)), "3 days ago");
    }
}
