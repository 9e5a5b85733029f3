//! A generated tree study on the CPU engine, each round decided where it is generated: a worker
//! writes the round's rows into its own scratch (node u's rows and coin are position u's, as
//! [`super::Rows::generate`] makes them), then under every rule draws the children's tokens,
//! decides the round with the CPU twin ([`crate::cpu::tree::decide_round`]), and adds the
//! round's exact expectation and, for the first rounds, its bound. No chunk of rows is held:
//! memory is two rows of V per node per thread, the rows are read while in cache, and nothing
//! is faulted in per chunk. The sums are order-independent, so this gives the chunked path's
//! results exactly (a test checks it on every rule and both recovery modes).

use rayon::prelude::*;

use super::bound::{draft_mode, optimal_generated, optimal_rounds};
use super::decide::{round_expectation, wor_estimate_fits};
use super::{Sums, TreeStudyConfig, draw_round_tokens};
use crate::batch::{Floats, Ints, Layout, Rounds, Topology};
use crate::chunk::chunks;
use crate::cpu::generate::PositionRows;
use crate::cpu::tree::{Scratch, decide_round};
use crate::cpu::{CpuEngine, Recovery};
use crate::error::Result;
use crate::topology::Tree;

/// Rounds between two progress reports.
const REPORT_ROUNDS: u64 = 4096;

/// One worker's scratch: a round's rows, coins and tokens, and the twin's.
struct Worker<'w> {
    rows: PositionRows<'w>,
    draft: Vec<f32>,
    target: Vec<f32>,
    coins: Vec<f32>,
    tokens: Vec<u32>,
    scratch: Scratch,
    nodes: Vec<i32>,
}

/// What every round of a configuration shares.
struct Plan<'c> {
    cfg: &'c TreeStudyConfig,
    tree: &'c Tree,
    /// Per rule: how many first rounds carry the bound.
    limits: Vec<u64>,
    /// Whether `rrs-wor`'s estimates fit their budget.
    fits: bool,
}

