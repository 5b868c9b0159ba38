//! The signals a service manager and a terminal send: SIGTERM (systemd's stop, a
//! container's) and Ctrl-C. `serve` and `sync` stop on either and tidy up (a sync gives its
//! target's lock back) instead of dying mid-write; each listens once, so no two handlers
//! race to decide the exit code.

/// Which signal stopped a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM: asked to stop, as a service manager does.
    Terminate,
    /// Ctrl-C (SIGINT).
    Interrupt,
}

/// SIGTERM and Ctrl-C, caught from the moment this is made: made before a command says it
/// is ready (serve's address), so that a signal sent on that word is never the default
/// action's, which would end the process with no exit code.
pub struct Signals {
    #[cfg(unix)]
    listening: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    /// Starts listening (inside the runtime).
    pub fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listening = signal(SignalKind::terminate())
                .and_then(|term| Ok((term, signal(SignalKind::interrupt())?)))
                .ok();
            Self { listening }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    /// The first of SIGTERM and Ctrl-C.
    pub async fn stopped(self) -> Signal {
        #[cfg(unix)]
        if let Some((mut term, mut interrupt)) = self.listening {
            return tokio::select! {
                _ = term.recv() => Signal::Terminate,
                _ = interrupt.recv() => Signal::Interrupt,
            };
        }
        let _ = tokio::signal::ctrl_c().await;
        Signal::Interrupt
    }
}
