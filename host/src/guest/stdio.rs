//! The guest's stdout and stderr: captured in memory, capped, never passed
//! through.
//!
//! credbox's own stdout carries only the validated credential, so a helper
//! that prints must not reach it. What the helper writes is kept (up to
//! [`CAPTURE_LIMIT`] bytes, the rest counted and dropped) so a panic message
//! can be reported and `--verbose` can show it, redacted.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Bytes kept per stream; a helper writing more loses the excess, not its
/// run.
pub const CAPTURE_LIMIT: usize = 64 << 10;

#[derive(Debug, Default)]
struct Buffer {
    kept: Vec<u8>,
    dropped: u64,
    limit: usize,
}

/// An in-memory, capped output stream; clones share the buffer.
#[derive(Debug, Clone)]
pub struct Captured {
    buffer: Arc<Mutex<Buffer>>,
}

impl Default for Captured {
    fn default() -> Self {
        Captured::new(0)
    }
}

impl Captured {
    /// A capture of [`CAPTURE_LIMIT`] bytes plus `lookahead` (the longest
    /// secret's length, so that the redactor sees whole any secret that
    /// starts inside the limit).
    pub fn new(lookahead: usize) -> Captured {
        Captured {
            buffer: Arc::new(Mutex::new(Buffer {
                kept: Vec::new(),
                dropped: 0,
                limit: CAPTURE_LIMIT.saturating_add(lookahead),
            })),
        }
    }

    fn push(&self, bytes: &[u8]) {
        let mut buffer = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        let room = buffer.limit.saturating_sub(buffer.kept.len());
        let take = room.min(bytes.len());
        buffer.kept.extend_from_slice(&bytes[..take]);
        buffer.dropped += (bytes.len() - take) as u64;
    }

    /// What was kept, as (lossy) text.
    pub fn text(&self) -> String {
        let buffer = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&buffer.kept).into_owned()
    }

    /// How many bytes were dropped past the cap.
    pub fn dropped(&self) -> u64 {
        self.buffer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .dropped
    }
}

impl IsTerminal for Captured {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Captured {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Captured {
    async fn ready(&mut self) {}
}

impl OutputStream for Captured {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always accept: excess is dropped, so a chatty helper never blocks
        // or fails on a full pipe.
        Ok(64 << 10)
    }
}

impl AsyncWrite for Captured {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_past_the_cap_is_counted_and_dropped() {
        let mut captured = Captured::default();
        let handle = captured.clone();
        captured
            .write(Bytes::from(vec![b'a'; CAPTURE_LIMIT - 1]))
            .unwrap();
        captured.write(Bytes::from_static(b"bcd")).unwrap();
        assert_eq!(handle.text().len(), CAPTURE_LIMIT);
        assert!(handle.text().ends_with("ab"));
        assert_eq!(handle.dropped(), 2);
    }
}
