//! A generated `eagle2:k,depth,n` study on the CPU engine, each round grown and decided where it
//! is generated: a worker grows the round's tree from its candidates' draft rows (as
//! [`super::eagle2::grow_chunk`] does), keeping each expansion's draft row and target logits, so
//! a selected node that was expanded only makes its target row from them (and an expansion that
//! is not selected never makes one), then decides the round under every rule with
//! the CPU twin and adds its exact expectation and, for the first rounds, its bound. Rows are
//! keyed by (round, candidate position), so this gives the chunked path's results exactly (a test
//! checks it).

use std::collections::HashMap;

use super::bound::optimal_rounds;
use super::decide::wor_estimate_fits;
use super::eagle2::position;
use super::fused::{Round, sums_by_blocks};
use super::{Sums, TreeStudyConfig};
use crate::cpu::CpuEngine;
use crate::cpu::generate::PositionRows;
use crate::cpu::tree::Scratch;
use crate::error::Result;
use crate::reference::tree::expect::row_top_k;
use crate::topology::eagle2::Eagle2;

/// The most bytes of expansion rows a worker keeps; beyond it a selected node's rows are
/// generated again (as the chunked path does).
const KEEP_BYTES: usize = 64 << 20;

/// One worker's scratch: the expansions' rows, the round's rows, coins and tokens, the twin's.
struct Worker<'w> {
    rows: PositionRows<'w>,
    keep: bool,
    /// Expansion i's target logits and draft row at `i · V` (its target row is made only if it
    /// is selected).
    grown_z: Vec<f32>,
    grown_d: Vec<f32>,
    /// Position → expansion slot.
    slots: HashMap<u32, usize>,
    draft: Vec<f32>,
    target: Vec<f32>,
    coins: Vec<f32>,
    scratch: Scratch,
    nodes: Vec<i32>,
}

struct Plan<'c> {
    cfg: &'c TreeStudyConfig,
    e: Eagle2,
    /// Per rule: how many first rounds carry the bound.
    limits: Vec<u64>,
    fits: bool,
}

impl<'w> Worker<'w> {
    fn new(cfg: &'w TreeStudyConfig, e: Eagle2) -> Worker<'w> {
        let (n, v) = (e.nodes, cfg.workload.vocab);
        let keep = e.max_expanded().saturating_mul(v).saturating_mul(8) <= KEEP_BYTES;
        Worker {
            rows: PositionRows::new(&cfg.workload, cfg.seed),
            keep,
            grown_z: Vec::new(),
            grown_d: Vec::new(),
            slots: HashMap::new(),
            draft: vec![0.0; n * v],
            target: vec![0.0; n * v],
            coins: vec![0.0; n],
            scratch: Scratch::default(),
            nodes: vec![0; e.max_depth()],
        }
    }

    /// Grows and decides global round `r`, adding it to `sums` under every rule.
    fn round(&mut self, plan: &Plan, r: u64, sums: &mut [Sums]) -> Result<()> {
        let (cfg, e) = (plan.cfg, plan.e);
        let (n, v, gr, k) = (e.nodes, cfg.workload.vocab, r as u32, e.k);
        self.slots.clear();
        let (mut z, mut dr) = (vec![0.0f32; v], vec![0.0f32; v]);
        let Worker {
            rows,
            keep,
            grown_z,
            grown_d,
            slots,
            ..
        } = self;
        let grown = e.grow(v, |cand, _| {
            let p = position(cand);
            if *keep {
                let i = slots.len();
                slots.insert(p, i);
                if grown_z.len() < (i + 1) * v {
                    grown_z.resize((i + 1) * v, 0.0);
                    grown_d.resize((i + 1) * v, 0.0);
                }
                let (z, d) = (
                    &mut grown_z[i * v..(i + 1) * v],
                    &mut grown_d[i * v..(i + 1) * v],
                );
                rows.draft(gr, p, z, d);
                Ok(row_top_k(&*d, v, k))
            } else {
                // The draft row alone (its logits in `z`, not kept).
                rows.draft(gr, p, &mut z, &mut dr);
                Ok(row_top_k(&dr[..], v, k))
            }
        })?;
        let tree = &grown.tree;
        for u in 0..n {
            let p = position((u > 0).then(|| grown.candidates[u]));
            let (t, d) = (
                &mut self.target[u * v..(u + 1) * v],
                &mut self.draft[u * v..(u + 1) * v],
            );
            match self.slots.get(&p) {
                Some(&i) => {
                    self.rows.target(&self.grown_z[i * v..(i + 1) * v], t);
                    d.copy_from_slice(&self.grown_d[i * v..(i + 1) * v]);
                }
                None => self.rows.rows(gr, p, t, d),
            }
            self.coins[u] = self.rows.coin(gr, p);
        }
        let round = Round {
            tree,
            v,
            draft: &self.draft,
            target: &self.target,
            tokens: &grown.tokens,
            coins: &self.coins,
            r,
        };
        let key = plan.fits.then_some((cfg.seed, r));
        for (ri, &rule) in cfg.rules.iter().enumerate() {
            round.add(
                cfg,
                rule,
                key,
                plan.limits[ri],
                &mut self.scratch,
                &mut self.nodes,
                &mut sums[ri],
            );
        }
        Ok(())
    }
}

/// [`super::tree_config_sums`] of an `eagle2` configuration on the CPU engine: the rounds
/// `range`, in parallel over blocks of rounds on the engine's threads (rules checked by the
/// caller; [`sums_by_blocks`]).
pub(super) fn fused_eagle2_sums(
    cfg: &TreeStudyConfig,
    e: Eagle2,
    cpu: &CpuEngine,
    range: std::ops::Range<u64>,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<Vec<Sums>> {
    let (n, v) = (e.nodes, cfg.workload.vocab);
    let plan = Plan {
        cfg,
        e,
        limits: cfg
            .rules
            .iter()
            .map(|&rule| optimal_rounds(rule, n.saturating_sub(1), v, cfg.rounds))
            .collect(),
        fits: wor_estimate_fits(n, v, cfg.rounds),
    };
    sums_by_blocks(
        cfg,
        cpu,
        range,
        e.max_depth(),
        progress,
        || Worker::new(cfg, e),
        |w, r, part| w.round(&plan, r, part),
    )
}
