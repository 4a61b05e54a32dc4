//! `stampede`: parse the command line and hand over to the library.

fn main() {
    std::process::exit(stampede::cli::main());
}
