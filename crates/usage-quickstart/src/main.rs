//! `cargo run -p usage-quickstart`

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let mut out = std::io::stdout().lock();
    match usage_quickstart::run(|name| std::env::var(name).ok(), &mut out).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("usage-quickstart: {e}");
            ExitCode::FAILURE
        }
    }
}
