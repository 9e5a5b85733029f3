//! The CPU engine: f32, parallel over rounds on all cores. One module per kernel, same stem
//! (`verify.rs` ↔ `shaders/verify.wgsl`, `block.rs` ↔ `shaders/block.wgsl`, `tree/` ↔
//! `shaders/tree.wgsl` with each tree rule's step `tree/STEM.rs` ↔ `shaders/tree/STEM.wgsl`,
//! `generate.rs` ↔ `shaders/generate.wgsl`, `rates.rs` ↔ `shaders/rates.wgsl`), so that the two
//! read side by side; a test holds the rule.

pub mod block;
pub mod generate;
pub mod rates;
pub mod tree;
pub mod verify;

pub use crate::rule::{Recovery, RecoveryMode};

use crate::batch::tree::{TreeResult, TreeView};
use crate::batch::{BatchResult, BatchView, Validation};
use crate::error::{Error, Result};
use crate::round::RoundOptions;
use crate::rule::{ChainRule, Rule, match_rule};
use crate::topology::Tree;

/// The CPU batch engine.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuEngine {
    /// Worker threads; `None` uses rayon's global pool (all cores).
    pub threads: Option<usize>,
    /// Recovery mode (argmax by default) and its randomness.
    pub recovery: Recovery,
}

impl CpuEngine {
    /// Runs a validated batch with the token rule.
    pub fn run(&self, view: &BatchView) -> Result<BatchResult> {
        self.run_rule(view, Rule::Token)
    }

    /// Runs a validated batch under `rule`.
    pub fn run_rule(&self, view: &BatchView, rule: Rule) -> Result<BatchResult> {
        let rec = &self.recovery;
        self.install(|| {
            match_rule!(rule,
                chain R => <R as CpuChainRule>::run(view, rec),
                tree => {
                    let path = Tree::path(view.k);
                    tree::run(&TreeView::from_chain(view, &path, rule), rule, rec).into_chain()
                },
            )
        })
    }

    /// Validates a batch with [`Validation::Touched`] and runs it under `rule`
    /// ([`CpuChainRule::run_touched`]: for the token rule in one pass, each round checked,
    /// decided and its row read while in cache). Same checks, same first error, same results as
    /// `validate_rule(opts, Touched, rule)` then [`CpuEngine::run_rule`].
    pub fn run_touched(
        &self,
        view: &BatchView,
        rule: Rule,
        opts: &RoundOptions,
    ) -> Result<BatchResult> {
        let rec = &self.recovery;
        self.install(|| {
            match_rule!(rule,
                chain R => <R as CpuChainRule>::run_touched(view, rec, opts),
                tree => {
                    view.validate_rule(opts, Validation::Touched, rule)?;
                    let path = Tree::path(view.k);
                    Ok(tree::run(&TreeView::from_chain(view, &path, rule), rule, rec).into_chain())
                },
            )
        })?
    }

    /// Runs a validated tree batch under a tree rule.
    pub fn run_tree(&self, view: &TreeView, rule: Rule) -> Result<TreeResult> {
        if !rule.is_tree() {
            return Err(Error::Config(format!("{rule} is not a tree rule")));
        }
        self.install(|| tree::run(view, rule, &self.recovery))
    }

    fn install<T: Send>(&self, work: impl FnOnce() -> T + Send) -> Result<T> {
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
impl BatchView<'_> {
    /// Validates every round for the token rule (see [`BatchView::validate_reading`]).
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
            let path = Tree::path(self.k);
            let view = TreeView::from_chain(self, &path, rule);
            return match mode {
                Validation::Full => view.validate(opts, rule),
                Validation::Touched => view.validate_touched(opts, rule),
            };
        }
        self.validate_reading(opts, mode, &move |view, r| rows_read(view, r, rule))
    }
}

/// The positions `(first, last)` whose rows round `r` reads under `rule`, decided by this engine
/// (on garbage rows too: the answer is deterministic, and the rows are checked next).
pub fn rows_read(view: &BatchView, r: usize, rule: Rule) -> (usize, usize) {
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
    fn run(view: &BatchView, rec: &Recovery) -> BatchResult;

    /// The positions `(first, last)` whose rows round `r` reads, decided by this twin on any
    /// rows (deterministic; the rows are checked next).
    fn rows_read(view: &BatchView, r: usize) -> (usize, usize);

    /// Validates with [`Validation::Touched`] and runs: by default one after the other; a rule
    /// with a fused pass overrides it (same checks, same first error, same results).
    fn run_touched(view: &BatchView, rec: &Recovery, opts: &RoundOptions) -> Result<BatchResult> {
        view.validate_rule(opts, Validation::Touched, Self::RULE)?;
        Ok(Self::run(view, rec))
    }

    /// What the lazy algorithm reads for one round with `accepted` drafts accepted, in f32:
    /// (bytes, rows of V among them).
    fn lazy_reads(k: usize, v: usize, accepted: usize) -> (usize, usize);
}
