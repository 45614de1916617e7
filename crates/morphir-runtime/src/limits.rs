use std::time::Duration;

/// Per-instance resource limits, from an extension's `[extensions.permissions]`.
///
/// The defaults protect a user who set nothing: a runaway extension is stopped after a minute
/// and a gigabyte, not left to take the machine down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// How far an instance's memory may grow after it is created, in bytes (rounded down to
    /// whole 64 KiB Wasm pages). The guest's and the bridge's buffers count; the module's
    /// declared initial memory must itself fit under it.
    pub max_memory: u64,
    /// Wall-clock time one call may take.
    pub max_execution_time: Duration,
    /// The largest output envelope accepted, in bytes.
    pub max_output: u64,
}

impl Limits {
    /// 1 GiB of memory.
    pub const DEFAULT_MAX_MEMORY: u64 = 1 << 30;
    /// One minute per call.
    pub const DEFAULT_MAX_EXECUTION_TIME: Duration = Duration::from_secs(60);
    /// 512 MiB of output.
    pub const DEFAULT_MAX_OUTPUT: u64 = 512 << 20;

    /// Sets `max_memory`.
    #[must_use]
    pub fn with_max_memory(mut self, bytes: u64) -> Self {
        self.max_memory = bytes;
        self
    }

    /// Sets `max_execution_time`.
    #[must_use]
    pub fn with_max_execution_time(mut self, time: Duration) -> Self {
        self.max_execution_time = time;
        self
    }

    /// Sets `max_output`.
    #[must_use]
    pub fn with_max_output(mut self, bytes: u64) -> Self {
        self.max_output = bytes;
        self
    }

    pub(crate) fn memory_pages(&self) -> u32 {
        u32::try_from(self.max_memory / 65_536)
            .unwrap_or(u32::MAX)
            .max(1)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_memory: Self::DEFAULT_MAX_MEMORY,
            max_execution_time: Self::DEFAULT_MAX_EXECUTION_TIME,
            max_output: Self::DEFAULT_MAX_OUTPUT,
        }
    }
}
