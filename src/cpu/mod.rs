//! The CPU engine: f32, parallel over rounds on all cores. One module per kernel, same stem
//! (`verify.rs` ↔ `shaders/verify.wgsl`, `block.rs` ↔ `shaders/block.wgsl`, `tree/` ↔
//! `shaders/tree.wgsl` with each tree rule's step `tree/STEM.rs` ↔ `shaders/tree/STEM.wgsl`,
//! `generate.rs` ↔ `shaders/generate.wgsl`, `rates.rs` ↔ `shaders/rates.wgsl`), so that the two
//! read side by side; a test holds the rule.

pub mod block;
pub mod compat;
pub mod generate;
pub mod rates;
pub mod study;
pub mod tree;
pub mod verify;

pub use crate::rule::{Recovery, RecoveryMode};

use crate::batch::{ChainView, Outcomes, Rounds, Validation};
use crate::error::{Error, Result};
use crate::round::RoundOptions;
use crate::rule::{ChainRule, Rule, match_rule};

/// The CPU batch engine.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuEngine {
    /// Worker threads; `None` uses rayon's global pool (all cores).
    pub threads: Option<usize>,
    /// Recovery mode (argmax by default) and its randomness.
    pub recovery: Recovery,
}

impl CpuEngine {
    /// Runs validated rounds under `rule`: a chain rule on a chain batch takes the chain kernels
    /// (the fast path); a tree rule walks each round's tree (a chain is the path tree). A chain
    /// rule on a tree batch is refused.
    pub fn run(&self, rounds: &Rounds, rule: Rule) -> Result<Outcomes> {
        let rec = &self.recovery;
        if let Some(chain) = rounds.as_chain() {
            return self.run_chain(&chain, rule);
        }
        rule.check_tree_batch()?;
        rule.check_branches(rounds.topology.max_children(), "the batch's tree")?;
        self.install(|| tree::run(&rounds.for_rule(rule), rule, rec))
    }

    /// Runs a validated chain batch under `rule` (chain or tree).
    pub fn run_chain(&self, view: &ChainView, rule: Rule) -> Result<Outcomes> {
        let rec = &self.recovery;
        self.install(|| {
            match_rule!(rule,
                chain R => <R as CpuChainRule>::run(view, rec),
                tree => tree::run(&Rounds::chain(view).for_rule(rule), rule, rec).into_chain(),
            )
        })
    }

    /// Validates rounds with [`Validation::Touched`] and runs them under `rule`: for a chain
    /// rule on a chain batch in one pass ([`CpuChainRule::run_touched`]: the token rule checks,
    /// decides and reads each round's row while in cache), for a tree batch in one walk per
    /// round ([`tree::run_touched`]). Same checks, same first error, same
    /// results as `validate(opts, Touched, rule)` then [`CpuEngine::run`].
    pub fn run_touched(
        &self,
        rounds: &Rounds,
        rule: Rule,
        opts: &RoundOptions,
    ) -> Result<Outcomes> {
        let rec = &self.recovery;
        match rounds.as_chain() {
            Some(view) if !rule.is_tree() => self.install(|| {
                match_rule!(rule,
                    chain R => <R as CpuChainRule>::run_touched(&view, rec, opts),
                    tree => unreachable!("a chain rule"),
                )
            })?,
            // A tree batch: the checks and the walk together, one walk per round.
            None => {
                rule.check_tree_batch()?;
                rule.check_branches(rounds.topology.max_children(), "the batch's tree")?;
                self.install(|| tree::run_touched(&rounds.for_rule(rule), rule, rec, opts))?
            }
            _ => {
                rounds.validate(opts, Validation::Touched, rule)?;
                self.run(rounds, rule)
            }
        }
    }

    /// Runs `work` on this engine's threads (its own pool when `threads` is set).
    pub(crate) fn install<T: Send>(&self, work: impl FnOnce() -> T + Send) -> Result<T> {
        match self.threads {
            None => Ok(work()),
            Some(t) => {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .map_err(|e| Error::Config(format!("cannot start {t} CPU threads: {e}")))?;
                Ok(pool.install(work))
            }
        }
    }
}

