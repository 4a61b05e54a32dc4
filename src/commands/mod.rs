//! What the subcommands do beyond one run, as a library: several runs side by side
//! ([`compare`]), the fewest workers that meet the objectives ([`plan`]), what to host a plan on
//! ([`hosting`]), two saved runs judged against thresholds ([`diff`]), and stampede's own speed
//! ([`bench`](mod@bench)). The CLI only parses arguments, calls these and prints their results.

pub mod bench;
pub mod calibrate;
pub mod catalog_check;
pub mod compare;
pub mod diff;
pub mod hosting;
pub mod merge;
pub mod plan;
pub mod pool;
pub mod proxy;
