//! `stampede`: parse the command line and hand over to the library.

/// Counts heap bytes in use, so `stampede plan` can measure what in-flight requests hold.
#[global_allocator]
static ALLOC: stampede::meter::CountingAlloc = stampede::meter::CountingAlloc;

fn main() {
    std::process::exit(stampede::cli::main());
}
