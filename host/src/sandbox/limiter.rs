//! The guest's memory and table budget.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use wasmtime::ResourceLimiter;

use crate::limits::{MAX_INSTANCES, MAX_MEMORIES, MAX_TABLE_ELEMENTS, MAX_TABLES};

/// What the limiter saw, shared with the code that reports how the run ended.
#[derive(Clone, Debug, Default)]
pub struct MemoryGauge {
    /// Set when the guest asked for more than its budget.
    pub exceeded: Arc<AtomicBool>,
    /// Linear memory the guest holds now; wasm memories never shrink, so this is also the peak.
    pub in_use: Arc<AtomicUsize>,
}

impl MemoryGauge {
    /// The most linear memory the guest held at once, in bytes.
    pub fn peak(&self) -> u64 {
        self.in_use.load(Ordering::SeqCst) as u64
    }

    /// Whether the guest hit the budget.
    pub fn exceeded(&self) -> bool {
        self.exceeded.load(Ordering::SeqCst)
    }
}

/// Caps the sum of all the guest's linear memories (a component has several) at one budget, and
/// records when the guest hit it so the failure is reported as "memory limit", not as a trap.
pub struct GuestLimiter {
    memory_budget: usize,
    memory_in_use: usize,
    gauge: MemoryGauge,
}

impl GuestLimiter {
    /// A limiter allowing `memory_budget` bytes of linear memory in total, reporting to `gauge`.
    pub fn new(memory_budget: usize, gauge: MemoryGauge) -> Self {
        GuestLimiter {
            memory_budget,
            memory_in_use: 0,
            gauge,
        }
    }
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let growth = desired.saturating_sub(current);
        let total = self.memory_in_use.saturating_add(growth);
        if total > self.memory_budget {
            self.gauge.exceeded.store(true, Ordering::SeqCst);
            // Trap rather than return -1 from memory.grow: a guest allocator that ignores the
            // failure would otherwise carry on, and Rust's aborts anyway.
            wasmtime::bail!("guest memory limit exceeded");
        }
        self.memory_in_use = total;
        self.gauge.in_use.store(total, Ordering::SeqCst);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}
