//! The wasmtime engine configuration, and the epoch ticker that lets a deadline stop spinning guests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use wasmtime::{Config, Engine, OptLevel};

use crate::limits::{EPOCH_TICK, MAX_WASM_STACK_BYTES};

/// Builds the engine every guest runs in.
///
/// Epoch interruption is on (a spinning guest is checked against its deadline every
/// [`EPOCH_TICK`]); the wasm stack is bounded; proposals a credential provider has no use for
/// (64-bit memories, stack switching; threads are compiled out) are off, which keeps the attack
/// surface small.
pub fn build_engine() -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .max_wasm_stack(MAX_WASM_STACK_BYTES)
        .wasm_component_model(true)
        .wasm_memory64(false)
        .wasm_stack_switching(false)
        .cranelift_opt_level(OptLevel::Speed);
    Engine::new(&config)
}

/// Advances an engine's epoch every [`EPOCH_TICK`] on a background thread until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Starts ticking `engine`.
    pub fn start(engine: &Engine) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn({
                let engine = engine.clone();
                let stop = stop.clone();
                move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
