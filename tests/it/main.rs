//! specsim's integration tests: one test binary (`cargo test --release` links it once), one
//! module per topic. Tests that run on every engine are written once and expanded per engine
//! (`for_each_engine!` in `common`).

#[macro_use]
mod common;

mod adaptive;
mod batch_engines;
mod batch_files;
mod block_engines;
mod block_stats;
mod chunked_cli;
mod cli_reference;
mod cli_round;
mod compat;
mod compat_engines;
mod compat_tree;
mod compat_tree_engines;
mod cost;
mod distortion;
mod eagle;
mod engines;
mod float32_limits;
mod fuzz_corpus;
mod golden;
mod golden_block;
mod golden_tree;
mod gpu_loops;
mod optimal;
mod outputs;
mod plots;
mod progress;
mod props;
mod shaders;
mod shard;
mod stop;
mod study;
mod touched_fused;
mod tree_cli;
mod tree_design;
mod tree_engines;
mod tree_lossless;
mod tree_study;
