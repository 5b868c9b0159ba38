//! Project automation: `cargo xtask generate [--check]`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = xtask::workspace_root();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["generate"] => run(|| xtask::write_all(&root)),
        ["generate", "--check"] => run(|| xtask::check_all(&root)),
        _ => {
            eprintln!("usage: cargo xtask generate [--check]");
            eprintln!();
            eprintln!(
                "  generate          regenerate the crates from {}",
                xtask::SPEC_PATH
            );
            eprintln!(
                "  generate --check  fail with a diff when a committed generated file is stale"
            );
            ExitCode::from(2)
        }
    }
}

fn run(f: impl FnOnce() -> Result<Vec<PathBuf>, xtask::Error>) -> ExitCode {
    match f() {
        Ok(paths) => {
            for p in paths {
                println!("{}", p.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
