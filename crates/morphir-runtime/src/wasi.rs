//! WASI 0.2 for components that import it: a context that denies everything the extension's
//! permissions do not grant.
//!
//! Components built with `wasm32-unknown-unknown` and `wit-component` import no WASI, and that
//! is what we recommend. But `cargo build --target wasm32-wasip2` and `cargo component` make
//! components whose std imports WASI (environment, clocks, random, filesystem, sockets, stdio),
//! whether or not the code uses it. Those are given wasmtime-wasi's implementation (the crate
//! Extism already pulls in: no second copy) with a context built here from the step's
//! [`HostContext`]:
//!
//! | WASI | what the component gets |
//! |---|---|
//! | environment | the variables `permissions.env` grants that are set; no arguments; no initial directory |
//! | filesystem | no preopened directory: every path fails |
//! | sockets | TCP, UDP and name lookup refused |
//! | stdin | closed |
//! | stdout, stderr | lines become the step's log lines (`info`, `warn`), cached and replayed like `log` |
//! | random (secure and insecure) | a stream from the context's seed (derived from the step's key), as the `random` host function: same key, same bytes |
//! | wall clock | the Unix epoch, always: a step's output must be a function of its key |
//! | monotonic clock | the host's (elapsed time only); a wait is cut at the call's deadline |
//! | exit | ends the call as a trap (the instance is discarded) |
//!
//! Two things wasmtime-wasi does not do for us:
//! * Its synchronous bindings block on a tokio runtime of their own (`in_tokio`), which panics
//!   on a thread that is already inside one, as an actor's thread is. [`isolated`] runs such
//!   calls on a short-lived thread outside any runtime.
//! * A wait on a clock is host code, which the epoch deadline cannot interrupt: a guest asking
//!   to sleep an hour would hold the step for an hour. `subscribe-duration` and
//!   `subscribe-instant` are replaced by versions that wake no later than the call's deadline,
//!   and a call that waited that long fails as a timeout ([`Wasi::overslept`]).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{DynPollable, OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder};

use crate::HostContext;
use crate::engine::lock;
use crate::stdlib::{HostState, LogLevel};

/// The WASI version provided, as the linker names its interfaces. A component importing an
/// older 0.2 release links too (the linker matches semver-compatible versions).
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// The WASI 0.2 packages linked (`add_to_linker_sync`); `wasi:http` and the like are not.
const PACKAGES: [&str; 6] = [
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:filesystem/",
    "wasi:io/",
    "wasi:random/",
    "wasi:sockets/",
];

/// True for an import this module provides: an interface of the WASI 0.2 packages linked.
pub(crate) fn provides(import: &str) -> bool {
    import.contains("@0.2.") && PACKAGES.iter().any(|p| import.starts_with(p))
}

/// True for a WASI import of another version (0.1's are not component imports; 0.3 is not
/// provided), so the load error can say which version to build for.
pub(crate) fn other_version(import: &str) -> bool {
    !import.contains("@0.2.") && PACKAGES.iter().any(|p| import.starts_with(p))
}

/// The WASI state of a store whose component imports WASI.
pub(crate) struct Wasi {
    ctx: WasiCtx,
    table: ResourceTable,
    /// [`HostState::generation`] the context was built from.
    generation: u64,
    /// When the running call must end: waits are cut there.
    deadline: Option<Instant>,
    /// A wait was cut at its deadline and reached it (set by the wait itself, so a wait the
    /// guest only subscribed to does not count).
    overslept: Arc<AtomicBool>,
}

