//! Block verification in studies (SPEC §6): measured at every K, with its survivals
//! `P_i = min(1, P_{i-1} · p_{i-1} / q_{i-1})` as the per-position theory (see `per_k.rs`).

use super::per_k::{ChainStudy, PerK};
use crate::batch::ChainView;
use crate::rule::chain::Block;

impl ChainStudy for Block {
    const PER_K: Option<PerK> = Some(PerK { expected_survivals });
}

/// `E[P_1], …, E[P_K]` of round `r` by enumeration ([`crate::reference::chain::block::expected_survivals`]).
fn expected_survivals(view: &ChainView, r: usize, max_sequences: u64) -> Option<Vec<f64>> {
    let (d, t) = (view.draft_round(r), view.target_round(r));
    crate::reference::chain::block::expected_survivals(&d, &t, view.k, view.v, max_sequences)
}
