//! The workloads of a study (the types live in `src/workload.rs`, the CPU generator in
//! `src/cpu/generate/` and `src/cpu/rates.rs`); re-exported here for the study's users.

pub use crate::cpu::generate::generate_chunk;
pub use crate::cpu::rates::rates_chunk;
pub use crate::workload::{Family, Workload};
