//! Ctrl-C, as the scheduler sees it: a flag it checks before every step (a run of cache hits is
//! served inline, without an await, so a future alone would only be seen once a step is
//! dispatched) and a notification that wakes it while it waits for running steps.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// A request to stop a build: the scheduler finishes the step it is serving (so a restore is
/// complete or absent), stores nothing for the steps still running, and returns a report with
/// the rest cancelled. Cheap to clone; every clone is the same request.
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    flag: AtomicBool,
    notify: Notify,
}

impl Interrupt {
    /// Not triggered yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// An interrupt triggered when `cancel` resolves. Must be called inside a tokio runtime;
    /// the waiting task ends with `cancel` (or with the runtime).
    pub fn on(cancel: crate::Cancel) -> Self {
        let this = Self::new();
        let triggered = this.clone();
        tokio::spawn(async move {
            cancel.await;
            triggered.trigger();
        });
        this
    }

    /// Asks the build to stop.
    pub fn trigger(&self) {
        self.inner.flag.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    /// True once [`Interrupt::trigger`] was called.
    pub fn is_triggered(&self) -> bool {
        self.inner.flag.load(Ordering::SeqCst)
    }

    /// Resolves once triggered.
    pub(crate) async fn triggered(&self) {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            // Registered before the flag is read, so a trigger in between is not lost.
            notified.as_mut().enable();
            if self.is_triggered() {
                return;
            }
            notified.await;
        }
    }

    /// Triggers this interrupt on Ctrl-C (SIGINT) from now until the returned guard is dropped.
    /// The signal handler is installed before this returns, so the process is never killed by
    /// the default action while the guard lives. Must be called inside a tokio runtime.
    pub(crate) fn listen_for_ctrl_c(&self) -> std::io::Result<ListenGuard> {
        #[cfg(unix)]
        let mut signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        #[cfg(windows)]
        let mut signal = tokio::signal::windows::ctrl_c()?;
        let this = self.clone();
        let task = tokio::spawn(async move {
            if signal.recv().await.is_some() {
                this.trigger();
            }
        });
        Ok(ListenGuard(task))
    }
}

/// Stops listening for Ctrl-C when dropped.
#[derive(Debug)]
pub(crate) struct ListenGuard(tokio::task::JoinHandle<()>);

impl Drop for ListenGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_trigger_before_or_after_waiting_is_seen() {
        let early = Interrupt::new();
        early.trigger();
        early.triggered().await;

        let late = Interrupt::new();
        let waiter = tokio::spawn({
            let late = late.clone();
            async move { late.triggered().await }
        });
        tokio::task::yield_now().await;
        assert!(!late.is_triggered());
        late.trigger();
        waiter.await.unwrap();
        assert!(late.is_triggered());
    }
}
