//! Static tree studies on the GPU, their rows generated on the device: each chunk's rows are made
//! by `shaders/generate.wgsl` at K = n (node u taking position u's rows and coin, as the CPU's
//! study does on the host) straight into the engine's buffers and verified there under each rule
//! ([`GpuContext::run_tree_resident`]). They are read back once per chunk, for the children's
//! tokens (drawn on the host by the rule's `draw_children`, the reference, and uploaded: n words
//! a round) and for the exact values and bounds beside the counts. No row goes up: only the
//! tokens, the tree's topology and, for `spectr`, its per-node values (3 words a node). The
//! generator's `exp`/`log`/`cos` are the device's, so the rows are not the CPU study's bit for
//! bit; the decisions on them are the CPU engine's (`verify --study --tree` replays them on
//! both).

use super::{Rows, Sums, TreeStudyConfig, recovery};
use crate::engine::run_resident;
use crate::error::Result;
use crate::gpu::GpuContext;
use crate::topology::Tree;
use crate::workload::Generation;

/// [`super::tree_config_sums`] of a static tree on the GPU: the rounds `range`, chunk by chunk,
/// generated on the device.
pub(super) fn device_sums(
    cfg: &TreeStudyConfig,
    tree: &Tree,
    g: &mut GpuContext,
    range: std::ops::Range<u64>,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<Vec<Sums>> {
    let (n, v) = (tree.len(), cfg.workload.vocab);
    let mut sums: Vec<Sums> = cfg.rules.iter().map(|_| Sums::new(tree.depth())).collect();
    if range.is_empty() {
        return Ok(sums);
    }
    // The rows read back are held one chunk at a time, within the host's budget.
    let chunk =
        crate::chunk::rounds_within_budget((2 * n + 1) * v * 4).min(g.rounds_per_chunk(n, v)?);
    for (r0, m) in crate::chunk::chunks(range.end.saturating_sub(range.start), chunk) {
        let r0 = range.start + r0;
        let (batch, resident) = g.generate_tree_rows(&generation(cfg), r0, m, n)?;
        let rows = Rows { batch };
        for (ri, &rule) in cfg.rules.iter().enumerate() {
            let tokens = rows.tokens(tree, rule, cfg.seed, r0)?;
            let view = rows.rounds(tree, &tokens);
            let res = run_resident(g, &view, rule, recovery(cfg, r0), &resident)?;
            rows.add_chunk(cfg, tree, rule, r0, &tokens, &res, &mut sums[ri]);
            progress(&format!("{} {rule}", cfg.tree.label()), m as u64);
        }
    }
    Ok(sums)
}

/// What the device generates for a configuration.
pub(super) fn generation(cfg: &TreeStudyConfig) -> Generation<'_> {
    Generation {
        workload: &cfg.workload,
        seed: cfg.seed,
        recovery: cfg.recovery,
    }
}
