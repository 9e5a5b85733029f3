//! The chain rules' f64 references, one file per rule: [`token`] (SPEC §1), [`block`] (SPEC §6).

pub mod block;
pub mod token;
