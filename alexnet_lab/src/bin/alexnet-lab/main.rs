//! `alexnet-lab`: the lab's jobs from a terminal. A thin layer over the library: `args`
//! declares the command line (clap), `commands` runs each command through the library's API.

mod args;
mod commands;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Output into a closed pipe (`alexnet-lab shapes | head -2`) ends the process quietly, as
    // it does for other Unix tools, instead of a panic in `println!` (Rust ignores SIGPIPE).
    #[cfg(unix)]
    // SAFETY: called first in main, before any thread starts; restores the default action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Panics that the library catches and reports as errors (see `error::catch_panic`) are not
    // printed a second time as a panic.
    alexnet_lab::error::quiet_hook_for_caught_panics();
    let cli = args::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // Ctrl-C: the CLI has said what was kept and how to continue; 130 as for SIGINT.
        Err(e) if matches!(e.downcast_ref(), Some(alexnet_lab::Error::Interrupted { .. })) => ExitCode::from(130),
        Err(e) => {
            // The library names the setting (a config field); the flag that sets it is the CLI's.
            match e.downcast_ref::<alexnet_lab::Error>().and_then(|l| l.setting()) {
                Some(setting) => eprintln!("error: {e:#} (set with --{})", setting.replace('_', "-")),
                None => eprintln!("error: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}
