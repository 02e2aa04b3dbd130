//! Capped in-memory stdout/stderr for the guest.
//!
//! wasmtime-wasi's `MemoryOutputPipe` traps past its capacity but does not say so to the host;
//! this pipe records the overflow, so "wrote too much" is reported as such and not as a trap.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

/// An output sink that holds at most `capacity` bytes; a write past it traps the guest and sets
/// [`CappedPipe::overflowed`].
#[derive(Clone)]
pub struct CappedPipe {
    capacity: usize,
    buffer: Arc<Mutex<Vec<u8>>>,
    overflowed: Arc<AtomicBool>,
}

impl CappedPipe {
    /// An empty pipe holding at most `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        CappedPipe {
            capacity,
            buffer: Arc::default(),
            overflowed: Arc::default(),
        }
    }

    /// Everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.buffer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Heap the pipe's buffer holds (its capacity), in bytes: at most about twice the cap.
    pub fn held_bytes(&self) -> usize {
        self.buffer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .capacity()
    }

    /// Whether the guest tried to write past the capacity.
    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::SeqCst)
    }

    fn push(&self, bytes: &[u8]) -> Result<(), ()> {
        let mut buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        if bytes.len() > self.capacity - buffer.len() {
            // Keep what fits, for the diagnostics, then refuse.
            let room = self.capacity - buffer.len();
            buffer.extend_from_slice(&bytes[..room]);
            self.overflowed.store(true, Ordering::SeqCst);
            return Err(());
        }
        buffer.extend_from_slice(bytes);
        Ok(())
    }
}

impl IsTerminal for CappedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CappedPipe {
    async fn ready(&mut self) {}
}

impl OutputStream for CappedPipe {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes)
            .map_err(|()| StreamError::trap("guest output exceeded its cap"))
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always offer room, so the guest's next write reaches `write` and trips the cap there
        // instead of seeing a closed stream it might ignore.
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for CappedPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(
            self.push(buf)
                .map(|()| buf.len())
                .map_err(|()| std::io::Error::other("guest output exceeded its cap")),
        )
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_is_recorded_and_keeps_what_fits() {
        let mut pipe = CappedPipe::new(4);
        assert!(pipe.write(Bytes::from_static(b"ab")).is_ok());
        assert!(!pipe.overflowed());
        assert!(pipe.write(Bytes::from_static(b"cde")).is_err());
        assert!(pipe.overflowed());
        assert_eq!(pipe.contents(), b"abcd");
    }
}
