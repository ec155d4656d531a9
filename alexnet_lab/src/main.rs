use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Panics that the library catches and reports as errors (see `error::catch_panic`) are not
    // printed a second time as a panic.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !alexnet_lab::error::panics_are_guarded() {
            default_hook(info);
        }
    }));
    let cli = alexnet_lab::cli::Cli::parse();
    match alexnet_lab::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
