//! Poison-tolerant locking, the one way locks are taken in this crate.
//!
//! Every value behind these locks is updated by replacement or stays consistent at
//! each step, so a holder that panicked leaves usable data: poisoning is ignored
//! rather than turned into a panic of every later holder (one failed request must not
//! take the server down).

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Locks a mutex, ignoring poisoning.
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Read-locks, ignoring poisoning.
pub fn read<T: ?Sized>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

/// Write-locks, ignoring poisoning.
pub fn write<T: ?Sized>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// Waits on a condition variable, ignoring poisoning.
pub fn wait<'a, T>(condvar: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    condvar.wait(guard).unwrap_or_else(PoisonError::into_inner)
}

/// Runs `work` on a thread of its own at a lower scheduling priority (nice 10 on
/// Linux), and returns what it made: for recomputations in the background, so that
/// requests, writes and renders keep the cores when they want them. `work` must not
/// hold a lock others wait for (a holder at a low priority would keep them waiting).
pub fn in_background<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let thread = scope.spawn(|| {
            lower_priority();
            work()
        });
        thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Lowers the calling thread's scheduling priority to nice 10 (Linux; elsewhere
/// nothing). A thread cannot raise it again without privileges.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 10) {
        tracing::debug!(error = %e, "cannot lower a background thread's priority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nice value of the calling thread (field 19 of /proc/thread-self/stat).
    #[cfg(target_os = "linux")]
    fn nice() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("/proc/thread-self/stat");
        let after_name = &stat[stat.rfind(')').expect("(comm)") + 1..];
        after_name.split_whitespace().nth(16).and_then(|n| n.parse().ok()).expect("the nice field")
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn background_work_runs_at_nice_10_and_leaves_the_caller_as_it_was() {
        let before = nice();
        let (answer, there) = in_background(|| (6 * 7, nice()));
        assert_eq!(answer, 42);
        assert_eq!(there, before.max(10), "the background thread's nice value");
        assert_eq!(nice(), before, "the caller's nice value");
    }

    #[test]
    fn a_panicked_holder_leaves_the_lock_usable() {
        let mutex = std::sync::Arc::new(Mutex::new(1));
        let rw = std::sync::Arc::new(RwLock::new(1));
        let (m, r) = (mutex.clone(), rw.clone());
        let _ = std::thread::spawn(move || {
            let _held = m.lock().unwrap();
            let _written = r.write().unwrap();
            panic!("poison both");
        })
        .join();
        assert!(mutex.is_poisoned() && rw.is_poisoned());
        *lock(&mutex) += 1;
        *write(&rw) += 1;
        assert_eq!((*lock(&mutex), *read(&rw)), (2, 2));
    }
}
