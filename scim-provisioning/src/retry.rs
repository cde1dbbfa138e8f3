//! Retries: [`RetryPolicy`], [`RetryBudget`] (the time a SCIM request may spend) and
//! [`Sleeper`], the one piece of a runtime the library needs.
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

/// How calls are retried: any call on 429 and on 503 with `Retry-After` (the product did not
/// process it), idempotent calls also on other 5xx answers, timeouts and dropped connections,
/// all within a time [`budget`](RetryPolicy::budget) per SCIM request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries of one call after its first attempt (0 disables retrying).
    pub max_retries: u32,
    /// The first backoff when the product gives no `Retry-After`; doubled on each retry.
    pub base_delay: Duration,
    /// The longest backoff, and the longest `Retry-After` honoured: a product asking for more
    /// gets its error passed on rather than a SCIM request held that long.
    pub max_delay: Duration,
    /// The most time one SCIM request may spend on product calls and the waits between their
    /// retries (see [`RetryBudget`]). A retry whose wait would overrun it is not made: the
    /// request fails with 503 and a `Retry-After`, well before the identity provider's own
    /// timeout would turn it into a failure it backs off from for much longer.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    /// 8 retries, 250 ms doubling to at most 30 s, 20 s per SCIM request: identity providers
    /// give up on a request after about a minute (Okta) or less, and a 503 that arrives in
    /// time is retried at the pace it asks for.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 8,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            budget: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// The policy with `budget` per SCIM request.
    #[must_use]
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// The policy with at most `max_retries` retries per call.
    #[must_use]
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }
}

thread_local! {
    /// The budget of the SCIM request being polled on this thread (see [`RetryBudget::scope`]).
    static CURRENT: std::cell::RefCell<Option<Arc<RetryBudget>>> =
        const { std::cell::RefCell::new(None) };
}

/// The time one SCIM request may still spend on product calls and retries, shared by every
/// call the request makes, and what its retries cost.
///
/// Time spent is the wall time since the request started, except that a wait counts as the
/// duration asked of the [`Sleeper`], whatever the sleeper really took: a test's instant
/// sleeper then sees the same budget decisions a real one would.
///
/// A provisioner runs each SCIM operation inside [`RetryBudget::scope`]; the transport finds
/// the budget with [`RetryBudget::current`]. This works like a task-local value under any
/// executor: the scope sets a thread-local while it polls the operation, so nothing ties the
/// library to a runtime.
#[derive(Debug)]
pub struct RetryBudget {
    limit: Duration,
    started: Instant,
    spent: Mutex<Waits>,
}

#[derive(Debug, Default)]
struct Waits {
    asked: Duration,
    real: Duration,
    retries: u32,
    longest_retry_after: Option<Duration>,
}

impl RetryBudget {
    /// A budget of `limit`, starting now.
    pub fn new(limit: Duration) -> Arc<Self> {
        Arc::new(RetryBudget {
            limit,
            started: Instant::now(),
            spent: Mutex::new(Waits::default()),
        })
    }

    /// The budget of the SCIM request being polled, if it runs inside a [`RetryBudget::scope`].
    pub fn current() -> Option<Arc<Self>> {
        CURRENT.with(|c| c.borrow().clone())
    }

    /// `future` with this budget as [`RetryBudget::current`] whenever it is polled, unless it
    /// runs inside an outer scope already (a wrapper's budget covers the whole request).
    pub fn scope<F: Future>(self: Arc<Self>, future: F) -> BudgetScope<F> {
        BudgetScope {
            budget: self,
            future: Box::pin(future),
        }
    }

    /// The whole budget.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// Time spent so far (waits counted as asked).
    pub fn spent(&self) -> Duration {
        let waits = self.lock();
        self.started
            .elapsed()
            .saturating_sub(waits.real)
            .saturating_add(waits.asked)
    }

