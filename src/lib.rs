//! # specsim
//!
//! Exact simulation of the draft/target verification step of speculative decoding: one round
//! ([`speculative_decode`], the f64 reference of SPEC §1), and batches of N rounds on a CPU engine
//! ([`cpu::CpuEngine`]) and a GPU engine ([`gpu::GpuContext`], wgpu + WGSL) that give identical
//! results, token for token.
//!
//! The modules form layers, each importing only those below it (`docs/ARCHITECTURE.md`):
//! - bottom: [`error`], [`exact`] (the bit-exact f32 arithmetic both engines share), [`rng`],
//!   [`normal`], [`vmath`], [`rule`] (the rule registry), [`chunk`], [`workload`];
//!   [`topology`] (draft trees, their shapes and converters) and [`mod@reference`] (the f64
//!   references of every rule, chain and tree);
//! - data: [`round`] (one round: its checks, SPEC §2, its JSON and API), [`batch`] (views over N
//!   rounds, outcomes, validation), [`npyio`] (`.npy`/`.npz` files), [`output`] (files written
//!   whole or not at all);
//! - engines: [`cpu`] and [`gpu`] behind one interface ([`engine::Engine`], chosen by
//!   [`engine::select`]);
//! - users of engines: [`compare`] (cross-checks and adversarial batches), [`study`]
//!   (acceptance-rate studies), [`mod@bench`] (benchmark helpers).

#![warn(missing_docs)]

pub mod batch;
pub mod bench;

pub mod chunk;
pub mod compare;
pub mod compat;
pub mod cost;
pub mod cpu;
pub mod engine;
pub mod error;
pub mod exact;
pub mod files;
pub mod gpu;
pub mod normal;
pub mod npyio;
pub mod output;
pub mod progress;
pub mod rng;
pub mod round;

pub mod reference;
pub mod rule;
pub mod study;
pub mod summary;
pub mod topology;
pub mod vmath;
pub mod workload;

pub use error::{Error, Result};
pub use round::{
    RoundOptions, RoundResult, speculative_decode, speculative_decode_rule, speculative_decode_with,
};
pub use rule::Rule;
