//! The wasmtime engine configuration, and the epoch ticker that lets a deadline stop spinning guests.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;

use wasmtime::{Config, Engine, OptLevel};

use crate::limits::{EPOCH_TICK, MAX_WASM_STACK_BYTES};

/// Builds the engine every guest runs in.
///
/// Epoch interruption is on (a spinning guest is checked against its deadline every
/// [`EPOCH_TICK`]); the wasm stack is bounded; proposals a credential provider has no use for
/// (64-bit and multiple memories, relaxed SIMD, stack switching; threads, GC and exceptions are
/// compiled out) are off, which keeps the attack surface small.
pub fn build_engine() -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .max_wasm_stack(MAX_WASM_STACK_BYTES)
        .wasm_component_model(true)
        .wasm_memory64(false)
        .wasm_multi_memory(false)
        .wasm_relaxed_simd(false)
        .wasm_stack_switching(false)
        .cranelift_opt_level(OptLevel::Speed);
    Engine::new(&config)
}

/// Advances an engine's epoch every [`EPOCH_TICK`] on a background thread until dropped.
/// Dropping it wakes the thread at once (no waiting out a tick), which matters to exec latency.
pub struct EpochTicker {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Starts ticking `engine`.
    pub fn start(engine: &Engine) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let engine = engine.clone();
        let thread = std::thread::Builder::new()
            .name("epoch-ticker".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EPOCH_TICK) {
                    engine.increment_epoch();
                }
            })?;
        Ok(EpochTicker {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        // Dropping the sender disconnects the channel, which ends the thread's wait at once.
        // Not joined: waiting for the thread to exit would only delay the response.
        drop(self.stop.take());
        drop(self.thread.take());
    }
}
