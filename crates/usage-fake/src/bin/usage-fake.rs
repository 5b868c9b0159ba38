//! `usage-fake`: serves the fake Usage API on 127.0.0.1 until interrupted.
//!
//! usage-fake [--port N] [--rows N] [--running-polls N] [--seed N]
//!
//! `--rows` is the org's number of usage series: the rows of a query grouped by client,
//! user and templateUri without granularity (see the crate's README).

use std::process::ExitCode;

use usage_fake::{Completion, FakeConfig, FakeService};

fn parse_args() -> Result<(FakeConfig, u16), String> {
    let mut config = FakeConfig::default();
    let mut port = 8080;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value"))?
                .parse::<u64>()
                .map_err(|e| format!("{flag}: {e}"))
        };
        match flag.as_str() {
            "--port" => port = u16::try_from(value()?).map_err(|e| format!("--port: {e}"))?,
            "--rows" => config.rows = value()? as usize,
            "--running-polls" => config.completion = Completion::AfterPolls(value()? as u32),
            "--seed" => config.seed = value()?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok((config, port))
}

#[tokio::main]
async fn main() -> ExitCode {
    let (config, port) = match parse_args() {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!(
                "{e}\nusage: usage-fake [--port N] [--rows N] [--running-polls N] [--seed N]"
            );
            return ExitCode::from(2);
        }
    };
    let fake = match FakeService::start_on(config, port).await {
        Ok(fake) => fake,
        Err(e) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("usage-fake listening on {}", fake.base_url());
    println!("  client id:     {}", fake.client_id());
    println!("  client secret: {}", fake.client_secret());
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = fake.wait() => {}
    }
    ExitCode::SUCCESS
}
