//! fraud-detector: a streaming card-fraud detector.
//!
//! The pure core (`domain`, `state`, `rules`, `engine`) does no I/O and can be
//! tested and benchmarked without a runtime; `sources`, `sinks`, `codecs`,
//! `topology` and `runtime` connect it to the outside world.

pub mod agent;
pub mod aws;
pub mod codecs;
pub mod console;
pub mod domain;
pub mod duration;
pub mod engine;
pub mod generator;
pub mod geo;
pub mod kafka;
pub mod model;
pub mod rules;
pub mod runtime;
pub mod sinks;
pub mod sources;
pub mod state;
pub mod telemetry;
pub mod topology;

/// With `--features mimalloc`: glibc's malloc costs the Kafka loop about a
/// third of its CPU (malloc_consolidate, unlink_chunk, page faults; measured
/// with perf), mimalloc some memory instead. Declared in the library so the
/// binary, tests and benches all run with it.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
