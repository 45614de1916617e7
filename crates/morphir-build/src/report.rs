use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// It ran.
    Executed,
    /// Its result came from the cache.
    Cached,
    /// It failed.
    Failed,
    /// It did not run because a step it needs failed (or the build stopped at a failure).
    Skipped,
    /// The build was interrupted while it ran or waited.
    Cancelled,
}

impl StepStatus {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Executed => "executed",
            StepStatus::Cached => "cached",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::Cancelled => "cancelled",
        }
    }
}

/// One step's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// Its id (`task:frontend`, ...).
    pub id: String,
    /// Its task.
    pub task: String,
    /// `frontend`, `transform` or `backend`.
    pub kind: &'static str,
    /// The extension it calls.
    pub extension: String,
    /// How it ended.
    pub status: StepStatus,
    /// Its cache key (hex), when its inputs were known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Milliseconds it ran.
    pub duration_ms: u64,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A cache entry for its key was found corrupt, removed, and the step re-run.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub repaired: bool,
    /// For a miss: what changed since the last recorded run of this step (`--explain`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Vec<String>>,
    /// Its result came from the remote cache (status `cached`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub remote: bool,
}

/// The whole build's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildReport {
    /// No step failed and the build was not cancelled.
    pub success: bool,
    /// Interrupted (Ctrl-C).
    pub cancelled: bool,
    /// Wall time in milliseconds.
    pub wall_ms: u64,
    /// Steps that ran.
    pub executed: usize,
    /// Steps restored from the cache (local and remote hits).
    pub cached: usize,
    /// Of those, the ones found in the local cache.
    pub local_hits: usize,
    /// Of those, the ones found in the remote cache (and then stored locally).
    pub remote_hits: usize,
    /// Steps that failed.
    pub failed: usize,
    /// Steps skipped.
    pub skipped: usize,
    /// What the remote cache did, when one is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<morphir_cache::RemoteSummary>,
    /// Every step, in graph order.
    pub steps: Vec<StepReport>,
}

/// A [`StepReport`] as read back (a report that crossed the daemon's socket): its kind becomes
/// the static name the scheduler writes.
#[derive(Deserialize)]
struct StepReportWire {
    id: String,
    task: String,
    kind: String,
    extension: String,
    status: StepStatus,
    key: Option<String>,
    duration_ms: u64,
    error: Option<String>,
    #[serde(default)]
    repaired: bool,
    changes: Option<Vec<String>>,
    #[serde(default)]
    remote: bool,
}

// By hand: a derive would borrow `kind` from the input (`&'static str`), tying it to `'static`.
impl<'de> Deserialize<'de> for StepReport {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        StepReportWire::deserialize(deserializer)?
            .try_into()
            .map_err(serde::de::Error::custom)
    }
}

impl TryFrom<StepReportWire> for StepReport {
    type Error = String;

    fn try_from(w: StepReportWire) -> Result<Self, String> {
        let kind = ["frontend", "transform", "backend"]
            .into_iter()
            .find(|k| *k == w.kind)
            .ok_or_else(|| format!("unknown step kind `{}`", w.kind))?;
        Ok(Self {
            id: w.id,
            task: w.task,
            kind,
            extension: w.extension,
            status: w.status,
            key: w.key,
            duration_ms: w.duration_ms,
            error: w.error,
            repaired: w.repaired,
            changes: w.changes,
            remote: w.remote,
        })
    }
}

impl BuildReport {
    pub(crate) fn new(steps: Vec<StepReport>, wall: Duration, cancelled: bool) -> Self {
        let count = |s| steps.iter().filter(|r| r.status == s).count();
        let failed = count(StepStatus::Failed);
        let cached = count(StepStatus::Cached);
        let remote_hits = steps.iter().filter(|r| r.remote).count();
        Self {
            success: failed == 0 && !cancelled,
            cancelled,
            wall_ms: u64::try_from(wall.as_millis()).unwrap_or(u64::MAX),
            executed: count(StepStatus::Executed),
            cached,
            local_hits: cached - remote_hits,
            remote_hits,
            failed,
            skipped: count(StepStatus::Skipped),
            remote: None,
            steps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_survives_a_round_trip_through_json() {
        let step = StepReport {
            id: "t:frontend".to_owned(),
            task: "t".to_owned(),
            kind: "frontend",
            extension: "docs".to_owned(),
            status: StepStatus::Failed,
            key: Some("ab".to_owned()),
            duration_ms: 3,
            error: Some("boom".to_owned()),
            repaired: true,
            changes: Some(vec!["input a.md changed".to_owned()]),
            remote: true,
        };
        let report = BuildReport::new(vec![step], Duration::from_millis(7), false);
        let json = serde_json::to_string(&report).unwrap();
        let back: BuildReport = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        assert!(
            serde_json::from_str::<BuildReport>(&json.replace("frontend\"", "nope\"")).is_err()
        );
    }
}
