//! [`Handled`]: how many documents an emitter's thread has taken off its queue (sent or
//! dropped), which `flush` waits on.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The longest a flush sleeps before it looks again (and pokes the thread).
const STEP: Duration = Duration::from_millis(50);

/// A count of documents handled by an emitter's thread, with a wait for it to reach a target.
#[derive(Debug, Default)]
pub(crate) struct Handled {
    count: Mutex<u64>,
    changed: Condvar,
}

impl Handled {
    /// Adds `n` handled documents and wakes every waiting flush.
    pub(crate) fn mark(&self, n: u64) {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner) += n;
        self.changed.notify_all();
    }

    /// The documents handled so far.
    pub(crate) fn get(&self) -> u64 {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until `target` documents are handled or `deadline` passes; `true` when they are.
    /// `on_step` runs after each wake-up that is not yet the end (an emitter pokes its thread
    /// there, in case a wake-up was lost).
    pub(crate) fn wait_for(&self, target: u64, deadline: Instant, mut on_step: impl FnMut()) -> bool {
        let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        while *count < target {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            count =
                self.changed.wait_timeout(count, (deadline - now).min(STEP)).unwrap_or_else(PoisonError::into_inner).0;
            if *count < target {
                on_step();
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn waits_until_the_target_is_handled_or_the_deadline() {
        let handled = Arc::new(Handled::default());
        assert!(handled.wait_for(0, Instant::now(), || {}));
        assert!(!handled.wait_for(1, Instant::now() + Duration::from_millis(20), || {}));
        let marker = handled.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            marker.mark(2);
        });
        assert!(handled.wait_for(2, Instant::now() + Duration::from_secs(10), || {}));
        assert_eq!(handled.get(), 2);
        t.join().unwrap();
    }
}
