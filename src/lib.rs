//! # specsim
//!
//! Exact simulation of the draft/target verification step of speculative decoding: one round
//! ([`speculative_decode`], the f64 reference of SPEC §1), and batches of N rounds on a CPU engine
//! ([`cpu::CpuEngine`]) and a GPU engine ([`gpu::GpuContext`], wgpu + WGSL) that give identical
//! results, token for token.
//!
//! - [`round`]: the one-round reference and the input checks of SPEC §2; [`rule`]: the
//!   verification rules; [`block`]: block verification's f64 reference (SPEC §6).
//! - [`exact`]: the bit-exact f32 arithmetic both batch engines share.
//! - [`batch`]: batch views, validation and results; [`npyio`]: `.npy`/`.npz` files;
//!   [`output`]: files written whole or not at all.
//! - [`cpu`] and [`gpu`]: the engines, behind one interface ([`engine::Engine`], chosen by
//!   [`engine::select`]); [`compare`]: cross-checks and adversarial batches.
//! - [`rng`]: the counter-based generator; [`workload`]: the generated families; [`study`]:
//!   acceptance-rate studies; [`mod@bench`]: benchmark helpers.

#![warn(missing_docs)]

pub mod batch;
pub mod bench;
pub mod block;
pub mod chunk;
pub mod compare;
pub mod cpu;
pub mod engine;
pub mod error;
pub mod exact;
pub mod gpu;
pub mod normal;
pub mod npyio;
pub mod output;
pub mod rng;
pub mod round;
pub mod round_json;
pub mod rule;
pub mod study;
pub mod tree;
pub mod vmath;
pub mod workload;

pub use error::{Error, Result};
pub use round::{
    RoundOptions, RoundResult, speculative_decode, speculative_decode_rule, speculative_decode_with,
};
pub use rule::Rule;
