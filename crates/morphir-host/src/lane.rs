//! Threads that wait by spinning a little before they sleep.
//!
//! A Wasm call blocks, so an actor that makes one runs on a thread of its own (a *lane*), not
//! on the async runtime's workers. Handing a message to such a thread and the reply back costs
//! two thread wake-ups, and on the 2-core VMs this project is measured on a wake-up of a
//! sleeping thread is the expensive part of a short call: a park/unpark round trip between two
//! plain threads measured 53-63 µs p50 when the machine was otherwise idle (the idle vCPU halts,
//! and waking it goes through the hypervisor), against under 1 µs when the other thread was
//! still running. So both sides of a hand-off wait here the way crossbeam's channels and rayon's
//! workers do: poll, then spin for up to [`SPIN`], and only then park. A reply that comes within the spin costs no
//! wake-up at all; one that comes later costs at most [`SPIN`] of CPU more than parking at
//! once would have.
//!
//! [`block_on`] is that wait for any future: the actor threads run their actor's lifecycle on
//! it, and the CLI awaits its build on it (inside the tokio runtime's context, so timers,
//! sockets and `tokio::spawn` work exactly as under tokio's own `block_on`, which runs the
//! future on the calling thread too).
//!
//! [`spin_first`] is the same wait for a caller on an executor that parks at once (a tokio
//! task awaiting `InstancePool::run`): the future spins inside its own poll before it returns
//! `Pending`. On a thread already inside [`block_on`] it does nothing, so no wait spins twice.

use std::cell::Cell;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long a thread with nothing to do spins before it parks: about the length of a short call
/// (4-7 µs for the `echo` guest here), so its reply, or the next step of a busy build, usually
/// finds the thread awake. Not longer: a pool busy on both cores runs three such threads (the
/// caller and two lanes) on two cores, and a thread spinning for its next message keeps a core
/// from one with work. Measured on 2026-12-02 (2-core AMD EPYC VM, 10 µs against 50 µs,
/// alternating runs): calls per second with two in flight 107k → 139-154k and with 64 in flight
/// 124k → 157-166k; a cold 1,000-step build 1.20× faster (CPU 370 → 300 ms); a fully cached one
/// a tie; per call p50 6.6 → 4.6-6.0 µs, p99 68 → 80-102 µs (a call longer than the spin now
/// parks its caller).
pub const SPIN: Duration = Duration::from_micros(10);

/// Busy-polls this many times between looks at the clock.
const SPINS_PER_CLOCK: u32 = 64;

/// The waker of a [`block_on`]: a flag the waiting thread watches while it spins, and an unpark
/// for when it has gone to sleep (`Thread::unpark` is an atomic swap, no system call, while
/// the thread is not parked).
struct Signal {
    thread: Thread,
    woken: AtomicBool,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

thread_local! {
    /// Whether this thread is inside [`block_on`], which spins for every future it runs.
    static IN_BLOCK_ON: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as inside [`block_on`] until dropped (also by a panic in the future).
struct InBlockOn(bool);

impl InBlockOn {
    fn enter() -> Self {
        Self(IN_BLOCK_ON.replace(true))
    }
}

impl Drop for InBlockOn {
    fn drop(&mut self) {
        IN_BLOCK_ON.set(self.0);
    }
}

/// Runs `future` to completion on this thread, waiting as the module docs describe.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let _inside = InBlockOn::enter();
    let signal = Arc::new(Signal {
        thread: std::thread::current(),
        // The first poll needs no wake-up.
        woken: AtomicBool::new(true),
    });
    let waker = Waker::from(Arc::clone(&signal));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if signal.woken.swap(false, Ordering::Acquire) {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            continue;
        }
        if !spin_until_woken(&signal.woken) {
            // A wake-up between the last look and this park leaves the thread's token set,
            // so the park returns at once; a spurious return only costs another look.
            std::thread::park();
        }
    }
}

/// `future`, made to spin for up to [`SPIN`] for its first wake-up before it returns
/// `Pending` to an executor that would park its thread at once. A tokio worker with nothing
/// else to run sleeps in the kernel, and waking it costs the round trip through the hypervisor
/// the module docs describe (38 µs p50 for a 100-byte call from a tokio task, against 5 µs on
/// [`block_on`]). The spin holds the worker for at most [`SPIN`] per wait, well inside
/// tokio's advice on time between yields, and it spins only once per future: a longer wait
/// parks as before.
///
/// `Unpin` (a channel's receiver, say) keeps this free of unsafe pin projection; box a future
/// that is not.
pub fn spin_first<F: Future + Unpin>(future: F) -> SpinFirst<F> {
    SpinFirst {
        future,
        spun: false,
    }
}

