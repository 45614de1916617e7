//! The daemon's own warnings about a build (a corrupt cache entry repaired, a cache write that
//! failed), sent to the client that asked for the build, which prints them as the in-process
//! build's log output would read. A `tracing` layer for the daemon process's subscriber
//! ([`layer`]); the server runs each build inside a span that names it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use tokio::sync::mpsc::UnboundedSender;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::Response;

/// The span the server runs a build in; its `build` field is the key of [`routes`].
pub(crate) const SPAN: &str = "morphir_daemon_build";

type Routes = Mutex<HashMap<u64, UnboundedSender<Response>>>;

fn routes() -> &'static Routes {
    static ROUTES: OnceLock<Routes> = OnceLock::new();
    ROUTES.get_or_init(Routes::default)
}

/// Sends log lines of the build `id` to `to` until the returned guard drops.
pub(crate) fn route(to: UnboundedSender<Response>) -> (u64, RouteGuard) {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    routes()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(id, to);
    (id, RouteGuard(id))
}

/// Ends a route.
#[derive(Debug)]
pub(crate) struct RouteGuard(u64);

impl Drop for RouteGuard {
    fn drop(&mut self) {
        routes()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.0);
    }
}

struct BuildId(u64);

/// The layer to add to the daemon's subscriber: events at `warn` and `error` inside a build's
/// span go to that build's client as [`Response::Log`]. It asks for nothing else, so it costs
/// nothing on the hot paths' `debug` and `trace` events.
pub fn layer<S>() -> impl tracing_subscriber::Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    use tracing_subscriber::Layer as _;
    Forward.with_filter(tracing_subscriber::filter::filter_fn(|meta| {
        *meta.level() <= Level::WARN || meta.name() == SPAN
    }))
}

struct Forward;

#[derive(Default)]
struct Fields {
    build: Option<u64>,
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "build" {
            self.build = Some(value);
        } else {
            let _ = write!(self.rest, " {}={value}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        // As tracing's own formatter writes them: strings quoted.
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        }
    }
}

impl<S> tracing_subscriber::Layer<S> for Forward
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != SPAN {
            return;
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let (Some(build), Some(span)) = (fields.build, ctx.span(id)) {
            span.extensions_mut().insert(BuildId(build));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if *event.metadata().level() > Level::WARN {
            return;
        }
        let Some(scope) = ctx.event_scope(event) else {
            return;
        };
        let Some(build) = scope
            .from_root()
            .find_map(|span| span.extensions().get::<BuildId>().map(|b| b.0))
        else {
            return;
        };
        let Some(to) = routes()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&build)
            .cloned()
        else {
            return;
        };
        let mut fields = Fields::default();
        event.record(&mut fields);
        let _ = to.send(Response::Log {
            level: event.metadata().level().to_string(),
            target: event.metadata().target().to_owned(),
            message: format!("{}{}", fields.message, fields.rest),
        });
    }
}
