//! A global allocator that counts allocations per thread, for tests that
//! show a hot path allocates nothing. Shared by the media and store tests
//! (`#[path]`-included).
//!
//! A `GlobalAlloc` is an unsafe interface: this module is one of the few
//! allowed unsafe code (see `[workspace.lints]` and scripts/test).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is passed unchanged to the system allocator, which upholds
// the `GlobalAlloc` contract; counting (a thread-local `Cell`, no allocation) does
// not touch the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.with(|a| a.set(a.get() + 1));
        // SAFETY: the caller's guarantees for `alloc` (non-zero size) are `System.alloc`'s.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: `p` was allocated by this allocator, i.e. by `System`, with layout `l`.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.with(|a| a.set(a.get() + 1));
        // SAFETY: `p` was allocated by `System` with layout `l`; the caller's guarantees on
        // `n` are `System.realloc`'s.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations (and reallocations) made by this thread so far.
pub fn allocs() -> u64 {
    ALLOCS.with(|a| a.get())
}
