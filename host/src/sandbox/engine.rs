//! The wasmtime engine configuration, and the epoch ticker that lets a deadline stop spinning guests.

use std::sync::{Arc, Condvar, Mutex};

use wasmtime::{Config, Engine, OptLevel};

use crate::limits::{EPOCH_TICK, MAX_WASM_STACK_BYTES};

/// Builds the engine every guest runs in.
///
/// Epoch interruption is on (a spinning guest is checked against its deadline every
/// [`EPOCH_TICK`]); the wasm stack is bounded; proposals a credential provider has no use for
/// (64-bit and multiple memories, relaxed SIMD, stack switching; threads, GC and exceptions are
/// compiled out) are off, which keeps the attack surface small.
///
/// Cranelift's optimisation passes are off (`OptLevel::None`, register allocation unchanged):
/// that compiles a module about a fifth faster, for code about 5% larger, and a credential
/// provider's own work (decoding JSON, signing a request) is microseconds either way
/// (docs/benchmarks.md has the comparison).
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
        .cranelift_opt_level(OptLevel::None);
    Engine::new(&config)
}

/// Advances an engine's epoch every [`EPOCH_TICK`] on a background thread until dropped.
/// Dropping it wakes the thread at once (no waiting out a tick), which matters to exec latency.
/// The thread waits on a condition variable rather than a channel: it never allocates, so the
/// C library does not set up a second heap arena for it on every exec.
pub struct EpochTicker {
    stop: Arc<(Mutex<bool>, Condvar)>,
}

impl EpochTicker {
    /// Starts ticking `engine`.
    pub fn start(engine: &Engine) -> std::io::Result<Self> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let engine = engine.clone();
        let stopped = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("epoch-ticker".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                let (lock, wake) = &*stopped;
                let Ok(mut stop) = lock.lock() else { return };
                while !*stop {
                    match wake.wait_timeout(stop, EPOCH_TICK) {
                        Ok((guard, timeout)) => {
                            stop = guard;
                            if timeout.timed_out() && !*stop {
                                engine.increment_epoch();
                            }
                        }
                        Err(_) => return,
                    }
                }
            })?;
        Ok(EpochTicker { stop })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        // Not joined: waiting for the thread to exit would only delay the response.
        let (lock, wake) = &*self.stop;
        if let Ok(mut stop) = lock.lock() {
            *stop = true;
        }
        wake.notify_one();
    }
}
