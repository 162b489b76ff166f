//! A counting global allocator: every heap allocation of this process (Rust code only:
//! librdkafka's `malloc`s do not pass through it) bumps two relaxed atomic counters.
//! Threads may opt out (the null broker's thread does), so a run can count the client's
//! allocations alone.
//!
//! `GlobalAlloc` is an unsafe trait, so this module allows `unsafe_code`; each block
//! only forwards to the system allocator with the caller's own arguments.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// The process's allocator: [`System`] plus counters.
#[derive(Debug)]
pub struct CountingAlloc;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static EXEMPT: Cell<bool> = const { Cell::new(false) };
}

fn count(size: usize) {
    // `try_with`: allocations during thread teardown still work, uncounted.
    if EXEMPT.try_with(Cell::get) == Ok(false) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(size as u64, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the arguments it was given, so the
// `GlobalAlloc` contract holds exactly as it does for `System`.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A growing `Vec` is an allocation as far as the hot path is concerned.
        count(new_size);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations and bytes so far.
#[derive(Clone, Copy, Debug, Default)]
pub struct Snapshot {
    /// Number of allocations (and reallocations).
    pub allocs: u64,
    /// Bytes requested.
    pub bytes: u64,
}

impl Snapshot {
    /// The counters now.
    pub fn now() -> Self {
        Snapshot {
            allocs: ALLOCS.load(Ordering::Relaxed),
            bytes: BYTES.load(Ordering::Relaxed),
        }
    }

    /// (allocations, bytes) per record since `self`.
    pub fn per_record_since(self, records: u64) -> (f64, f64) {
        let now = Snapshot::now();
        let n = records.max(1) as f64;
        (
            (now.allocs - self.allocs) as f64 / n,
            (now.bytes - self.bytes) as f64 / n,
        )
    }
}

/// Stops counting this thread's allocations.
pub fn exempt_this_thread() {
    EXEMPT.with(|e| e.set(true));
}