/// The future of [`spin_first`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct SpinFirst<F> {
    future: F,
    spun: bool,
}

/// The waker a [`SpinFirst`] registers while it spins: a flag it watches, passed on to the
/// executor's waker so that a wake-up after the spin reaches the executor as usual.
struct Forward {
    woken: AtomicBool,
    waker: Waker,
}

impl Wake for Forward {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.waker.wake_by_ref();
    }
}

impl<F: Future + Unpin> Future for SpinFirst<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let mut future = Pin::new(&mut this.future);
        if this.spun || IN_BLOCK_ON.get() {
            return future.poll(cx);
        }
        this.spun = true;
        let forward = Arc::new(Forward {
            woken: AtomicBool::new(false),
            waker: cx.waker().clone(),
        });
        let waker = Waker::from(Arc::clone(&forward));
        if let Poll::Ready(output) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
            return Poll::Ready(output);
        }
        if spin_until_woken(&forward.woken) {
            // Polled with the executor's own waker again, so a later wait needs no `Forward`.
            return future.poll(cx);
        }
        // Still waiting: `Forward` stays registered and passes the wake-up on.
        Poll::Pending
    }
}

/// Spins for up to [`SPIN`] until `woken` is set; whether it was.
///
/// Never yields the core: a `sched_yield` can hand it to another process for a whole time
/// slice. Measured on 2026-12-02 (fully cached 1,000-step build, interleaved runs, medians): a
/// version that yielded every 64 spins was 11% slower than no spinning at all while a CI run
/// compiled on both cores; this one ties with no spinning under two busy processes and when
/// idle. A bounded spin costs at most [`SPIN`].
fn spin_until_woken(woken: &AtomicBool) -> bool {
    let start = Instant::now();
    let mut spins = 0u32;
    loop {
        if woken.load(Ordering::Acquire) {
            return true;
        }
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(SPINS_PER_CLOCK) && start.elapsed() >= SPIN {
            return false;
        }
        std::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_ready_future_returns_its_output() {
        assert_eq!(block_on(async { 7 }), 7);
    }

    #[test]
    fn wakes_from_another_thread_before_and_after_the_spin() {
        for delay in [Duration::ZERO, Duration::from_millis(5)] {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let sender = std::thread::spawn(move || {
                std::thread::sleep(delay);
                tx.send(delay).unwrap();
            });
            assert_eq!(block_on(rx).unwrap(), delay);
            sender.join().unwrap();
        }
    }

    #[test]
    fn spin_first_wakes_a_tokio_task_before_and_after_the_spin() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        for delay in [
            Duration::ZERO,
            Duration::from_micros(2),
            Duration::from_millis(5),
        ] {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let sender = std::thread::spawn(move || {
                std::thread::sleep(delay);
                tx.send(delay).unwrap();
            });
            let got = rt.block_on(rt.spawn(spin_first(rx))).unwrap().unwrap();
            assert_eq!(got, delay);
            sender.join().unwrap();
        }
    }

    /// The waker `spin_first` polls its future with first, and the executor's own.
    async fn first_waker_seen() -> (Waker, Waker) {
        let own = std::future::poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
        let mut first = None;
        spin_first(std::future::poll_fn(|cx| {
            if first.is_none() {
                first = Some(cx.waker().clone());
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(())
        }))
        .await;
        (first.unwrap(), own)
    }

    #[test]
    fn spin_first_spins_on_tokio_and_leaves_the_wait_to_block_on_inside_it() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (first, own) = rt.block_on(first_waker_seen());
        assert!(
            !first.will_wake(&own),
            "on tokio it registers its spinning waker"
        );
        let (first, own) = block_on(first_waker_seen());
        assert!(
            first.will_wake(&own),
            "inside block_on it passes block_on's waker on"
        );
        assert!(
            !IN_BLOCK_ON.get(),
            "the mark is gone after block_on returns"
        );
    }

    #[test]
    fn a_future_that_wakes_itself_is_polled_again() {
        let polls = AtomicUsize::new(0);
        let n = block_on(std::future::poll_fn(|cx| {
            let n = polls.fetch_add(1, Ordering::Relaxed) + 1;
            if n < 3 {
                cx.waker().wake_by_ref();
                Poll::Pending
            } else {
                Poll::Ready(n)
            }
        }));
        assert_eq!(n, 3);
    }
}
