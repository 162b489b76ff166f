//! `buffer.memory`: the bytes of records the producer may hold. `send` waits for room
//! (first come, first served), `try_send` fails at once; a batch gives its bytes back
//! when it settles.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, TryAcquireError};
use tokio::time::Instant;

use crate::error::{Error, Result};

/// A byte budget: one semaphore permit per byte.
#[derive(Debug)]
pub(crate) struct Memory {
    sem: Semaphore,
    capacity: usize,
    /// `send` calls waiting for room: while any wait, every batch is sent without linger.
    waiters: AtomicUsize,
}

/// Decrements the waiter count however the wait ends (including cancellation).
struct WaiterGuard<'a>(&'a AtomicUsize);

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Memory {
    pub(crate) fn new(capacity: usize) -> Self {
        Memory {
            sem: Semaphore::new(capacity),
            capacity,
            waiters: AtomicUsize::new(0),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    fn full(&self, n: usize, waited: Duration) -> Error {
        Error::BufferFull {
            requested: n,
            capacity: self.capacity,
            waited,
        }
    }

    /// Takes `n` bytes if they are free now.
    pub(crate) fn try_reserve(&self, n: usize) -> Result<()> {
        let permits = u32::try_from(n).map_err(|_| self.full(n, Duration::ZERO))?;
        match self.sem.try_acquire_many(permits) {
            Ok(p) => {
                p.forget();
                Ok(())
            }
            Err(TryAcquireError::Closed) => Err(Error::Closed),
            Err(TryAcquireError::NoPermits) => Err(self.full(n, Duration::ZERO)),
        }
    }

    /// Takes `n` bytes, waiting until `deadline` for them. `on_wait` runs once the
    /// caller counts as waiting (senders then send every batch without linger).
    pub(crate) async fn reserve(
        &self,
        n: usize,
        deadline: Instant,
        on_wait: impl FnOnce(),
    ) -> Result<()> {
        match self.try_reserve(n) {
            Err(Error::BufferFull { .. }) => {}
            other => return other,
        }
        let started = Instant::now();
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let _guard = WaiterGuard(&self.waiters);
        on_wait();
        let permits = u32::try_from(n).map_err(|_| self.full(n, Duration::ZERO))?;
        match tokio::time::timeout_at(deadline, self.sem.acquire_many(permits)).await {
            Ok(Ok(p)) => {
                p.forget();
                Ok(())
            }
            Ok(Err(_closed)) => Err(Error::Closed),
            Err(_elapsed) => Err(self.full(n, started.elapsed())),
        }
    }

    /// Gives `n` bytes back.
    pub(crate) fn release(&self, n: usize) {
        if n > 0 {
            self.sem.add_permits(n);
        }
    }

    /// Whether some `send` is waiting for room.
    pub(crate) fn has_waiters(&self) -> bool {
        self.waiters.load(Ordering::SeqCst) > 0
    }

    /// Bytes free now.
    pub(crate) fn available(&self) -> usize {
        self.sem.available_permits()
    }

    /// Fails every waiting and later reservation with [`Error::Closed`].
    pub(crate) fn close(&self) {
        self.sem.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_then_times_out_and_releases() {
        let m = Memory::new(100);
        m.try_reserve(60).unwrap();
        assert!(matches!(
            m.try_reserve(60),
            Err(Error::BufferFull { requested: 60, .. })
        ));
        let err = m
            .reserve(60, Instant::now() + Duration::from_millis(20), || {})
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::BufferFull { waited, .. } if waited >= Duration::from_millis(15))
        );
        assert!(!m.has_waiters());
        m.release(60);
        let mut nudged = false;
        m.reserve(100, Instant::now() + Duration::from_millis(20), || {
            nudged = true
        })
        .await
        .unwrap();
        assert!(!nudged, "room was free: no wait");
        assert_eq!(m.available(), 0);
        m.close();
        assert!(matches!(m.try_reserve(1), Err(Error::Closed)));
    }
}
