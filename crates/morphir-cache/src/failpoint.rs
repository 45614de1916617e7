//! Failpoints: named places where a crash test can make the process die or stop, so that a
//! SIGKILL lands *inside* a given write instead of wherever a timer happens to fire.
//!
//! `MORPHIR_FAILPOINT=<name>[@<n>]:<action>` arms one failpoint for the process: the `n`th time
//! (default the first) execution reaches [`failpoint`]`(name)`, it performs `action`:
//!
//! - `abort`: [`std::process::abort`]: no destructor, no flush, like a crash;
//! - `hang`: prints `morphir: failpoint <name> reached` on stderr and sleeps forever, so a
//!   harness waiting for that line kills the process (SIGKILL) exactly there.
//!
//! The places: `blob-write`, `record-write` and `last-run-write` in the cache (half of the temp
//! file written, before the rest and the rename) and `output-write` in `morphir-build` (the
//! same, for a backend's output file). The crash harness is `scripts/crash-harness`
//! (RELIABILITY.md).
//!
//! Always compiled in, and inert unless the variable is set: the variable is read once per
//! process, after which an unarmed failpoint costs one atomic load. A cargo feature would keep
//! the code out of release builds, but then the binary the harness kills would not be the
//! binary users run, and `cargo test --workspace` would need the feature switched on (which
//! also changes every dependent's feature resolution and forces a second build of wasmtime).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable that arms a failpoint.
pub const FAILPOINT_ENV: &str = "MORPHIR_FAILPOINT";

#[derive(Debug)]
struct Armed {
    name: String,
    nth: u64,
    abort: bool,
    seen: AtomicU64,
}

fn parse(spec: &str) -> Option<Armed> {
    let (point, action) = spec.rsplit_once(':')?;
    let (name, nth) = match point.split_once('@') {
        Some((name, n)) => (name, n.parse().ok().filter(|n| *n > 0)?),
        None => (point, 1),
    };
    let abort = match action {
        "abort" => true,
        "hang" => false,
        _ => return None,
    };
    Some(Armed {
        name: name.to_owned(),
        nth,
        abort,
        seen: AtomicU64::new(0),
    })
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let spec = std::env::var(FAILPOINT_ENV).ok()?;
            let armed = parse(&spec);
            if armed.is_none() {
                tracing::warn!(
                    "ignoring {FAILPOINT_ENV}={spec:?}: expected NAME[@N]:abort or NAME[@N]:hang"
                );
            }
            armed
        })
        .as_ref()
}

/// Marks a failpoint (see the module docs); does nothing unless [`FAILPOINT_ENV`] arms `name`.
pub fn failpoint(name: &str) {
    let Some(armed) = armed() else { return };
    if armed.name != name || armed.seen.fetch_add(1, Ordering::SeqCst) + 1 != armed.nth {
        return;
    }
    if armed.abort {
        std::process::abort();
    }
    #[expect(
        clippy::print_stderr,
        reason = "the harness waits for this line; tracing may be filtered or buffered"
    )]
    {
        eprintln!("morphir: failpoint {name} reached");
    }
    loop {
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let a = parse("blob-write:abort").unwrap();
        assert_eq!((a.name.as_str(), a.nth, a.abort), ("blob-write", 1, true));
        let a = parse("output-write@7:hang").unwrap();
        assert_eq!(
            (a.name.as_str(), a.nth, a.abort),
            ("output-write", 7, false)
        );
        for bad in [
            "",
            "blob-write",
            "blob-write:explode",
            "x@0:abort",
            "x@y:hang",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
