//! What an installed `genesys-usage` gives an operator besides its commands: shell
//! completions that a real bash completes with, and a man page that `man` renders.

mod common;

use common::scratch;

use std::process::Command;

fn tool() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("genesys-usage"))
}

/// What bash's completion offers for `words`, the last one being completed.
fn complete(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let cword = words.len() - 1;
    let (cur, prev) = (words[cword], words[cword - 1]);
    let program = format!(
        "source '{}'\n\
         COMP_WORDS=({})\n\
         COMP_CWORD={cword}\n\
         COMP_LINE='{}'\n\
         COMP_POINT=${{#COMP_LINE}}\n\
         \"$(complete -p genesys-usage | sed -E 's/.* -F ([^ ]+) .*/\\1/')\" genesys-usage '{cur}' '{prev}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        quoted.join(" "),
        words.join(" "),
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_real_bash_completes_the_commands_and_each_commands_flags() {
    let dir = scratch("completions");
    let out = tool().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let script = dir.join("genesys-usage.bash");
    std::fs::write(&script, &out.stdout).unwrap();

    assert_eq!(
        complete(&script, &["genesys-usage", "re"]),
        ["report", "resume", "regions"]
    );
    let sync = complete(&script, &["genesys-usage", "sync", "--re"]);
    assert!(sync.contains(&"--repull".to_string()), "{sync:?}");
    let allowance = complete(&script, &["genesys-usage", "allowance", "--bi"]);
    assert_eq!(allowance, ["--billing-day"]);
    let check = complete(&script, &["genesys-usage", "check", "--max-a"]);
    assert_eq!(check, ["--max-allocation-share"]);

    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let out = tool().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("genesys-usage"),
            "{shell}"
        );
    }
    let out = tool().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

/// `man -l` (Debian's man-db, which `.ci/run` installs where missing) renders the page, and
/// it holds every command with its flags.
#[test]
#[ignore = "needs man-db: .ci/run installs it and runs this"]
fn man_renders_a_page_with_every_command() {
    let dir = scratch("man");
    let out = tool().arg("man").output().unwrap();
    assert!(out.status.success());
    let page = dir.join("genesys-usage.1");
    std::fs::write(&page, &out.stdout).unwrap();
    let shown = Command::new("man")
        .args(["-P", "cat", "-l"])
        .arg(&page)
        .env("MANWIDTH", "100")
        .env("LANG", "C.UTF-8")
        .output()
        .expect("man runs");
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("genesys-usage(1)"), "{text}");
    for command in [
        "REPORT",
        "QUERY",
        "CLIENT",
        "JOBS",
        "RESUME",
        "SYNC",
        "CHECK",
        "SERVE",
        "ALLOWANCE",
        "REGIONS",
        "COMPLETIONS",
        "MAN",
    ] {
        assert!(
            text.contains(&format!("GENESYS-USAGE {command}")),
            "{command} in:\n{text}"
        );
    }
    for flag in [
        "--max-allocation-share",
        "--repull",
        "--exact-csv",
        "--from",
    ] {
        assert!(text.contains(flag), "{flag}");
    }
    assert!(
        !text.contains("warning"),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
}
