//! Ctrl+C during a long import (`bundle import`, `import`): the signal
//! only sets a flag, which the node's import looks at between two steps,
//! so it stops with nothing half-written and says what it kept. Sync
//! handles Ctrl+C in its own runtime (see `sync` in `main.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A flag set by the first Ctrl+C from now on. The handler is installed
/// before this returns, so a Ctrl+C never kills the command half-way.
pub(crate) fn stop_on_ctrl_c() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let flag = stop.clone();
    std::thread::Builder::new()
        .name("ctrl-c".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            runtime.block_on(async move {
                let ctrl_c = tokio::signal::ctrl_c();
                tokio::pin!(ctrl_c);
                // The first poll installs the handler.
                let first = std::future::poll_fn(|cx| {
                    std::task::Poll::Ready(std::future::Future::poll(ctrl_c.as_mut(), cx))
                })
                .await;
                let _ = ready_tx.send(Ok(()));
                let caught = match first {
                    std::task::Poll::Ready(r) => r,
                    std::task::Poll::Pending => ctrl_c.await,
                };
                if caught.is_ok() {
                    flag.store(true, Ordering::Relaxed);
                }
            });
        })?;
    ready_rx
        .recv()
        .map_err(|_| anyhow::anyhow!("không cài được bộ bắt Ctrl+C"))??;
    Ok(stop)
}

/// The result of an import that Ctrl+C may stop: `Ok(None)` when it was
/// stopped (what was kept is printed, and the exit code is 130).
pub(crate) fn stopped<T>(result: Result<T, danvan_node::NodeError>) -> anyhow::Result<Option<T>> {
    match result {
        Err(e @ danvan_node::NodeError::Interrupted { .. }) => {
            println!("{e}");
            crate::EXIT_STATUS.store(danvan_node::EXIT_INTERRUPTED, Ordering::Relaxed);
            Ok(None)
        }
        other => Ok(Some(other?)),
    }
}
