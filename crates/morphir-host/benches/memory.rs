//! Resident memory added per live extension instance, with 1, 10 and 100 live instances of the
//! `echo` guest.
//!
//! Each count runs in a fresh child process (this binary again), so that memory freed by one
//! measurement cannot be reused by the next. The child loads `echo` (from a warm compile cache,
//! as a build does after the first), reads its resident set size (`VmRSS`, Linux), creates the
//! instances, reads it again, makes one 100-byte call on each, and reads it a third time. An
//! instance holds a compiled "lane" of its own (ARCHITECTURE.md, "One engine per live
//! instance"): the first reuses the lane the load left idle, every other one adds a lane.
//!
//! The same for `echo-component`, the component with echo's behaviour: components share one
//! compiled component (no lanes; `docs/abi.md`, "Epochs for components"), so an instance adds
//! only its store and memory.
//!
//! `cargo bench -p morphir-host --bench memory` prints a table; with `MORPHIR_BENCH_JSON=FILE`
//! it also appends one JSON object per line to FILE. Without `--bench` (as `cargo test
//! --benches` runs it) it only tries 1 and 2 instances. Linux only (reads `/proc/self/status`).

mod support;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use morphir_runtime::{Limits, Operation, Protocol};
use support::{echo_bytes, envelope, repo, runtime};

const CHILD: &str = "MORPHIR_MEMORY_BENCH_CHILD";
const CACHE: &str = "MORPHIR_MEMORY_BENCH_CACHE";
const GUEST: &str = "MORPHIR_MEMORY_BENCH_GUEST";

/// (guest, protocol) measured.
const GUESTS: [(&str, Protocol); 2] = [
    ("echo", Protocol::Core),
    ("echo-component", Protocol::Component),
];

fn protocol_of(guest: &str) -> Protocol {
    GUESTS
        .iter()
        .find(|(g, _)| *g == guest)
        .map(|(_, p)| *p)
        .expect("a known guest")
}

/// This process's resident set size in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// In the child: `count` instances; prints `base created called` in KiB.
#[expect(clippy::print_stdout, reason = "the child reports to its parent")]
fn child(guest: &str, count: usize, cache: &Path) {
    let bytes =
        std::fs::read(repo().join(format!("extensions/dist/{guest}.wasm"))).expect("guest wasm");
    let module = runtime(cache)
        .load_as(protocol_of(guest), guest, bytes, Limits::default())
        .expect("load the guest");
    let input = envelope(100);
    let base = rss_kib();
    let mut instances: Vec<_> = (0..count)
        .map(|_| module.instantiate().expect("instantiate"))
        .collect();
    let created = rss_kib();
    for instance in &mut instances {
        instance.call(Operation::Transform, &input).expect("call");
    }
    let called = rss_kib();
    println!("{base} {created} {called}");
}

#[expect(
    clippy::print_stdout,
    reason = "a bench binary without criterion: its output is the result"
)]
fn main() {
    if let Some(count) = std::env::var_os(CHILD) {
        let count = count.to_str().and_then(|c| c.parse().ok()).expect("count");
        let cache = std::env::var_os(CACHE).expect("cache dir");
        let guest = std::env::var(GUEST).expect("guest");
        child(&guest, count, Path::new(&cache));
        return;
    }
    let quick = !std::env::args().any(|a| a == "--bench");
    let counts: &[usize] = if quick { &[1, 2] } else { &[1, 10, 100] };
    // Fill the compile cache, as the first build on a machine does.
    let dir = tempfile::tempdir().unwrap();
    let _ = echo_bytes(); // builds the guests
    for (guest, protocol) in GUESTS {
        let bytes = std::fs::read(repo().join(format!("extensions/dist/{guest}.wasm"))).unwrap();
        runtime(dir.path())
            .load_as(protocol, guest, bytes, Limits::default())
            .expect("load the guest");
    }

    println!(
        "{:<16} {:<10} {:>10} {:>14} {:>14} {:>16}",
        "guest", "instances", "base MiB", "+created MiB", "+called MiB", "per instance MiB"
    );
    let mut json = String::new();
    for (guest, _) in GUESTS {
        for &count in counts {
            let out = Command::new(std::env::current_exe().expect("current exe"))
                .env(CHILD, count.to_string())
                .env(CACHE, dir.path())
                .env(GUEST, guest)
                .output()
                .expect("run the child");
            assert!(
                out.status.success(),
                "child failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8(out.stdout).expect("utf-8");
            let kib: Vec<u64> = text
                .split_whitespace()
                .map(|v| v.parse().expect("KiB"))
                .collect();
            let [base, created, called] = kib[..] else {
                panic!("child printed {text:?}")
            };
            let mib = |kib: u64| f64::from(u32::try_from(kib).expect("under 4 TiB")) / 1024.0;
            let per = mib(called.saturating_sub(base)) / f64::from(u32::try_from(count).unwrap());
            println!(
                "{guest:<16} {count:<10} {:>10.1} {:>14.2} {:>14.2} {per:>16.3}",
                mib(base),
                mib(created.saturating_sub(base)),
                mib(called.saturating_sub(base)),
            );
            writeln!(
            json,
            r#"{{"bench":"memory","guest":"{guest}","instances":{count},"base_kib":{base},"created_kib":{created},"called_kib":{called},"per_instance_mib":{per:.4}}}"#
        )
        .unwrap();
        }
    }
    if let Some(path) = std::env::var_os("MORPHIR_BENCH_JSON").filter(|_| !quick) {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(json.as_bytes()))
            .expect("append to MORPHIR_BENCH_JSON");
    }
}