impl Wasi {
    pub(crate) fn new(host: &Arc<Mutex<HostState>>) -> Self {
        let (ctx, generation) = build(host);
        Self {
            ctx,
            table: ResourceTable::new(),
            generation,
            deadline: None,
            overslept: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Before each call: the context follows the host context (rebuilt only when that
    /// changed, which restarts the random streams from the new seed, as `random`'s does).
    pub(crate) fn prepare(&mut self, host: &Arc<Mutex<HostState>>, deadline: Instant) {
        let current = lock(host).generation;
        if current != self.generation {
            (self.ctx, self.generation) = build(host);
        }
        self.deadline = Some(deadline);
        self.overslept.store(false, Ordering::Relaxed);
    }

    /// A wait of the running call was cut at its deadline.
    pub(crate) fn overslept(&self) -> bool {
        self.overslept.load(Ordering::Relaxed)
    }

    /// The view wasmtime-wasi's host functions work on.
    pub(crate) fn view(&mut self) -> wasmtime_wasi::WasiCtxView<'_> {
        wasmtime_wasi::WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

fn build(host: &Arc<Mutex<HostState>>) -> (WasiCtx, u64) {
    let (context, generation): (HostContext, u64) = {
        let host = lock(host);
        (host.context.clone(), host.generation)
    };
    let mut builder = WasiCtxBuilder::new();
    for (name, value) in &context.env {
        if let Some(value) = value {
            builder.env(name, value);
        }
    }
    let mut seed_of = Seeded::new(&context.seed, b"morphir wasi insecure-seed v1");
    let mut insecure_seed = [0_u8; 16];
    seed_of.fill(&mut insecure_seed);
    builder
        .stdout(LogStream::new(host, LogLevel::Info))
        .stderr(LogStream::new(host, LogLevel::Warn))
        .secure_random(Seeded::new(&context.seed, b"morphir wasi random v1"))
        .insecure_random(Seeded::new(
            &context.seed,
            b"morphir wasi insecure-random v1",
        ))
        .insecure_random_seed(u128::from_le_bytes(insecure_seed))
        .wall_clock(Epoch)
        .monotonic_clock(Monotonic)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    (builder.build(), generation)
}

/// Links WASI 0.2 into `linker`, with the clock waits replaced (see the module docs).
pub(crate) fn link<T: wasmtime_wasi::WasiView + 'static>(
    linker: &mut Linker<T>,
    wasi: fn(&mut T) -> &mut Wasi,
) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap(
        "subscribe-duration",
        move |mut cx: StoreContextMut<'_, T>, (nanos,): (u64,)| {
            let wasi = wasi(cx.data_mut());
            let wait = Duration::from_nanos(nanos);
            Ok((wasi.sleep(wait)?,))
        },
    )?;
    clock.func_wrap(
        "subscribe-instant",
        move |mut cx: StoreContextMut<'_, T>, (when,): (u64,)| {
            let wasi = wasi(cx.data_mut());
            let wait = Duration::from_nanos(when.saturating_sub(Monotonic.now()));
            Ok((wasi.sleep(wait)?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

impl Wasi {
    /// A pollable ready after `wait`, or at the call's deadline if that comes first.
    fn sleep(&mut self, wait: Duration) -> wasmtime::Result<Resource<DynPollable>> {
        let now = Instant::now();
        let mut until = now.checked_add(wait);
        let mut cut = None;
        if let Some(deadline) = self.deadline
            && until.is_none_or(|u| u > deadline)
        {
            until = Some(deadline.max(now));
            cut = Some(Arc::clone(&self.overslept));
        }
        let until = until.map(tokio::time::Instant::from_std);
        let sleep = self.table.push(Sleep { until, cut })?;
        wasmtime_wasi::p2::subscribe(&mut self.table, sleep)
    }
}

/// A clock wait; `until: None`: forever (a wait too long to represent, with no deadline to
/// cut it). `cut`: set when a wait cut at the deadline ends there.
struct Sleep {
    until: Option<tokio::time::Instant>,
    cut: Option<Arc<AtomicBool>>,
}

#[wasmtime_wasi::async_trait]
impl Pollable for Sleep {
    async fn ready(&mut self) {
        match self.until {
            Some(until) => tokio::time::sleep_until(until).await,
            None => std::future::pending().await,
        }
        if let Some(cut) = &self.cut {
            cut.store(true, Ordering::Relaxed);
        }
    }
}

/// Runs `f` where wasmtime-wasi's synchronous host functions can block: on this thread when
/// it is outside any tokio runtime, else on a scoped thread of its own (they would panic
/// inside a runtime's `block_on`, which is where actors run). The thread costs tens of
/// microseconds per call, paid only by components that import WASI.
pub(crate) fn isolated<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("morphir-wasi-call".to_owned())
            .spawn_scoped(scope, f)
            .expect("a thread for a WASI call (as std::thread::spawn, no thread is fatal)")
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

// ---- stdout and stderr as log lines ----

/// A component's stdout or stderr: complete lines become log lines of the running call (so
/// they are cached and replayed with the step, within the per-call log caps); a partial line
/// waits for its end, or for the end of the call ([`flush_partial`]).
#[derive(Clone)]
struct LogStream {
    host: Arc<Mutex<HostState>>,
    level: LogLevel,
}

/// A line longer than this is logged in pieces.
const MAX_LINE: usize = 16 << 10;

/// The most one write to stdout or stderr may carry (what `check-write` grants).
const WRITE_PERMIT: usize = 64 << 10;

impl LogStream {
    fn new(host: &Arc<Mutex<HostState>>, level: LogLevel) -> Self {
        Self {
            host: Arc::clone(host),
            level,
        }
    }

    fn write_bytes(&self, bytes: &[u8]) {
        let mut host = lock(&self.host);
        let slot = stdio_slot(self.level);
        let mut buffer = std::mem::take(&mut host.stdio[slot]);
        buffer.extend_from_slice(bytes);
        let mut start = 0;
        // Each search looks at most one line ahead: a long write without a newline costs
        // time in proportion to its length, not its square.
        while let Some(end) = buffer[start..buffer.len().min(start + MAX_LINE)]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| start + i)
            .or_else(|| (buffer.len() - start > MAX_LINE).then_some(start + MAX_LINE))
        {
            let line = &buffer[start..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            host.record(self.level, String::from_utf8_lossy(line).into_owned());
            start = if buffer.get(end) == Some(&b'\n') {
                end + 1
            } else {
                end
            };
        }
        buffer.drain(..start);
        host.stdio[slot] = buffer;
    }
}

fn stdio_slot(level: LogLevel) -> usize {
    usize::from(level != LogLevel::Info)
}

/// Logs what is left of a partial stdout or stderr line at the end of a call.
pub(crate) fn flush_partial(host: &mut HostState) {
    for level in [LogLevel::Info, LogLevel::Warn] {
        let rest = std::mem::take(&mut host.stdio[stdio_slot(level)]);
        if !rest.is_empty() {
            host.record(level, String::from_utf8_lossy(&rest).into_owned());
        }
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for LogStream {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        // wasmtime-wasi does not hold a guest to `check_write`'s permit: we do, so one call
        // cannot hand the host more than that at once.
        if bytes.len() > WRITE_PERMIT {
            return Err(wasmtime_wasi::p2::StreamError::trap(
                "a write to stdout or stderr larger than check-write allowed",
            ));
        }
        self.write_bytes(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always room: what the log caps do not keep is counted and dropped, never refused
        // (a refused write makes Rust's `println!` panic).
        Ok(WRITE_PERMIT)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LogStream {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for LogStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_bytes(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

// ---- random and clocks ----

/// A random stream from a seed: blake3's extendable output, keyed by the seed.
struct Seeded(blake3::OutputReader);

impl Seeded {
    fn new(seed: &[u8; 32], purpose: &[u8]) -> Self {
        Self(
            blake3::Hasher::new_keyed(seed)
                .update(purpose)
                .finalize_xof(),
        )
    }

    fn fill(&mut self, dst: &mut [u8]) {
        self.0.fill(dst);
    }
}

impl rand_core::TryRng for Seeded {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0; 4];
        self.fill(&mut b);
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0; 8];
        self.fill(&mut b);
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.fill(dst);
        Ok(())
    }
}

/// The wall clock of a deny-all context: always the Unix epoch.
struct Epoch;

impl HostWallClock for Epoch {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

/// The host's monotonic clock, from one origin for the whole process (a context rebuilt for a
/// new step must not run the guest's clock backwards).
struct Monotonic;

static ORIGIN: LazyLock<Instant> = LazyLock::new(Instant::now);

impl HostMonotonicClock for Monotonic {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        u64::try_from(ORIGIN.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}
