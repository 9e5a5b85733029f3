//! The CPU engine: f32, parallel over rounds on all cores. One module per kernel, same stem
//! (`verify.rs` ↔ `shaders/verify.wgsl`, `block.rs` ↔ `shaders/block.wgsl`, `tree.rs` ↔
//! `shaders/tree.wgsl`, `generate.rs` ↔ `shaders/generate.wgsl`, `rates.rs` ↔
//! `shaders/rates.wgsl`), so that the two read side by side; a test holds the rule.

pub mod block;
pub mod generate;
pub mod rates;
pub mod tree;
pub mod verify;

pub use crate::rule::{Recovery, RecoveryMode};

use crate::batch::{BatchResult, BatchView, Validation};
use crate::error::{Error, Result};
use crate::round::RoundOptions;
use crate::rule::Rule;
use crate::tree::Tree;
use crate::tree::batch::{TreeResult, TreeView};

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
        let work = || match rule {
            Rule::Token => verify::run(view, &self.recovery),
            Rule::Block => block::run(view, &self.recovery),
            Rule::Greedy | Rule::TargetOnly | Rule::Rrs | Rule::RrsWor => {
                let path = Tree::path(view.k);
                tree::run(
                    &TreeView::from_chain(view, &path, rule),
                    rule,
                    &self.recovery,
                )
                .into_chain()
            }
        };
        self.install(work)
    }

    /// Validates a batch with [`Validation::Touched`] and runs it under `rule`: for the token rule
    /// in one pass ([`verify::run_touched`]: each round checked, decided and its row read while in
    /// cache), for the other rules one after the other. Same checks, same first error, same
    /// results as `validate_rule(opts, Touched, rule)` then [`CpuEngine::run_rule`].
    pub fn run_touched(
        &self,
        view: &BatchView,
        rule: Rule,
        opts: &RoundOptions,
    ) -> Result<BatchResult> {
        match rule {
            Rule::Token => self.install(|| verify::run_touched(view, &self.recovery, opts))?,
            Rule::Block | Rule::Greedy | Rule::TargetOnly | Rule::Rrs | Rule::RrsWor => {
                self.install(|| view.validate_rule(opts, Validation::Touched, rule))??;
                self.run_rule(view, rule)
            }
        }
    }

    /// Runs a validated tree batch under a tree rule.
    pub fn run_tree(&self, view: &TreeView, rule: Rule) -> Result<TreeResult> {
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
    let rec = Recovery::default();
    match rule {
        Rule::Token => {
            let n_acc = verify::first_rejection(view, r);
            (n_acc, n_acc)
        }
        Rule::Block => {
            let (tau, _) = block::verify_round_unchecked(view, r, &rec, &mut Default::default());
            let tau = tau as usize;
            (tau, if tau == view.k { tau } else { view.k - 1 })
        }
        // A tree rule on a chain may read any row.
        Rule::Greedy | Rule::TargetOnly | Rule::Rrs | Rule::RrsWor => (0, view.k),
    }
}
