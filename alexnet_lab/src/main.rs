use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = alexnet_lab::cli::Cli::parse();
    match alexnet_lab::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
