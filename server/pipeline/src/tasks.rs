//! Every background task of the server goes through one tracker: at the end of the server the tasks are
//! stopped and waited for, and a task that panics is reported by name instead of vanishing with its handle.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The server's background tasks. Cheap to clone.
#[derive(Clone, Default)]
pub struct Tasks {
    tracker: TaskTracker,
    /// Cancelled when the server ends: async tasks stop at their next `.await`.
    stop: CancellationToken,
}

impl Tasks {
    /// Runs `task` on the runtime until it ends or the server does. `None` when it panicked or was stopped.
    pub fn spawn<T: Send + 'static>(
        &self,
        name: &'static str,
        task: impl Future<Output = T> + Send + 'static,
    ) -> JoinHandle<Option<T>> {
        let stop = self.stop.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                result = AssertUnwindSafe(task).catch_unwind() => result.map_err(|panic| report(name, panic)).ok(),
                () = stop.cancelled() => None,
            }
        })
    }

    /// Runs `work` on a blocking thread. `None` when it panicked.
    pub fn spawn_blocking<T: Send + 'static>(
        &self,
        name: &'static str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> JoinHandle<Option<T>> {
        self.tracker.spawn_blocking(move || {
            std::panic::catch_unwind(AssertUnwindSafe(work)).map_err(|panic| report(name, panic)).ok()
        })
    }

    /// Whether the server is ending: long blocking work checks it, since it cannot be stopped otherwise.
    pub fn stopping(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Stops the async tasks and waits up to `timeout` for every task (blocking work cannot be stopped).
    pub async fn stop(&self, timeout: Duration) {
        self.stop.cancel();
        self.tracker.close();
        if tokio::time::timeout(timeout, self.tracker.wait()).await.is_err() {
            tracing::warn!(n_tasks = self.tracker.len(), "background tasks still running at exit");
        }
    }
}

fn report(name: &'static str, panic: Box<dyn Any + Send>) {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    tracing::error!(task = name, "a background task panicked: {message}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_is_caught_and_stop_ends_the_waiting_tasks() {
        let tasks = Tasks::default();
        assert_eq!(tasks.spawn("answer", async { 42 }).await.unwrap(), Some(42));
        assert_eq!(tasks.spawn("panics", async { boom() }).await.unwrap(), None);
        assert_eq!(tasks.spawn_blocking("panics", boom).await.unwrap(), None);
        let waiting = tasks.spawn("waits", std::future::pending::<()>());
        tasks.stop(Duration::from_secs(5)).await;
        assert!(waiting.is_finished());
    }

    fn boom() {
        panic!("boom")
    }
}
