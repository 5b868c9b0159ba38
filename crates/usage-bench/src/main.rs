//! `cargo run --release -p usage-bench -- <decode [rows]|e2e|jobs|poll|concurrency|cli|sync|history|backtest|all>`
//!
//! Each benchmark measures the SDK and its floor in the same run and prints the ratio.
//! See BENCHMARKS.md for what each measures and the latest numbers.

#![forbid(unsafe_code)]

mod backtest;
mod cli;
mod concurrency;
mod decode;
mod e2e;
mod floor;
mod history;
mod jobs;
mod measure;
mod poll;
mod raw;
mod sync;
mod watch;

use std::process::ExitCode;

fn main() -> ExitCode {
    // USAGE_BENCH_RUNTIME=current_thread runs a child on one thread: what the job costs
    // without tokio's cross-thread wake-ups (BENCHMARKS.md, "where the time goes").
    let runtime = match std::env::var("USAGE_BENCH_RUNTIME").as_deref() {
        Ok("current_thread") => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    };
    match runtime {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => {
            eprintln!("usage-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["decode"] => decode::run(decode::ROWS),
        ["decode", rows] => rows.parse().map_err(Into::into).and_then(decode::run),
        ["e2e"] => e2e::run().await,
        ["jobs"] => jobs::run().await,
        ["poll"] => poll::run().await,
        ["concurrency"] => concurrency::run().await,
        ["cli"] => cli::run().await,
        ["sync"] => sync::run().await,
        ["history"] => history::run().await,
        ["backtest"] => backtest::run().await,
        ["watch"] => watch::run().await,
        ["construction"] => e2e::construction(),
        ["job-loop", variant, url, n] => e2e::job_loop(variant, url, n).await,
        // Each in a process of its own, so one's peak memory does not show in another's.
        ["all"] => all(),
        // Children of the e2e benchmark, each in its own process so peak memory is its own.
        ["serve-fake", rows] => e2e::serve_fake(rows, "0").await,
        ["serve-fake", rows, delay_ms] => e2e::serve_fake(rows, delay_ms).await,
        ["job", variant, url, rows] => e2e::job(variant, url, rows).await,
        ["jobs-job", variant, url] => jobs::job(variant, url).await,
        _ => Err(
            "usage: usage-bench <decode|e2e|jobs|poll|concurrency|cli|sync|history|backtest|watch|all>"
                .into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("usage-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result = std::result::Result<(), Box<dyn std::error::Error>>;

fn all() -> Result {
    let exe = std::env::current_exe()?;
    for bench in [
        "decode",
        "e2e",
        "jobs",
        "poll",
        "concurrency",
        "cli",
        "sync",
        "history",
        "backtest",
    ] {
        let status = std::process::Command::new(&exe).arg(bench).status()?;
        if !status.success() {
            return Err(format!("{bench} failed: {status}").into());
        }
    }
    Ok(())
}
