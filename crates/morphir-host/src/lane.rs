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

use std::future::Future;
use std::pin::pin;
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

/// Runs `future` to completion on this thread, waiting as the module docs describe.
pub fn block_on<F: Future>(future: F) -> F::Output {
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
