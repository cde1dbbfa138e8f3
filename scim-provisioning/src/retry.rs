//! Retries of idempotent calls: [`Sleeper`], the one piece of a runtime the library needs.
//!
//! The library owns no async runtime, so it cannot sleep by itself. Retrying inside the
//! [`HttpClient`](scim_core::HttpClient) instead was rejected: the client cannot tell which
//! calls are idempotent for *this* API, nor read Jira's `Retry-After` semantics, and every
//! client implementation would have to repeat the logic. So the library decides when and how
//! long, and a `Sleeper` the application provides does the waiting: `tokio::time::sleep` in a
//! tokio application, an instant one in tests. [`ThreadSleeper`], the default, works under any
//! executor at the cost of a short-lived thread per wait (waits are rare: only on 429/503).

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::BuildHasher;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use async_trait::async_trait;

/// Waits for a duration without blocking the executor.
#[async_trait]
pub trait Sleeper: Send + Sync {
    /// Completes after `duration`.
    async fn sleep(&self, duration: Duration);
}

/// A [`Sleeper`] for any executor: a helper thread sleeps, then wakes the waiting task.
#[derive(Debug, Default, Clone, Copy)]
pub struct ThreadSleeper;

#[async_trait]
impl Sleeper for ThreadSleeper {
    async fn sleep(&self, duration: Duration) {
        ThreadSleep {
            deadline: Instant::now() + duration,
            shared: Arc::new(Mutex::new(Shared::default())),
            started: false,
        }
        .await;
    }
}

#[derive(Default)]
struct Shared {
    done: bool,
    waker: Option<Waker>,
}

struct ThreadSleep {
    deadline: Instant,
    shared: Arc<Mutex<Shared>>,
    started: bool,
}

impl Future for ThreadSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        {
            let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
            if shared.done {
                return Poll::Ready(());
            }
            shared.waker = Some(cx.waker().clone());
        }
        if !self.started {
            self.started = true;
            let (deadline, shared) = (self.deadline, Arc::clone(&self.shared));
            std::thread::spawn(move || {
                std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
                let mut shared = shared.lock().unwrap_or_else(PoisonError::into_inner);
                shared.done = true;
                if let Some(w) = shared.waker.take() {
                    w.wake();
                }
            });
        }
        Poll::Pending
    }
}

/// How idempotent calls are retried on 429 and 503 (and on timeouts and failed connects).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: u32,
    /// The first backoff when the product gives no `Retry-After`; doubled on each retry.
    pub base_delay: Duration,
    /// The longest backoff, and the longest `Retry-After` honoured: a product asking for more
    /// gets its error passed on rather than a SCIM request held that long.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
        }
    }
}

static JITTER_SEQ: AtomicU64 = AtomicU64::new(0);

/// A pseudo-random fraction in [0, 1): jitter needs spread, not cryptographic quality.
fn unit_random() -> f64 {
    thread_local! {
        static SEED: RandomState = RandomState::new();
    }
    let n = JITTER_SEQ.fetch_add(1, Ordering::Relaxed);
    let bits = SEED.with(|s| s.hash_one(n));
    #[allow(clippy::cast_precision_loss)]
    let f = (bits >> 11) as f64 / (1u64 << 53) as f64;
    f
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0-based): `Retry-After` plus up to 10% jitter when
    /// given (so clients throttled together do not return together), else exponential backoff
    /// with "equal jitter" (between half and all of the doubled delay). `None`: do not retry.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if retry >= self.max_retries {
            return None;
        }
        if let Some(after) = retry_after {
            if after > self.max_delay {
                return None;
            }
            return Some(after + after.mul_f64(0.1 * unit_random()));
        }
        let doubled = self
            .base_delay
            .saturating_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX))
            .min(self.max_delay);
        Some(doubled / 2 + (doubled / 2).mul_f64(unit_random()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_stops() {
        let p = RetryPolicy::default();
        for retry in 0..3 {
            let d = p.delay(retry, None).unwrap();
            let full = Duration::from_millis(250 * (1 << retry));
            assert!(d >= full / 2 && d <= full, "{d:?} for retry {retry}");
        }
        assert_eq!(p.delay(3, None), None);
        let d = p.delay(0, Some(Duration::from_secs(2))).unwrap();
        assert!(d >= Duration::from_secs(2) && d <= Duration::from_millis(2200));
        assert_eq!(p.delay(0, Some(Duration::from_secs(120))), None);
    }

    #[test]
    fn thread_sleeper_wakes_up() {
        let start = Instant::now();
        scim_core::provision::conformance::block_on(ThreadSleeper.sleep(Duration::from_millis(20)));
        assert!(start.elapsed() >= Duration::from_millis(20));
    }
}
