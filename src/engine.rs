//! One interface over the batch engines, and the policy that picks one.
//!
//! [`Engine`] runs a validated batch under a rule and a recovery mode, both given per call; the
//! CPU engine ([`CpuEngine`]) and the GPU engine ([`GpuContext`]) implement it. [`select`] turns
//! `auto | cpu | gpu` into an engine, with the notice a user should see when `auto` falls back.

use crate::batch::{Batch, Outcomes, Rounds, UNFINISHED};
use crate::cpu::{CpuEngine, Recovery};
use crate::error::Result;
use crate::gpu::{GpuContext, describe};
use crate::rule::Rule;
pub use crate::workload::{StudyChunk, StudyRequest};

/// A batch engine.
pub trait Engine {
    /// What runs: `cpu`, or `gpu: ADAPTER (BACKEND, TYPE)`.
    fn describe(&self) -> String;

    /// Runs every round of validated rounds (chain or tree, one topology or one per round) under
    /// `rule`, with the recovery mode and randomness of `rec`. The accepted nodes are in the
    /// outcomes of tree batches.
    fn run(&mut self, rounds: &Rounds, rule: Rule, rec: Recovery) -> Result<Outcomes>;

    /// The most rounds of one generated study chunk at (K, V) (the adapter's bindings); the
    /// study's memory budget applies on top.
    fn study_cap(&mut self, k: usize, v: usize) -> Result<usize>;

    /// Generates rounds of a study workload where the engine runs and decides them: the token
    /// rule at K_max, and each requested chain rule at each of its K values on the same rounds
    /// (the generator is keyed by round, position and token, so a round at K is the first K
    /// positions of the round at K_max).
    fn study_chunk(&mut self, req: &StudyRequest) -> Result<StudyChunk>;

    /// What the engine has to tell the user since it was last asked (e.g. rounds the GPU left
    /// unfinished and the CPU twin finished); empty for the CPU engine.
    fn notices(&mut self) -> Vec<String> {
        Vec::new()
    }

    /// The chain token rule under a compatibility profile (SPEC §14) on a batch, refused as the
    /// reference refuses it: the CPU engine decides every round by the reference on all cores
    /// (`src/cpu/compat.rs`), the GPU engine by its kernel (`shaders/compat.wgsl`), the same
    /// answers bit for bit.
    fn compat_chain(
        &mut self,
        b: &crate::compat::BatchRef,
        profile: crate::compat::Profile,
    ) -> Result<Vec<crate::compat::CompatOutcome>> {
        crate::cpu::compat::decide_batch(b, profile)
    }

    /// A tree rule (`greedy` or `target-only`) under a compatibility profile (SPEC §14) on a tree
    /// batch, refused as the reference refuses it: the CPU engine decides every round by the
    /// reference on all cores (`src/cpu/tree/compat.rs`), the GPU engine by the tree kernel with
    /// the profile's step (`shaders/tree/compat.wgsl`), the same answers bit for bit.
    fn compat_tree(
        &mut self,
        b: &crate::compat::TreeBatchRef,
        profile: crate::compat::Profile,
        rule: Rule,
    ) -> Result<Vec<crate::compat::TreeCompatOutcome>> {
        crate::cpu::tree::compat::decide_batch(b, profile, rule)
    }

    /// The CPU engine, where this is it: studies that decide each round where it is generated
    /// (tree studies) call its twin directly, round by round, instead of chunk by chunk.
    fn as_cpu(&self) -> Option<&CpuEngine> {
        None
    }

    /// The GPU engine, where this is it: tree studies generate their rows on the device
    /// ([`run_resident`]).
    fn as_gpu(&mut self) -> Option<&mut GpuContext> {
        None
    }
}

/// [`GpuContext::run_tree_resident`] as [`Engine::run`] finishes it: the rounds the kernel left
/// unfinished are finished on the CPU twin, on `rounds` (the resident rows read back).
pub fn run_resident(
    g: &mut GpuContext,
    rounds: &Rounds,
    rule: Rule,
    rec: Recovery,
    rows: &crate::gpu::study::ResidentRows,
) -> Result<Outcomes> {
    let mut out = g.run_tree_resident(rounds, rule, rec, rows)?;
    g.finished_on_cpu += finish_on_cpu(&mut out, rounds, rule, rec)?;
    Ok(out)
}

