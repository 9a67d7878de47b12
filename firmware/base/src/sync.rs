//! Mutex poisoning, answered once.
//!
//! A mutex is poisoned when a thread panicked while holding it. Every mutex in
//! the firmware guards plain data (catalogs, status snapshots, counters) whose
//! updates keep it consistent at every step or are whole-value replacements;
//! a panic elsewhere must not take the recorder or the failover engine down
//! with it. So the guard is recovered and the data used as it is.

use std::sync::{Mutex, MutexGuard};

/// [`Mutex::lock`] that recovers from poisoning (see the module doc for why that is right).
pub trait LockExt<T: ?Sized> {
    /// Locks, taking over the guard if a previous holder panicked.
    fn lock_or_recover(&self) -> MutexGuard<'_, T>;
}

impl<T: ?Sized> LockExt<T> for Mutex<T> {
    fn lock_or_recover(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_poisoned_mutex_still_gives_its_data() {
        let m = Arc::new(Mutex::new(1));
        let m2 = m.clone();
        let _ = std::thread::spawn(move || {
            let mut g = m2.lock_or_recover();
            *g = 2;
            panic!("poison it");
        })
        .join();
        assert!(m.is_poisoned());
        assert_eq!(*m.lock_or_recover(), 2);
    }
}
