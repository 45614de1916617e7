//! Runtime extensions (TEA) through the actor: start, send, poll; commands (emit, log, delay,
//! http, stop); subscriptions (timer, file watch, port); limits on every call, a fresh instance
//! after a breach, and one program's timeout not disturbing another's calls.
//! Steps through instance pools: `pool.rs`.
//!
//! The program is `echo`'s (see `extensions/echo`): it records every message in its model's
//! `seen`, returns the commands a `cmds` message carries and keeps the subscriptions a `subs`
//! message sets.

mod pool;
mod programs;
mod support;