    /// Whether a wait of `wait` still fits.
    pub fn allows(&self, wait: Duration) -> bool {
        self.spent().saturating_add(wait) <= self.limit
    }

    /// Retries made so far under this budget.
    pub fn retries(&self) -> u32 {
        self.lock().retries
    }

    /// Total time asked of the sleeper so far: the latency retries added.
    pub fn waited(&self) -> Duration {
        self.lock().asked
    }

    /// The longest `Retry-After` a product asked for under this budget.
    pub fn longest_retry_after(&self) -> Option<Duration> {
        self.lock().longest_retry_after
    }

    /// Waits `wait` with `sleeper` and counts it as one retry.
    pub async fn wait(&self, sleeper: &dyn Sleeper, wait: Duration) {
        let before = Instant::now();
        sleeper.sleep(wait).await;
        let real = before.elapsed();
        let mut waits = self.lock();
        waits.asked = waits.asked.saturating_add(wait);
        waits.real = waits.real.saturating_add(real);
        waits.retries = waits.retries.saturating_add(1);
    }

    /// Notes a `Retry-After` the product sent.
    pub fn saw_retry_after(&self, after: Duration) {
        let mut waits = self.lock();
        waits.longest_retry_after = Some(waits.longest_retry_after.map_or(after, |d| d.max(after)));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waits> {
        self.spent.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Clears the thread's current budget when dropped.
struct ResetCurrent;

impl Drop for ResetCurrent {
    fn drop(&mut self) {
        CURRENT.with(|c| *c.borrow_mut() = None);
    }
}

/// A future run under a [`RetryBudget`] (see [`RetryBudget::scope`]).
pub struct BudgetScope<F> {
    budget: Arc<RetryBudget>,
    future: Pin<Box<F>>,
}

impl<F> std::fmt::Debug for BudgetScope<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BudgetScope")
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl<F: Future> Future for BudgetScope<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let outer = CURRENT.with(|c| c.borrow().is_some());
        if outer {
            return self.future.as_mut().poll(cx);
        }
        let budget = Arc::clone(&self.budget);
        CURRENT.with(|c| *c.borrow_mut() = Some(budget));
        // Cleared on the way out even if the operation panics, so no budget leaks into the
        // next task polled on this thread.
        let _reset = ResetCurrent;
        self.future.as_mut().poll(cx)
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
        let p = RetryPolicy::default().with_max_retries(3);
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

    struct Instantly;

    #[async_trait]
    impl Sleeper for Instantly {
        async fn sleep(&self, _: Duration) {}
    }

    #[test]
    fn a_budget_counts_waits_as_asked_and_is_current_only_inside_its_scope() {
        use scim_core::provision::conformance::block_on;
        let budget = RetryBudget::new(Duration::from_secs(10));
        assert!(RetryBudget::current().is_none());
        let inner = RetryBudget::new(Duration::from_secs(1));
        let seen = block_on(Arc::clone(&budget).scope(async {
            let b = RetryBudget::current().unwrap();
            b.wait(&Instantly, Duration::from_secs(4)).await;
            // A nested scope keeps the outer budget: the request's, not the call's.
            let nested = inner
                .scope(async { RetryBudget::current().unwrap().limit() })
                .await;
            (b.limit(), nested)
        }));
        assert_eq!(seen, (Duration::from_secs(10), Duration::from_secs(10)));
        assert!(RetryBudget::current().is_none());
        assert_eq!(budget.retries(), 1);
        assert_eq!(budget.waited(), Duration::from_secs(4));
        assert!(budget.spent() >= Duration::from_secs(4));
        assert!(budget.allows(Duration::from_secs(5)));
        assert!(!budget.allows(Duration::from_secs(7)));
    }

    #[test]
    fn thread_sleeper_wakes_up() {
        let start = Instant::now();
        scim_core::provision::conformance::block_on(ThreadSleeper.sleep(Duration::from_millis(20)));
        assert!(start.elapsed() >= Duration::from_millis(20));
    }
}
