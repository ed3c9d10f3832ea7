//! The `otsensor` binary: parse the command line, run, map the outcome to an exit code
//! (0 ok, 1 runtime failure, 2 bad usage, config or input).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use otsensor::app::{run, BadInput, Outcome};
use otsensor::cli::Cli;

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OTSENSOR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::InputErrors(errors)) => {
            for e in errors {
                eprintln!("otsensor: {e}");
            }
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("otsensor: {e:#}");
            if e.is::<BadInput>() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
