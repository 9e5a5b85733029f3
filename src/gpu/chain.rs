//! The chain rules on the GPU (`shaders/verify.wgsl`, `shaders/block.wgsl`): a validated batch,
//! chunk by chunk, through the chain buffers; a chain under a tree rule runs as the path tree.

use super::GpuContext;
use super::kernel::KernelId;
use super::params::RoundParams;
use crate::batch::{ChainView, Outcomes, Rounds};
use crate::chunk::chunks;
use crate::error::{Error, Result};
use crate::rule::{Recovery, Rule};

/// The kernel of a chain rule (the tree rules run through `run_tree`).
pub(super) fn kernel_for(rule: Rule) -> Result<KernelId> {
    KernelId::chain(rule)
        .ok_or_else(|| Error::Config(format!("{rule} is a tree rule: it runs through run_tree")))
}

impl GpuContext {
    /// Dispatches `rule`'s kernel over the `n` uploaded rounds (global index `r0` onwards) and,
    /// if `readback`, copies the results into the mappable buffer. Waits for the GPU.
    fn dispatch(&self, rule: Rule, params: RoundParams, readback: bool) -> Result<()> {
        let b = self.bufs();
        let (n, k) = (params.n_rounds as usize, params.k as usize);
        let id = kernel_for(rule)?;
        let mut enc = self.encoder();
        self.record(&mut enc, id, b.group(id), params, n)?;
        if readback {
            let tok_bytes = (n * (k + 1) * 4) as u64;
            enc.copy_buffer_to_buffer(&b.out_tokens, 0, &b.readback, 0, tok_bytes);
            enc.copy_buffer_to_buffer(&b.out_acc, 0, &b.readback, tok_bytes, (n * 4) as u64);
        }
        self.submit_and_wait(enc)
    }

    /// Verifies every round of validated rounds under `rule` with the recovery of `rec`, chunk
    /// by chunk: a chain rule on a chain batch through its chain kernel (the fast path), a tree
    /// rule through the tree kernel (a chain is the path tree); a chain rule on a tree batch is
    /// refused.
    pub fn run(&mut self, rounds: &Rounds, rule: Rule, rec: Recovery) -> Result<Outcomes> {
        match rounds.as_chain() {
            Some(view) => self.run_chain(&view, rule, rec),
            None => {
                rule.check_tree_batch()?;
                self.run_tree(&rounds.for_rule(rule), rule, rec)
            }
        }
    }

    /// Verifies every round of a validated chain batch under `rule` (chain or tree) with the
    /// recovery of `rec`, chunk by chunk.
    pub fn run_chain(&mut self, view: &ChainView, rule: Rule, rec: Recovery) -> Result<Outcomes> {
        if rule.is_tree() {
            let rounds = Rounds::chain(view).for_rule(rule);
            return Ok(self.run_tree(&rounds, rule, rec)?.into_chain());
        }
        let (k, v) = (view.k, view.v);
        let mut out = Outcomes::chain(view.n, k);
        if view.n == 0 {
            return Ok(out);
        }
        let cap = self.rounds_per_chunk(k, v)?;
        for (r0, n) in chunks(view.n as u64, cap) {
            let r0 = r0 as usize;
            self.upload(view, r0, n)?;
            self.dispatch(rule, RoundParams::new(n, k, v, &rec, r0 as u64), true)?;
            self.read_results(n, k, &mut out, r0)?;
        }
        Ok(out)
    }

    /// For kernel-only benchmarks: uploads the first chunk of `view` and returns how many rounds
    /// it holds; then [`GpuContext::run_uploaded_rule`] runs a kernel on them without transfers.
    pub fn upload_for_bench(&mut self, view: &ChainView) -> Result<usize> {
        let n = self.rounds_per_chunk(view.k, view.v)?.min(view.n);
        self.upload(view, 0, n)?;
        Ok(n)
    }

    /// Runs `rule`'s kernel (argmax recovery) on the `n` rounds uploaded by
    /// [`GpuContext::upload_for_bench`] and waits.
    pub fn run_uploaded_rule(&self, rule: Rule, n: usize, k: usize, v: usize) -> Result<()> {
        self.dispatch(
            rule,
            RoundParams::new(n, k, v, &Recovery::default(), 0),
            false,
        )
    }
}