/// Finishes the rounds a GPU kernel left [`UNFINISHED`] on the CPU twin (the same results, bit
/// for bit): each round alone, with its own global round index. Returns how many.
fn finish_on_cpu(out: &mut Outcomes, rounds: &Rounds, rule: Rule, rec: Recovery) -> Result<u64> {
    let todo = out.unfinished();
    for &r in &todo {
        let one = CpuEngine {
            recovery: rec.shifted(r as u64),
            ..Default::default()
        }
        .run(&rounds.rounds(r, 1), rule)?;
        out.set_round(r, &one);
    }
    Ok(todo.len() as u64)
}

/// Finishes a GPU study chunk's unfinished rounds on the CPU twin, on the chunk's rows (read
/// back from the device): the token rule at K_max and each rule at each K.
fn finish_study_on_cpu(chunk: &mut StudyChunk, req: &StudyRequest) -> Result<u64> {
    let rows = match &chunk.rows {
        Some(rows) => rows,
        None => return Ok(0),
    };
    let g = &req.generation;
    let mut finished = 0;
    for r in 0..req.m {
        let token_left = chunk.accepted[r] == UNFINISHED;
        let per_k_left = chunk
            .per_k
            .iter()
            .any(|at| at.iter().any(|(taus, _)| taus[r] == UNFINISHED));
        if !token_left && !per_k_left {
            continue;
        }
        finished += 1;
        let cpu = CpuEngine {
            recovery: Recovery {
                mode: g.recovery,
                seed: g.seed,
                round_offset: req.r0 + r as u64,
            },
            ..Default::default()
        };
        let one = Batch::from_view(&rows.view(), r, 1, req.k_max);
        chunk.accepted[r] = cpu.run_chain(&one.view(), Rule::Token)?.num_accepted[0];
        for ((rule, ks), at) in req.per_k.iter().zip(chunk.per_k.iter_mut()) {
            for (&k, (taus, surv)) in ks.iter().zip(at.iter_mut()) {
                let prefix = Batch::from_view(&rows.view(), r, 1, k);
                taus[r] = cpu.run_chain(&prefix.view(), *rule)?.num_accepted[0];
                let s = crate::cpu::survivals(*rule, &prefix.view());
                surv[r * k..(r + 1) * k].copy_from_slice(&s);
            }
        }
    }
    Ok(finished)
}

impl Engine for CpuEngine {
    fn describe(&self) -> String {
        "cpu".into()
    }

    fn as_cpu(&self) -> Option<&CpuEngine> {
        Some(self)
    }

    fn run(&mut self, rounds: &Rounds, rule: Rule, rec: Recovery) -> Result<Outcomes> {
        CpuEngine {
            recovery: rec,
            ..*self
        }
        .run(rounds, rule)
    }

    fn study_cap(&mut self, _k: usize, _v: usize) -> Result<usize> {
        Ok(usize::MAX)
    }

    fn compat_chain(
        &mut self,
        b: &crate::compat::BatchRef,
        profile: crate::compat::Profile,
    ) -> Result<Vec<crate::compat::CompatOutcome>> {
        self.install(|| crate::cpu::compat::decide_batch(b, profile))?
    }

    fn compat_tree(
        &mut self,
        b: &crate::compat::TreeBatchRef,
        profile: crate::compat::Profile,
        rule: Rule,
    ) -> Result<Vec<crate::compat::TreeCompatOutcome>> {
        self.install(|| crate::cpu::tree::compat::decide_batch(b, profile, rule))?
    }

    fn study_chunk(&mut self, req: &StudyRequest) -> Result<StudyChunk> {
        crate::cpu::study::study_chunk(self, req)
    }
}

impl Engine for GpuContext {
    fn describe(&self) -> String {
        format!("gpu: {}", describe(self.adapter_info()))
    }

    fn run(&mut self, rounds: &Rounds, rule: Rule, rec: Recovery) -> Result<Outcomes> {
        let mut out = GpuContext::run(self, rounds, rule, rec)?;
        self.finished_on_cpu += finish_on_cpu(&mut out, rounds, rule, rec)?;
        Ok(out)
    }

    fn study_cap(&mut self, k: usize, v: usize) -> Result<usize> {
        self.rounds_per_chunk(k, v)
    }

    fn as_gpu(&mut self) -> Option<&mut GpuContext> {
        Some(self)
    }

