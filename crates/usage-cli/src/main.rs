//! `genesys-usage`: see `genesys-usage --help`.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use usage_cli::cli::Cli;

fn main() -> ExitCode {
    // Usage errors exit with 2 here, before anything is sent.
    let cli = Cli::parse();
    // RUST_LOG is honoured; nothing is logged without it.
    if let Ok(filter) = EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(usage_cli::code::API);
        }
    };
    let vars = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let stdin = std::io::stdin().lock();
    ExitCode::from(runtime.block_on(usage_cli::run(cli, vars, stdin)))
}
