//! Load: many live instances of one module at once under a memory limit, and a soak of
//! create/call/drop cycles whose resident memory must stay flat (Extism has an open report of
//! a leak on plugin create/destroy: this measures ours). RELIABILITY.md has the long figures:
//! `MORPHIR_SOAK_CYCLES=100000 cargo test --release -p morphir-runtime --test it -- --ignored
//! soak --nocapture`.

#![expect(
    clippy::print_stderr,
    reason = "the load tests report their figures (RELIABILITY.md)"
)]

use std::sync::{Arc, Barrier, Mutex};

use morphir_runtime::{Envelope, Limits, Operation};

use crate::support::load;

/// A `/proc/self/status` figure in KiB (`VmRSS`, `VmHWM`); `None` off Linux.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The load tests measure the process's memory: under `cargo test` (one process, tests on
/// threads) they must not overlap.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn sixty_four_concurrent_instances_under_a_memory_limit_complete() {
    const INSTANCES: usize = 64;
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let module = load("echo", Limits::default().with_max_memory(16 << 20));
    // Every instance exists before any calls, so all 64 are live at once.
    let barrier = Arc::new(Barrier::new(INSTANCES));
    let threads: Vec<_> = (0..INSTANCES)
        .map(|i| {
            let mut instance = module.instantiate().unwrap();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                for n in 0..20 {
                    let text = format!("instance {i} call {n}");
                    let out = instance
                        .call(
                            Operation::Transform,
                            &Envelope::new("text/plain", text.clone()),
                        )
                        .unwrap();
                    assert_eq!(out.envelope.content, text.as_bytes());
                }
                // One hoarder per eight: stopped by the limit, the instance serves again.
                if i % 8 == 0 {
                    let err = instance
                        .call(Operation::Transform, &Envelope::empty().with_kind("grow"))
                        .unwrap_err();
                    assert!(err.to_string().contains("memory"), "{err}");
                    let out = instance
                        .call(Operation::Transform, &Envelope::new("text/plain", "after"))
                        .unwrap();
                    assert_eq!(out.envelope.content, b"after");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    if let Some(peak) = status_kib("VmHWM") {
        eprintln!(
            "{INSTANCES} concurrent instances (16 MiB limit each): peak RSS {} MiB",
            peak / 1024
        );
    }
}

/// Runs `cycles` create/call/drop cycles; returns the resident set (KiB) after a warm-up tenth
/// and at the end.
fn soak(cycles: u64) -> Option<(u64, u64)> {
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let module = load("echo", Limits::default().with_max_memory(16 << 20));
    let warmup = (cycles / 10).max(1);
    let mut after_warmup = 0;
    for n in 0..cycles {
        let mut instance = module.instantiate().unwrap();
        let out = instance
            .call(
                Operation::Transform,
                &Envelope::new("text/plain", n.to_string()),
            )
            .unwrap();
        assert_eq!(out.envelope.content, n.to_string().as_bytes());
        drop(instance);
        if n + 1 == warmup {
            after_warmup = status_kib("VmRSS")?;
        }
    }
    let end = status_kib("VmRSS")?;
    eprintln!(
        "soak: {cycles} create/call/drop cycles: RSS {} MiB after {warmup}, {} MiB at the end \
         (peak {} MiB)",
        after_warmup / 1024,
        end / 1024,
        status_kib("VmHWM").unwrap_or(0) / 1024
    );
    Some((after_warmup, end))
}

#[test]
fn create_call_drop_cycles_keep_resident_memory_flat() {
    // 3,000 cycles: a leak of even 4 KiB per cycle would add 10 MiB after the warm-up.
    if let Some((warm, end)) = soak(3_000) {
        assert!(
            end < warm + 8 * 1024,
            "resident memory grew from {warm} KiB to {end} KiB"
        );
    }
}

#[test]
#[ignore = "long: 100,000 cycles by default (MORPHIR_SOAK_CYCLES)"]
fn soak_long() {
    let cycles = std::env::var("MORPHIR_SOAK_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100_000);
    if let Some((warm, end)) = soak(cycles) {
        assert!(
            end < warm + 16 * 1024,
            "resident memory grew from {warm} KiB to {end} KiB"
        );
    }
}
