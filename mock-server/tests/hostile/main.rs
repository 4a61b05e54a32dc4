//! The mock under hostile requests, through the real binary: every attack measured against
//! the `stampede-mock` process — what each request gets (400, 408, 429, 503, a closed
//! connection), that an ordinary request is still answered during and after it, and the
//! process's peak memory (VmHWM) under 256 MB. Each test ends within seconds.

mod bodies;
mod connections;
mod log;
mod numbers;
mod stores;
mod support;