    fn study_chunk(&mut self, req: &StudyRequest) -> Result<StudyChunk> {
        let mut chunk = GpuContext::study(self, req)?;
        self.finished_on_cpu += finish_study_on_cpu(&mut chunk, req)?;
        if !req.keep_rows {
            chunk.rows = None;
        }
        Ok(chunk)
    }

    fn compat_chain(
        &mut self,
        b: &crate::compat::BatchRef,
        profile: crate::compat::Profile,
    ) -> Result<Vec<crate::compat::CompatOutcome>> {
        let (out, unfinished) = self.run_compat(b, profile)?;
        self.finished_on_cpu += unfinished;
        Ok(out)
    }

    fn compat_tree(
        &mut self,
        b: &crate::compat::TreeBatchRef,
        profile: crate::compat::Profile,
        rule: Rule,
    ) -> Result<Vec<crate::compat::TreeCompatOutcome>> {
        let (out, unfinished, beyond) = self.run_compat_tree(b, profile, rule)?;
        self.finished_on_cpu += unfinished;
        self.beyond_limits_on_cpu += beyond;
        Ok(out)
    }

    fn notices(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let n = std::mem::take(&mut self.finished_on_cpu);
        let s = |n: u64| if n == 1 { "" } else { "s" };
        let it = |n: u64| if n == 1 { "it" } else { "them" };
        if n > 0 {
            out.push(format!(
                "{n} round{} needed more loop iterations than this GPU adapter runs per shader invocation ({}; {}): the GPU kernels left {} unfinished and the CPU engine, their twin, finished {} (the same results, bit for bit)",
                s(n),
                describe(self.adapter_info()),
                self.loop_budget(),
                it(n),
                it(n),
            ));
        }
        let m = std::mem::take(&mut self.beyond_limits_on_cpu);
        if m > 0 {
            out.push(format!(
                "{m} round{} of a compatibility profile's tree batch exceeded the GPU tree kernel's limits (a node of more than {} children, or one round larger than a storage binding): the CPU engine decided {} by the reference",
                s(m),
                crate::gpu::tree::MAX_CHILDREN,
                it(m),
            ));
        }
        out
    }
}

/// Which engine the user asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EngineChoice {
    /// A hardware GPU when one exists, otherwise the CPU engine (with a notice).
    #[default]
    Auto,
    /// The CPU engine.
    Cpu,
    /// The GPU engine: an error when no adapter exists.
    Gpu,
}

/// The outcome of [`select`]: a GPU context or none (the CPU engine), and what to tell the user.
pub struct Selection {
    /// The GPU to run on; `None` means the CPU engine.
    pub gpu: Option<GpuContext>,
    /// Why `auto` fell back to the CPU engine, if it did.
    pub notice: Option<String>,
}

impl Selection {
    /// The selected engine as a trait object.
    pub fn into_engine(self) -> Box<dyn Engine> {
        match self.gpu {
            Some(g) => Box::new(g),
            None => Box::new(CpuEngine::default()),
        }
    }
}

/// Picks the engine. `cpu` never opens an adapter; `gpu` takes the adapter it finds (or fails);
/// `auto` takes a hardware adapter and falls back to the CPU engine, with a notice, when none is
/// usable. With `allow_software` false, `auto` also passes over a software adapter (e.g. Mesa's
/// llvmpipe, which runs on the CPU and is slower than the CPU engine); `verify` and `bench`
/// allow it, since their job is to exercise the GPU path.
pub fn select(choice: EngineChoice, allow_software: bool) -> Result<Selection> {
    let none = |notice: String| Selection {
        gpu: None,
        notice: Some(notice),
    };
    match choice {
        EngineChoice::Cpu => Ok(Selection {
            gpu: None,
            notice: None,
        }),
        EngineChoice::Gpu => Ok(Selection {
            gpu: Some(GpuContext::new()?),
            notice: None,
        }),
        EngineChoice::Auto => match GpuContext::new() {
            Ok(g) if !allow_software && g.is_software() => Ok(none(format!(
                "the only GPU adapter is a software one ({}); using the CPU engine (--engine gpu runs on it anyway)",
                describe(g.adapter_info())
            ))),
            Ok(g) => Ok(Selection {
                gpu: Some(g),
                notice: None,
            }),
            Err(e) => Ok(none(format!("no usable GPU ({e}); using the CPU engine"))),
        },
    }
}
