//! Runs futures with at most N in flight, without an async runtime.
//!
//! The `futures` crate's `buffer_unordered` does the same; this is the few lines of it that the
//! reconciler (applying a plan) and the Atlassian provisioner (reading a whole directory) need,
//! so neither keeps a dependency beyond the workspace's. All the futures run inside the one
//! future returned here (no spawning), so it works on any executor, a [`RetryBudget`]
//! scope around it covers every task, and the concurrency is in the I/O the target does while
//! one call awaits, which is where a sync spends its time.
//!
//! [`RetryBudget`]: crate::RetryBudget

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// A boxed future borrowing for `'a`.
pub type Task<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs `tasks` with at most `limit` (at least 1) in flight; results come in completion order
/// (tag them, e.g. with their index, to put them back in order).
pub async fn run<'a, T: Send + 'a>(tasks: Vec<Task<'a, T>>, limit: usize) -> Vec<T> {
    let limit = limit.max(1);
    let mut pending = tasks.into_iter();
    let mut running: Vec<Task<'a, T>> = Vec::with_capacity(limit);
    let mut done = Vec::new();
    std::future::poll_fn(move |cx| {
        loop {
            while running.len() < limit {
                match pending.next() {
                    Some(task) => running.push(task),
                    None => break,
                }
            }
            if running.is_empty() {
                return Poll::Ready(std::mem::take(&mut done));
            }
            // Every running task is polled with the same waker, so a wake from any of them
            // brings us back here; with `limit` small, polling them all is cheap.
            let before = done.len();
            let mut i = 0;
            while let Some(task) = running.get_mut(i) {
                if let Poll::Ready(value) = task.as_mut().poll(cx) {
                    done.push(value);
                    drop(running.swap_remove(i));
                } else {
                    i += 1;
                }
            }
            if done.len() == before {
                return Poll::Pending;
            }
        }
    })
    .await
}

/// [`run`], with the results in the order of `tasks`.
pub async fn run_in_order<'a, T: Send + 'a>(tasks: Vec<Task<'a, T>>, limit: usize) -> Vec<T> {
    let tagged: Vec<Task<'a, (usize, T)>> = tasks
        .into_iter()
        .enumerate()
        .map(|(i, task)| Box::pin(async move { (i, task.await) }) as Task<'a, _>)
        .collect();
    let mut done = run(tagged, limit).await;
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, value)| value).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Yields once, so tasks interleave.
    struct YieldOnce(bool);
    impl Future for YieldOnce {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
            if self.0 {
                Poll::Ready(())
            } else {
                self.0 = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    #[test]
    fn never_more_than_the_limit_in_flight() {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<Task<'_, usize>> = (0..20usize)
            .map(|n| {
                let in_flight = in_flight.clone();
                let peak = peak.clone();
                Box::pin(async move {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    YieldOnce(false).await;
                    YieldOnce(false).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    n
                }) as Task<'_, usize>
            })
            .collect();
        let mut out = scim_core::provision::conformance::block_on(run(tasks, 4));
        out.sort_unstable();
        assert_eq!(out, (0..20).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn in_order_keeps_the_order_of_the_tasks() {
        // Task n yields 20 - n times, so the last tasks finish first.
        let tasks: Vec<Task<'_, usize>> = (0..20usize)
            .map(|n| {
                Box::pin(async move {
                    for _ in n..20 {
                        YieldOnce(false).await;
                    }
                    n
                }) as Task<'_, usize>
            })
            .collect();
        let out = scim_core::provision::conformance::block_on(run_in_order(tasks, 4));
        assert_eq!(out, (0..20).collect::<Vec<_>>());
    }
}
