//! Locking shared state that a panic cannot leave half-changed.

use std::sync::{Mutex, MutexGuard};

/// Lock `mutex`, going on if a thread panicked while holding it. The service's locks guard
/// either plain queues and maps changed in one step, or (the writer) a connection whose
/// transaction is rolled back on a panic: a panic elsewhere must not stop every later callback.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
