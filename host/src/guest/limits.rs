//! The limits of a run: fuel, the deadline (an epoch ticker and a timeout
//! around the guest), the memory and table limiter, and the bounds on what
//! the host holds for the guest.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::time::error::Elapsed;
use wasmtime::{Engine, ResourceLimiter, Store};

use crate::engine::EPOCH_TICK;
use crate::error::{Error, Result};

/// Most table elements a guest may have (function tables of real programs
/// hold a few thousand).
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Most host resources a guest may hold at once (a helper making one
/// request holds about ten). Each is bounded in size, so this bounds the
/// host memory they take: 512 resources, none over 80 KiB, is at most
/// 40 MiB, and in practice far less (a request needs three of them).
pub const MAX_RESOURCES: usize = 512;

/// Largest `wasi:http` `fields` (headers), in wasmtime's in-memory
/// accounting: room for a few 8 KiB headers.
pub const FIELD_SIZE_LIMIT: usize = 16 << 10;

/// Most random bytes one `get-random-bytes` call may ask for (wasmtime's
/// default is 64 MiB).
pub const MAX_RANDOM_BYTES: u64 = 64 << 10;

/// When the helper's requests must be done: a tenth of the timeout before
/// the run's deadline, so that a stalled network leaves the helper time to
/// report it (as `unavailable`) instead of being cut off. `doctor` gives
/// each of its network probes the same time.
pub fn network_deadline(deadline: Instant, timeout: Duration) -> Instant {
    deadline - timeout / 10
}

/// Caps the total size of the guest's linear memories.
pub(super) struct MemoryLimiter {
    cap: u64,
    used: u64,
    hit: bool,
}

impl MemoryLimiter {
    /// A limiter allowing `cap` bytes of linear memory in all.
    pub(super) fn new(cap: u64) -> MemoryLimiter {
        MemoryLimiter {
            cap,
            used: 0,
            hit: false,
        }
    }

    /// Whether it refused the guest some memory.
    pub(super) fn hit(&self) -> bool {
        self.hit
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let growth = desired.saturating_sub(current) as u64;
        if self.used.saturating_add(growth) > self.cap {
            self.hit = true;
            return Ok(false);
        }
        self.used += growth;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _: usize,
        desired: usize,
        _: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        64
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        16
    }
}

/// Bounds `store`: memory and tables by the [`MemoryLimiter`] that
/// `limiter` finds in its data, instructions by `fuel`, and running wasm
/// yields at every epoch tick (see [`within`]).
pub(super) fn bound<T: 'static>(
    store: &mut Store<T>,
    fuel: u64,
    limiter: fn(&mut T) -> &mut MemoryLimiter,
) -> Result<()> {
    store.limiter(move |data| limiter(data));
    store
        .set_fuel(fuel)
        .map_err(|e| Error::Internal(format!("cannot set fuel: {e}")))?;
    // Yield to the executor at every epoch tick, so the deadline in
    // `within` is checked even while the guest spins in wasm.
    store.epoch_deadline_async_yield_and_update(1);
    Ok(())
}

/// Drives `guest` to its end, or gives up after `remaining`: on a runtime
/// of its own, with `engine`'s epoch advancing every [`EPOCH_TICK`] so that
/// a guest spinning in wasm yields to the timeout.
pub(super) fn within<F: Future>(
    engine: &Engine,
    remaining: Duration,
    guest: F,
) -> Result<std::result::Result<F::Output, Elapsed>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
    let ticker = EpochTicker::start(engine);
    // The timer is made inside the runtime: tokio 1.54.1 timers need its
    // handle when created.
    let outcome = runtime.block_on(async { tokio::time::timeout(remaining, guest).await });
    drop(ticker);
    // Do not wait for a name lookup still blocked in the resolver (a DNS
    // server that stopped answering): the deadline has passed or the
    // helper is done with it.
    runtime.shutdown_background();
    Ok(outcome)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: &Engine) -> EpochTicker {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.clone();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::park_timeout(EPOCH_TICK);
                engine.increment_epoch();
            }
        });
        EpochTicker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_limiter_sums_memories_and_remembers_refusals() {
        let mut limiter = MemoryLimiter {
            cap: 100,
            used: 0,
            hit: false,
        };
        assert!(limiter.memory_growing(0, 60, None).unwrap());
        assert!(limiter.memory_growing(0, 40, None).unwrap());
        assert!(!limiter.hit);
        assert!(!limiter.memory_growing(40, 41, None).unwrap());
        assert!(limiter.hit);
    }

    #[test]
    fn tables_grow_up_to_the_element_cap() {
        let mut limiter = MemoryLimiter::new(100);
        assert!(limiter.table_growing(0, MAX_TABLE_ELEMENTS, None).unwrap());
        assert!(
            !limiter
                .table_growing(0, MAX_TABLE_ELEMENTS + 1, None)
                .unwrap()
        );
        assert!(!limiter.hit());
    }

    #[test]
    fn requests_end_a_tenth_of_the_timeout_before_the_deadline() {
        let deadline = Instant::now() + Duration::from_secs(30);
        assert_eq!(
            network_deadline(deadline, Duration::from_secs(10)),
            deadline - Duration::from_secs(1)
        );
    }

    #[test]
    fn within_gives_up_on_a_guest_that_never_ends() {
        let engine = Engine::default();
        let start = Instant::now();
        let outcome = within(
            &engine,
            Duration::from_millis(50),
            std::future::pending::<()>(),
        )
        .unwrap();
        assert!(outcome.is_err());
        assert!(start.elapsed() >= Duration::from_millis(50));
        let done = within(&engine, Duration::from_secs(5), async { 7 }).unwrap();
        assert_eq!(done.unwrap(), 7);
    }
}
