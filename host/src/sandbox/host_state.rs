//! The budget for what the host holds on a guest's behalf, outside the guest's linear memory.
//!
//! `--memory` bounds the guest's own memory, but every `wasi:http` fields value, buffered body,
//! pending request, stream, pollable and resource handle lives in host memory, and a guest can
//! make thousands of them without ever growing its own. Counting them one by one would miss the
//! next kind; instead the binary counts every heap allocation (its global allocator, see
//! `main.rs`), and the sandbox checks the growth of the heap since the run began against the
//! budget at every epoch tick (every [`crate::limits::EPOCH_TICK`] of guest code; host calls
//! return to guest code, so what one call adds is seen at the next tick). Past the budget the guest is trapped with a one-line reason.
//!
//! The guest's stdout and stderr are bounded by their own caps and are not charged here. The
//! resource table is also capped by count ([`crate::limits::MAX_RESOURCE_TABLE_ENTRIES`]), so
//! a guest hoarding small handles is stopped early with its own message.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use super::pipes::CappedPipe;
use crate::limits::MIN_HOST_STATE_BYTES;

/// How the process measures its heap: bytes allocated and not yet freed.
static HEAP_IN_USE: OnceLock<fn() -> usize> = OnceLock::new();

/// Tells the sandbox how to read the process's heap in use (the binary's counting allocator).
/// Without it (a library user that installs no such allocator), only the resource-table cap
/// bounds host-side state.
pub fn measure_heap_with(heap_in_use: fn() -> usize) {
    let _ = HEAP_IN_USE.set(heap_in_use);
}

fn heap_in_use() -> Option<usize> {
    HEAP_IN_USE.get().map(|measure| measure())
}

/// The host-state budget of one run: for `--memory M` and a per-response cap `R`,
/// `max(M, MIN_HOST_STATE_BYTES) + R` (a legitimate guest holds one response being read).
pub fn budget_bytes(memory_bytes: u64, max_response_bytes: u64) -> u64 {
    memory_bytes
        .max(MIN_HOST_STATE_BYTES)
        .saturating_add(max_response_bytes)
}

/// Checks one run's host-side growth against its budget.
#[derive(Clone)]
pub struct HostStateMeter {
    baseline: Option<usize>,
    budget: u64,
    pipes: [CappedPipe; 2],
    exceeded: Arc<AtomicBool>,
}

impl HostStateMeter {
    /// A meter starting now, allowing `budget` bytes of growth beyond what `stdout` and
    /// `stderr` hold.
    pub fn start(budget: u64, stdout: CappedPipe, stderr: CappedPipe) -> Self {
        HostStateMeter {
            baseline: heap_in_use(),
            budget,
            pipes: [stdout, stderr],
            exceeded: Arc::default(),
        }
    }

    /// Host heap held for the guest since the start, in bytes (0 when the heap is not measured).
    pub fn in_use(&self) -> u64 {
        let (Some(baseline), Some(now)) = (self.baseline, heap_in_use()) else {
            return 0;
        };
        let piped: usize = self.pipes.iter().map(CappedPipe::held_bytes).sum();
        now.saturating_sub(baseline).saturating_sub(piped) as u64
    }

    /// `Err` (and remembered) when the guest holds more than the budget.
    pub fn check(&self) -> wasmtime::Result<()> {
        if self.in_use() > self.budget {
            self.exceeded.store(true, Ordering::SeqCst);
            wasmtime::bail!("guest host-state limit exceeded");
        }
        Ok(())
    }

    /// Whether a check failed.
    pub fn exceeded(&self) -> bool {
        self.exceeded.load(Ordering::SeqCst)
    }

    /// The budget, in bytes.
    pub fn budget(&self) -> u64 {
        self.budget
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The unit tests count their heap the way the binary does.
    #[global_allocator]
    static ALLOCATOR: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

    /// Heap held past the budget fails the check (and is remembered); output in the guest's
    /// pipes is not charged. Other tests allocate meanwhile, so the amounts are far apart.
    #[test]
    fn growth_past_the_budget_fails_the_check_but_piped_output_is_free() {
        measure_heap_with(|| ALLOCATOR.allocated());
        let stdout = CappedPipe::new(512 << 20);
        let meter = HostStateMeter::start(64 << 20, stdout.clone(), CappedPipe::new(1024));
        let hoard = vec![1u8; 512 << 20];
        assert!(meter.in_use() > 256 << 20, "{}", meter.in_use());
        assert!(meter.check().is_err());
        assert!(meter.exceeded());
        drop(hoard);

        let meter = HostStateMeter::start(128 << 20, stdout.clone(), CappedPipe::new(1024));
        let mut stream = stdout.clone();
        for _ in 0..256 {
            wasmtime_wasi::p2::OutputStream::write(&mut stream, vec![7u8; 1 << 20].into()).unwrap();
        }
        assert!(meter.in_use() < 128 << 20, "{}", meter.in_use());
        assert!(meter.check().is_ok());
        assert!(!meter.exceeded());
    }

    #[test]
    fn the_budget_follows_memory_with_a_floor_and_one_response() {
        assert_eq!(
            budget_bytes(8 << 20, 4 << 20),
            MIN_HOST_STATE_BYTES + (4 << 20)
        );
        assert_eq!(budget_bytes(256 << 20, 4 << 20), (256 << 20) + (4 << 20));
    }
}
