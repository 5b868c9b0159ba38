//! `completions SHELL` and `man`: generated from the parser's own definition (clap_complete,
//! clap_mangen), so that they name exactly the commands and flags it takes.

use std::io::Write as _;

use clap::CommandFactory as _;

use crate::cli::Cli;
use crate::commands::declared::Declared;
use crate::exit::Failure;

/// Generated text, not data: any `--format` is ignored.
pub const DECLARED: Declared = Declared {
    formats: &[],
    own_signals: false,
    several_orgs: false,
};

const NAME: &str = "genesys-usage";

pub fn completions(shell: clap_complete::Shell) -> Result<(), Failure> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), NAME, &mut script);
    if shell == clap_complete::Shell::Bash {
        // clap_complete 4.6 spells the state of a hyphenated binary's subcommand two ways in
        // its bash script: the loop that reads the words sets `genesys__usage__subcmd__sync`,
        // the case arms test `genesys__subcmd__usage__subcmd__sync`, so no flag of a command
        // would ever complete. The arms are respelled as the loop spells them.
        let text =
            String::from_utf8_lossy(&script).replace("genesys__subcmd__usage", "genesys__usage");
        script = text.into_bytes();
    }
    print(&script)
}

/// Generated text to stdout.
fn print(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(Failure::output)
}

/// The main page, then a section per command with its synopsis, description and options:
/// one page to read with `man -l`, every flag of every command in it.
pub fn man() -> Result<(), Failure> {
    let command = Cli::command().name(NAME);
    let page = page(command).map_err(Failure::output)?;
    print(&page)
}

fn page(command: clap::Command) -> std::io::Result<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("{NAME} {}", sub.get_name());
        let sub = sub.clone().bin_name(name.clone());
        let man = clap_mangen::Man::new(sub);
        writeln!(page, ".SH \"{}\"", name.to_uppercase())?;
        man.render_synopsis_section(&mut page)?;
        man.render_description_section(&mut page)?;
        man.render_options_section(&mut page)?;
    }
    Ok(page)
}
