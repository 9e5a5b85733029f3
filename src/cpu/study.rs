//! Studies on the CPU engine (the twin of `src/gpu/study.rs`): a chunk of a generated workload
//! made in Rust (`generate.rs`, `rates.rs`) and decided by the CPU engine. The token rule alone
//! decides each round as it is generated, keeping no rows; a rule measured at every K runs on
//! prefixes of the chunk generated once at K_max.

use super::{CpuEngine, Recovery, survivals};
use crate::batch::Batch;
use crate::error::Result;
use crate::rule::Rule;
use crate::workload::{StudyChunk, StudyRequest};

/// [`crate::engine::Engine::study_chunk`] on the CPU engine.
pub fn study_chunk(engine: &CpuEngine, req: &StudyRequest) -> Result<StudyChunk> {
    let g = &req.generation;
    let w = g.workload;
    let (r0, m, k) = (req.r0, req.m, req.k_max);
    if !w.family.has_distributions() {
        return Ok(StudyChunk {
            accepted: super::rates::rates_chunk(w, g.seed, r0, m, k),
            betas: (0..m).flat_map(|_| (0..k).map(|i| w.rate(i))).collect(),
            ..Default::default()
        });
    }
    if req.per_k.is_empty() && !req.keep_rows {
        // Only the counts and betas are kept: each round is decided as it is generated.
        let (accepted, betas, features) =
            super::generate::accepted_chunk(w, g.seed, r0, m, k, req.stop_features);
        return Ok(StudyChunk {
            accepted,
            betas,
            features,
            ..Default::default()
        });
    }
    let (batch, betas) = super::generate::generate_chunk(w, g.seed, r0, m, k);
    let cpu = CpuEngine {
        recovery: Recovery {
            mode: g.recovery,
            seed: g.seed,
            round_offset: r0,
        },
        ..*engine
    };
    let accepted = cpu.run_chain(&batch.view(), Rule::Token)?.num_accepted;
    let mut per_k = Vec::new();
    for (rule, ks) in req.per_k {
        let mut at = Vec::new();
        for &kk in ks {
            let prefix = Batch::from_view(&batch.view(), 0, m, kk);
            let pv = prefix.view();
            let taus = cpu.run_chain(&pv, *rule)?.num_accepted;
            at.push((taus, survivals(*rule, &pv)));
        }
        per_k.push(at);
    }
    let features = if req.stop_features {
        super::generate::batch_stop_features(&batch)
    } else {
        Vec::new()
    };
    Ok(StudyChunk {
        accepted,
        betas,
        per_k,
        rows: req.keep_rows.then_some(batch),
        features,
    })
}
