//! Project automation: `cargo xtask generate [--check]`, `cargo xtask import FILE...`,
//! `cargo xtask public-api [--check]`, `cargo xtask dist`.

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
        ["public-api"] => run(|| xtask::write_public_api(&root)),
        ["public-api", "--check"] => run(|| xtask::check_public_api(&root)),
        ["dist"] => run(|| xtask::dist::dist(&root)),
        ["import", files @ ..] if !files.is_empty() => {
            let paths: Vec<&std::path::Path> =
                files.iter().map(|f| std::path::Path::new(*f)).collect();
            run(|| xtask::write_import(&root, &paths))
        }
        ["import-speed", file, rest @ ..] => {
            let copies = rest.first().and_then(|c| c.parse().ok()).unwrap_or(600);
            match xtask::import_speed(&root, std::path::Path::new(file), copies) {
                Ok((bytes, seconds)) => {
                    println!(
                        "import of a {:.1} MB Swagger JSON document: {seconds:.2} s to parse and convert (target < 2 s)",
                        bytes as f64 / 1e6
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!(
                "usage: cargo xtask generate [--check] | import FILE... | public-api [--check]"
            );
            eprintln!();
            eprintln!(
                "  generate          regenerate the crates from {}",
                xtask::SPEC_PATH
            );
            eprintln!(
                "  generate --check  fail with a diff when a committed generated file is stale"
            );
            eprintln!(
                "  import FILE...    rewrite {} from upstream's Swagger 2.0 FILEs (JSON or YAML)",
                xtask::SPEC_PATH
            );
            eprintln!(
                "  public-api        rewrite crates/*/public-api.txt, the published crates' public API"
            );
            eprintln!("  public-api --check  fail with a diff when a listing is stale");
            eprintln!(
                "  dist              the Debian package and the release archive in target/dist (needs cargo-deb)"
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
