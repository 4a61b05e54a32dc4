//! `stampede-mock`: the Gemini-compatible mock on its own (same as `stampede mock`).

use clap::Parser;
use stampede_mock::standalone::{run, MockArgs};

/// Serves the Gemini-compatible mock on 127.0.0.1.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    args: MockArgs,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run(Cli::parse().args).await {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}
