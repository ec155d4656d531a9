use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Panics that the library catches and reports as errors (see `error::catch_panic`) are not
    // printed a second time as a panic.
    alexnet_lab::error::quiet_hook_for_caught_panics();
    let cli = alexnet_lab::cli::Cli::parse();
    match alexnet_lab::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
