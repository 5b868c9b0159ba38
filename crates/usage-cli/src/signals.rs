//! The signals a service manager and a terminal send: SIGTERM (systemd's stop, a
//! container's) and Ctrl-C. `serve` and `sync` stop on either and tidy up (a sync gives its
//! target's lock back) instead of dying mid-write.

/// SIGTERM or Ctrl-C.
pub async fn stopped() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