/// Validation that knows the rules: `touched` checks the rows each round reads, which only the
/// rule's decisions tell (so it lives here, above `batch`, which imports no engine).
impl Rounds<'_> {
    /// Validates every round for `rule` (SPEC §2, §7), the first bad round named: `full` checks
    /// every value; `touched` what the rule reads (for the token rule one row at the first
    /// rejection or the bonus row, block's rows of positions tau..K, a tree rule's walk).
    pub fn validate(&self, opts: &RoundOptions, mode: Validation, rule: Rule) -> Result<()> {
        match self.as_chain() {
            Some(chain) => chain.validate_rule(opts, mode, rule),
            None => {
                rule.check_tree_batch()?;
                rule.check_branches(self.topology.max_children(), "the batch's tree")?;
                match mode {
                    Validation::Full => self.validate_all(opts, rule),
                    Validation::Touched => self.validate_touched(opts, rule),
                }
            }
        }
    }
}

/// Validation of chain batches (the chain layout of [`Rounds::validate`]).
impl ChainView<'_> {
    /// Validates every round for the token rule (see [`ChainView::validate_reading`]).
    pub fn validate(&self, opts: &RoundOptions, mode: Validation) -> Result<()> {
        self.validate_rule(opts, mode, Rule::Token)
    }

    /// Validates every round for `rule`: under `touched`, the token rule's one row at the first
    /// rejection (or the bonus row), block's rows of positions tau..K.
    pub fn validate_rule(&self, opts: &RoundOptions, mode: Validation, rule: Rule) -> Result<()> {
        if rule.is_tree() {
            // The path tree's checks (SPEC §7).
            self.check_shapes()?;
            if self.k == 0 && !opts.allow_empty_draft {
                return Err(Error::EmptyDraft);
            }
            let view = Rounds::chain(self).for_rule(rule);
            return match mode {
                Validation::Full => view.validate_all(opts, rule),
                Validation::Touched => view.validate_touched(opts, rule),
            };
        }
        self.validate_reading(opts, mode, &move |view, r| rows_read(view, r, rule))
    }
}

/// The positions `(first, last)` whose rows round `r` reads under `rule`, decided by this engine
/// (on garbage rows too: the answer is deterministic, and the rows are checked next).
pub fn rows_read(view: &ChainView, r: usize, rule: Rule) -> (usize, usize) {
    match_rule!(rule,
        chain R => <R as CpuChainRule>::rows_read(view, r),
        // A tree rule on a chain may read any row.
        tree => (0, view.k),
    )
}

/// A chain rule's CPU twin (this layer's trait; implemented in the rule's `src/cpu/X.rs`, the twin
/// of `shaders/X.wgsl`). [`CpuEngine`], touched validation and the benchmarks dispatch to it.
pub trait CpuChainRule: ChainRule {
    /// Runs a validated batch (rayon over rounds, in the caller's pool).
    fn run(view: &ChainView, rec: &Recovery) -> Outcomes;

    /// The positions `(first, last)` whose rows round `r` reads, decided by this twin on any
    /// rows (deterministic; the rows are checked next).
    fn rows_read(view: &ChainView, r: usize) -> (usize, usize);

    /// Validates with [`Validation::Touched`] and runs: by default one after the other; a rule
    /// with a fused pass overrides it (same checks, same first error, same results).
    fn run_touched(view: &ChainView, rec: &Recovery, opts: &RoundOptions) -> Result<Outcomes> {
        view.validate_rule(opts, Validation::Touched, Self::RULE)?;
        Ok(Self::run(view, rec))
    }

    /// What the lazy algorithm reads for one round with `accepted` drafts accepted, in f32:
    /// (bytes, rows of V among them).
    fn lazy_reads(k: usize, v: usize, accepted: usize) -> (usize, usize);

    /// The per-position terms P_1..P_K of every round (row-major `[N, K]`) whose sum a study
    /// compares with the number accepted, as this twin computes them in f32 (the rule's kernel
    /// writes the same at binding 7); empty for a rule studied from K_max (the token rule).
    fn survivals(_view: &ChainView) -> Vec<f32> {
        Vec::new()
    }
}

/// The study terms of a chain rule on a chain batch ([`CpuChainRule::survivals`]).
pub fn survivals(rule: Rule, view: &ChainView) -> Vec<f32> {
    match_rule!(rule,
        chain R => <R as CpuChainRule>::survivals(view),
        tree => Vec::new(),
    )
}
