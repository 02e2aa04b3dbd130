//! The guest's memory and table budget.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use wasmtime::ResourceLimiter;

use crate::limits::{MAX_INSTANCES, MAX_MEMORIES, MAX_TABLE_ELEMENTS, MAX_TABLES};

/// Caps the sum of all the guest's linear memories (a component has several) at one budget, and
/// records when the guest hit it so the failure is reported as "memory limit", not as a trap.
pub struct GuestLimiter {
    memory_budget: usize,
    memory_in_use: usize,
    exceeded: Arc<AtomicBool>,
}

impl GuestLimiter {
    /// A limiter allowing `memory_budget` bytes of linear memory in total.
    pub fn new(memory_budget: usize, exceeded: Arc<AtomicBool>) -> Self {
        GuestLimiter {
            memory_budget,
            memory_in_use: 0,
            exceeded,
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
            self.exceeded.store(true, Ordering::SeqCst);
            // Trap rather than return -1 from memory.grow: a guest allocator that ignores the
            // failure would otherwise carry on, and Rust's aborts anyway.
            wasmtime::bail!("guest memory limit exceeded");
        }
        self.memory_in_use = total;
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