impl<'w> Worker<'w> {
    fn new(cfg: &'w TreeStudyConfig, tree: &Tree) -> Worker<'w> {
        let (n, v) = (tree.len(), cfg.workload.vocab);
        Worker {
            rows: PositionRows::new(&cfg.workload, cfg.seed),
            draft: vec![0.0; n * v],
            target: vec![0.0; n * v],
            coins: vec![0.0; n],
            tokens: vec![0; n],
            scratch: Scratch::default(),
            nodes: vec![0; tree.depth()],
        }
    }

    /// Generates global round `r` and adds it to `sums` under every rule.
    fn round(&mut self, plan: &Plan, r: u64, sums: &mut [Sums]) -> Result<()> {
        let (cfg, tree) = (plan.cfg, plan.tree);
        let (n, v, gr) = (tree.len(), cfg.workload.vocab, r as u32);
        for u in 0..n {
            let (t, d) = (
                &mut self.target[u * v..(u + 1) * v],
                &mut self.draft[u * v..(u + 1) * v],
            );
            self.rows.rows(gr, u as u32, t, d);
            self.coins[u] = self.rows.coin(gr, u as u32);
        }
        for (ri, &rule) in cfg.rules.iter().enumerate() {
            draw_round_tokens(tree, &self.draft, v, rule, cfg.seed, r, &mut self.tokens)?;
            let round = Round {
                tree,
                v,
                draft: &self.draft,
                target: &self.target,
                tokens: &self.tokens,
                coins: &self.coins,
                r,
            };
            let key = plan.fits.then_some((cfg.seed, r));
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

/// One generated round's rows, tokens and coins in a worker's scratch (SPEC §7's layout).
pub(super) struct Round<'a> {
    pub(super) tree: &'a Tree,
    pub(super) v: usize,
    pub(super) draft: &'a [f32],
    pub(super) target: &'a [f32],
    pub(super) tokens: &'a [u32],
    pub(super) coins: &'a [f32],
    /// The global round index.
    pub(super) r: u64,
}

impl Round<'_> {
    /// Decides the round under `rule` with the CPU twin and adds it to `sums`: its count, its
    /// exact expectation (`rrs-wor`'s estimate keyed by `key` where it has none), and its bound
    /// when the round is below `limit`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn add(
        &self,
        cfg: &TreeStudyConfig,
        rule: crate::rule::Rule,
        key: Option<(u64, u64)>,
        limit: u64,
        scratch: &mut Scratch,
        nodes: &mut [i32],
        sums: &mut Sums,
    ) {
        let (tree, v, r) = (self.tree, self.v, self.r);
        let view = Rounds {
            n: 1,
            topology: Topology::Shared(tree),
            v,
            draft: Floats::F32(bytemuck::cast_slice(self.draft)),
            target: Floats::F32(bytemuck::cast_slice(self.target)),
            tokens: Ints::U32(bytemuck::cast_slice(self.tokens)),
            coins: Floats::F32(bytemuck::cast_slice(self.coins)),
            layout: Layout::tree(tree.len()),
        }
        .for_rule(rule);
        let rec = Recovery {
            mode: cfg.recovery,
            seed: cfg.seed,
            round_offset: r,
        };
        let (a, _) = decide_round(&view, tree, 0, rule, &rec, scratch, nodes);
        let (d, t) = (self.draft, self.target);
        let (exact, estimated) = round_expectation(rule, tree, d, t, self.tokens, v, key);
        sums.add_round(a, exact);
        sums.mark_estimated(estimated);
        if let Some(mode) = draft_mode(rule)
            && r < limit
        {
            sums.add_bound(optimal_generated(tree, d, t, v, mode), exact, a);
        }
    }
}

/// [`super::tree_config_sums`] of a static tree on the CPU engine: the rounds `range`, in
/// parallel over blocks of rounds on the engine's threads; `progress` every
/// [`REPORT_ROUNDS`] rounds. A round that cannot be drawn (`rrs-wor` on a row with too few
/// positive entries) stops the study with the first such round's error.
pub(super) fn fused_sums(
    cfg: &TreeStudyConfig,
    tree: &Tree,
    cpu: &CpuEngine,
    range: std::ops::Range<u64>,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<Vec<Sums>> {
    let (n, depth, v) = (tree.len(), tree.depth(), cfg.workload.vocab);
    for &rule in &cfg.rules {
        rule.check_tree_batch()?;
        rule.check_branches(tree.max_children(), "the study's tree")?;
    }
    let internal = (0..n).filter(|&u| !tree.is_leaf(u)).count();
    let plan = Plan {
        cfg,
        tree,
        limits: cfg
            .rules
            .iter()
            .map(|&rule| optimal_rounds(rule, internal, v, cfg.rounds))
            .collect(),
        fits: wor_estimate_fits(n, v, cfg.rounds),
    };
    sums_by_blocks(
        cfg,
        cpu,
        range,
        depth,
        progress,
        || Worker::new(cfg, tree),
        |w, r, part| w.round(&plan, r, part),
    )
}

/// The rounds `range` of a configuration on the CPU engine's threads, in parallel over blocks of
/// rounds (small enough to keep every thread busy, large enough to reuse a worker's scratch):
/// `round(worker, r, sums)` adds global round r; the blocks' sums are merged (order-independent),
/// `progress` every [`REPORT_ROUNDS`] rounds; the lowest failing block's error stops the study.
pub(super) fn sums_by_blocks<W>(
    cfg: &TreeStudyConfig,
    cpu: &CpuEngine,
    range: std::ops::Range<u64>,
    depth: usize,
    progress: &mut dyn FnMut(&str, u64),
    worker: impl Fn() -> W + Send + Sync,
    round: impl Fn(&mut W, u64, &mut [Sums]) -> Result<()> + Send + Sync,
) -> Result<Vec<Sums>> {
    let mut sums = vec![Sums::new(depth); cfg.rules.len()];
    let total = range.end.saturating_sub(range.start);
    for (r0, m) in chunks(total, REPORT_ROUNDS as usize) {
        let r0 = range.start + r0;
        let block = m.div_ceil(8 * rayon::current_num_threads()).max(1);
        let parts: Vec<Result<Vec<Sums>>> = cpu.install(|| {
            chunks(m as u64, block)
                .collect::<Vec<_>>()
                .into_par_iter()
                .map_init(&worker, |w, (b0, bm)| {
                    let mut part = vec![Sums::new(depth); cfg.rules.len()];
                    for r in r0 + b0..r0 + b0 + bm as u64 {
                        round(w, r, &mut part)?;
                    }
                    Ok(part)
                })
                .collect()
        })?;
        for part in parts {
            for (s, p) in sums.iter_mut().zip(&part?) {
                s.merge(p);
            }
        }
        for &rule in &cfg.rules {
            progress(&format!("{} {rule}", cfg.tree.label()), m as u64);
        }
    }
    Ok(sums)
}
