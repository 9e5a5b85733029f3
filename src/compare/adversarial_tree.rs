//! Tree batches held in memory, and adversarial ones for `verify --generate --tree`: duplicate
//! sibling tokens (for `rrs` and `greedy`), coins on the running sums and ratios the rules
//! compare them with, one-hot and uniform rows, draft = target, tiny probabilities. Every round is
//! valid for the rule it is made for; round r depends only on (seed, r0 + r), so any chunk can be
//! made alone.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

use crate::batch::{Floats, Ints};
use crate::batch::{Rounds, Topology};
use crate::error::Result;
use crate::rule::Rule;
use crate::topology::Tree;

/// A tree batch in memory, in §7's layout (f32 rows, u32 tokens, f32 coins).
#[derive(Clone, Debug)]
pub struct TreeBatch {
    /// The topology of every round (of round 0 when `per_round` is given).
    pub tree: Tree,
    /// `[N, n]`: each round's parent array, when the rounds have their own trees.
    pub per_round: Option<Vec<i64>>,
    /// Rounds.
    pub n: usize,
    /// Vocabulary size.
    pub v: usize,
    /// `[N, n, V]`.
    pub draft: Vec<f32>,
    /// `[N, n, V]`.
    pub target: Vec<f32>,
    /// `[N, n]` (entry 0 of each round is 0).
    pub tokens: Vec<u32>,
    /// `[N, n]`.
    pub coins: Vec<f32>,
}

impl TreeBatch {
    /// Nodes per round.
    pub fn nodes(&self) -> usize {
        self.tree.len()
    }

    /// A view of this batch.
    pub fn view(&self) -> Result<Rounds<'_>> {
        let topology = match &self.per_round {
            Some(p) => Topology::per_round(Ints::I64(bytemuck::cast_slice(p)), self.tree.len())?,
            None => Topology::Shared(&self.tree),
        };
        Rounds::new(
            topology,
            self.v,
            Floats::F32(bytemuck::cast_slice(&self.draft)),
            Floats::F32(bytemuck::cast_slice(&self.target)),
            Ints::U32(bytemuck::cast_slice(&self.tokens)),
            Floats::F32(bytemuck::cast_slice(&self.coins)),
        )
    }
}

/// A normalised f32 row of V from non-negative weights (the last non-zero entry absorbs the
/// rounding, so the f32 sum is within 1e-6 of 1).
fn normalise(w: &mut [f32]) {
    let s: f64 = w.iter().map(|&x| x as f64).sum();
    if s == 0.0 {
        w[0] = 1.0;
        return;
    }
    for x in w.iter_mut() {
        *x = (*x as f64 / s) as f32;
    }
}

/// One row of a scenario.
fn make_row(rng: &mut StdRng, kind: u32, row: &mut [f32]) {
    let v = row.len();
    match kind {
        // One-hot.
        0 => {
            row.fill(0.0);
            row[rng.random_range(0..v)] = 1.0;
        }
        // Uniform (argmax ties everywhere).
        1 => row.fill(1.0 / v as f32),
        // Sparse: a few heavy entries, the rest tiny or zero.
        2 => {
            for x in row.iter_mut() {
                *x = if rng.random_bool(0.5) { 0.0 } else { 1e-30 };
            }
            for _ in 0..3.min(v) {
                row[rng.random_range(0..v)] = rng.random_range(0.1f32..1.0);
            }
            normalise(row);
        }
        // Dirichlet-like with quantised values (ties between entries).
        3 => {
            for x in row.iter_mut() {
                *x = rng.random_range(0..4) as f32;
            }
            normalise(row);
        }
        // Smooth random.
        _ => {
            for x in row.iter_mut() {
                *x = rng.random::<f32>();
            }
            normalise(row);
        }
    }
}

/// A random tree of `nodes` nodes (node i's parent uniform among the earlier nodes, biased to
/// the last few so that deep paths occur): round `round`'s tree of a per-round batch.
pub fn random_tree(nodes: usize, seed: u64, round: u64) -> Tree {
    let mut rng = StdRng::seed_from_u64(seed ^ round.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x7EE);
    let parents: Vec<i64> = (0..nodes as i64)
        .map(|i| match i {
            0 => -1,
            _ if rng.random_bool(0.5) => i - 1,
            _ => rng.random_range(0..i),
        })
        .collect();
    Tree::from_parents(&parents).expect("a valid parent array")
}

/// `n` adversarial rounds at vocabulary `v` for `rule`, each with its own random tree of
/// `nodes` nodes ([`random_tree`]): a batch with per-round parents `[N, n]`. Round r is round
/// `r0 + r` of [`adversarial_tree_batch`] on its own tree, so any chunk can be made alone.
pub fn adversarial_per_round_batch(
    nodes: usize,
    r0: u64,
    n: usize,
    v: usize,
    seed: u64,
    rule: Rule,
) -> TreeBatch {
    let parts: Vec<TreeBatch> = (0..n)
        .into_par_iter()
        .map(|i| {
            let round = r0 + i as u64;
            adversarial_tree_batch(&random_tree(nodes, seed, round), round, 1, v, seed, rule)
        })
        .collect();
    concat(parts, nodes, v)
}

/// Rounds of one-round batches with their own trees, as one batch with per-round parents
/// `[N, n]` (the tree of round 0 as its `tree`).
fn concat(parts: Vec<TreeBatch>, nodes: usize, v: usize) -> TreeBatch {
    let n = parts.len();
    let mut b = TreeBatch {
        tree: parts
            .first()
            .map_or_else(|| Tree::path(nodes.saturating_sub(1)), |p| p.tree.clone()),
        per_round: Some(Vec::with_capacity(n * nodes)),
        n,
        v,
        draft: Vec::with_capacity(n * nodes * v),
        target: Vec::with_capacity(n * nodes * v),
        tokens: Vec::with_capacity(n * nodes),
        coins: Vec::with_capacity(n * nodes),
    };
    for p in parts {
        if let Some(pr) = b.per_round.as_mut() {
            pr.extend(p.tree.parents().iter().map(|&x| x as i64));
        }
        b.draft.extend(p.draft);
        b.target.extend(p.target);
        b.tokens.extend(p.tokens);
        b.coins.extend(p.coins);
    }
    b
}

/// `n` adversarial rounds of `tree` at vocabulary `v` for `rule` (rounds `r0..r0 + n` of the
/// stream `seed`).
pub fn adversarial_tree_batch(
    tree: &Tree,
    r0: u64,
    n: usize,
    v: usize,
    seed: u64,
    rule: Rule,
) -> TreeBatch {
    let nn = tree.len();
    let mut b = TreeBatch {
        per_round: None,
        tree: tree.clone(),
        n,
        v,
        draft: vec![0.0; n * nn * v],
        target: vec![0.0; n * nn * v],
        tokens: vec![0; n * nn],
        coins: vec![0.0; n * nn],
    };
    b.draft
        .par_chunks_mut(nn * v)
        .zip(b.target.par_chunks_mut(nn * v))
        .zip(b.tokens.par_chunks_mut(nn))
        .zip(b.coins.par_chunks_mut(nn))
        .enumerate()
        .for_each(|(i, (((d, t), tok), c))| {
            let round = r0 + i as u64;
            let mut rng = StdRng::seed_from_u64(seed ^ round.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            make_round(&mut rng, tree, v, rule, d, t, tok, c);
        });
    b
}

#[allow(clippy::too_many_arguments)]
fn make_round(
    rng: &mut StdRng,
    tree: &Tree,
    v: usize,
    rule: Rule,
    d: &mut [f32],
    t: &mut [f32],
    tok: &mut [u32],
    c: &mut [f32],
) {
    let scenario = rng.random_range(0..6u32);
    // A small pool of rows per round, copied into the nodes: the rules care about how t and q
    // relate at each node, and copying keeps generation near memory speed at large V.
    let pool = tree.len().min(6);
    let make_pool = |rng: &mut StdRng| -> Vec<Vec<f32>> {
        (0..pool)
            .map(|_| {
                let mut row = vec![0.0f32; v];
                let kind = rng.random_range(0..6);
                make_row(rng, kind, &mut row);
                row
            })
            .collect()
    };
    let targets = make_pool(rng);
    let drafts = make_pool(rng);
    let close: Vec<Vec<f32>> = targets
        .iter()
        .zip(&drafts)
        .map(|(t, d)| {
            let mut row: Vec<f32> = t.iter().zip(d).map(|(&t, &d)| 0.8 * t + 0.2 * d).collect();
            normalise(&mut row);
            row
        })
        .collect();
    for u in 0..tree.len() {
        let (dr, tr) = (&mut d[u * v..(u + 1) * v], &mut t[u * v..(u + 1) * v]);
        let i = rng.random_range(0..pool);
        tr.copy_from_slice(&targets[i]);
        match scenario {
            // Draft = target: every ratio is 1.
            0 => dr.copy_from_slice(tr),
            // Draft close to the target.
            1 => dr.copy_from_slice(&close[i]),
            _ => dr.copy_from_slice(&drafts[rng.random_range(0..pool)]),
        }
    }
    // Children's tokens, as the rule allows: distinct where it needs them, with q > 0 where it
    // reads q.
    for u in 0..tree.len() {
        let ch = tree.children(u);
        let q = &d[u * v..(u + 1) * v];
        let support: Vec<usize> = (0..v).filter(|&x| q[x] > 0.0).collect();
        let mut used: Vec<u32> = Vec::new();
        for &cnode in ch {
            let distinct = rule.needs_distinct_siblings();
            let pool: Vec<usize> = if rule.reads_draft() {
                support.clone()
            } else {
                (0..v).collect()
            };
            let free: Vec<usize> = pool
                .iter()
                .copied()
                .filter(|x| !distinct || !used.contains(&(*x as u32)))
                .collect();
            let x = if free.is_empty() {
                // Not enough distinct tokens for this node: reuse (the tree keeps its shape; a
                // rule that needs distinct siblings gets a draft row with more support below).
                pool[rng.random_range(0..pool.len())]
            } else if rng.random_bool(0.3) && !used.is_empty() && !distinct {
                used[rng.random_range(0..used.len())] as usize // a duplicate sibling
            } else if rng.random_bool(0.5) {
                // The target's argmax, or the draft's top entry.
                let row = if rng.random_bool(0.5) {
                    &t[u * v..(u + 1) * v]
                } else {
                    q
                };
                free.iter()
                    .copied()
                    .max_by(|&a, &b| row[a].total_cmp(&row[b]).then(b.cmp(&a)))
                    .unwrap_or(free[0])
            } else {
                free[rng.random_range(0..free.len())]
            };
            used.push(x as u32);
            tok[cnode as usize] = x as u32;
        }
    }
    // A rule that needs distinct siblings and could not have them: make the node's draft row
    // uniform and re-draw its children without replacement.
    if rule.needs_distinct_siblings() {
        for u in 0..tree.len() {
            let ch = tree.children(u);
            let mut toks: Vec<u32> = ch.iter().map(|&x| tok[x as usize]).collect();
            toks.sort_unstable();
            toks.dedup();
            if toks.len() < ch.len() {
                assert!(ch.len() <= v, "a node has more children than V tokens");
                d[u * v..(u + 1) * v].fill(1.0 / v as f32);
                let mut all: Vec<u32> = (0..v as u32).collect();
                for (j, &cnode) in ch.iter().enumerate() {
                    let pick = rng.random_range(j..v);
                    all.swap(j, pick);
                    tok[cnode as usize] = all[j];
                }
            }
        }
    }
    adversarial_coins(rng, tree, v, d, t, tok, c);
    tok[0] = 0;
}

/// Coins for an adversarial round: uniform, or on the thresholds the rules compare them with
/// (target-only's running sums, the token rule's ratio), one f32 step either side; sometimes
/// every coin just below 1 or 0.
fn adversarial_coins(
    rng: &mut StdRng,
    tree: &Tree,
    v: usize,
    d: &[f32],
    t: &[f32],
    tok: &[u32],
    c: &mut [f32],
) {
    for u in 0..tree.len() {
        c[u] = rng.random::<f32>();
        if rng.random_bool(0.3) {
            let tu = &t[u * v..(u + 1) * v];
            let ch = tree.children(u);
            let mut s = 0.0f32;
            let pick = rng.random_range(0..ch.len().max(1));
            for (j, &cnode) in ch.iter().enumerate() {
                s += tu[tok[cnode as usize] as usize];
                if j == pick {
                    let nudge = rng.random_range(-1i32..=1);
                    c[u] = f32::from_bits((s.to_bits() as i32 + nudge).max(0) as u32);
                }
            }
        }
        if let Some(p) = tree.parent(u)
            && rng.random_bool(0.3)
        {
            // The first child's ratio p/q (the token rule's threshold).
            let x = tok[u] as usize;
            let (pt, pq) = (t[p * v + x], d[p * v + x]);
            if pq > 0.0 {
                c[u] = (pt / pq).min(1.0);
            }
        }
        if c[u] >= 1.0 || c[u].is_nan() {
            c[u] = 0.999_999_94;
        }
    }
    // The shapes that make the kernels loop longest: every coin just below 1 (wide nodes whose
    // children are all rejected, each rejection a pass over the row) or every coin 0 (walks to
    // the deepest leaf).
    match rng.random_range(0..8u32) {
        0 => c.fill(0.999_999_94),
        1 => c.fill(0.0),
        _ => {}
    }
}

/// `n` adversarial rounds of `eagle2` trees (SPEC §10) at vocabulary `v`: each round's tree grown
/// from draft rows drawn from a small pool of adversarial rows (one-hot, uniform, sparse,
/// quantised with many exact ties, smooth; each candidate's row picked at random), with target
/// rows from another pool and coins on the rules' thresholds. For the rules that verify such
/// trees (`greedy`, `target-only`); round r depends only on (seed, r0 + r).
pub fn adversarial_eagle2_batch(
    e: crate::topology::eagle2::Eagle2,
    r0: u64,
    n: usize,
    v: usize,
    seed: u64,
) -> Result<TreeBatch> {
    use crate::reference::tree::expect::row_top_k;
    e.check(v)?;
    let nodes = e.nodes;
    let parts: Vec<TreeBatch> = (0..n)
        .into_par_iter()
        .map(|i| -> Result<TreeBatch> {
            let round = r0 + i as u64;
            let mut rng =
                StdRng::seed_from_u64(seed ^ round.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xEA61E2);
            let pool = |rng: &mut StdRng| -> Vec<Vec<f32>> {
                (0..6)
                    .map(|_| {
                        let mut row = vec![0.0f32; v];
                        let kind = rng.random_range(0..6);
                        make_row(rng, kind, &mut row);
                        row
                    })
                    .collect()
            };
            let (targets, drafts) = (pool(&mut rng), pool(&mut rng));
            let mut picked: std::collections::HashMap<Option<usize>, usize> = Default::default();
            let grown = e.grow(v, |cand, _| {
                let i = rng.random_range(0..drafts.len());
                picked.insert(cand, i);
                Ok(row_top_k(&drafts[i][..], v, e.k))
            })?;
            let (mut d, mut t) = (vec![0.0f32; nodes * v], vec![0.0f32; nodes * v]);
            for u in 0..nodes {
                let cand = (u > 0).then(|| grown.candidates[u]);
                if let Some(&i) = picked.get(&cand) {
                    d[u * v..(u + 1) * v].copy_from_slice(&drafts[i]);
                }
                let ti = rng.random_range(0..targets.len());
                t[u * v..(u + 1) * v].copy_from_slice(&targets[ti]);
            }
            let mut c = vec![0.0f32; nodes];
            adversarial_coins(&mut rng, &grown.tree, v, &d, &t, &grown.tokens, &mut c);
            Ok(TreeBatch {
                tree: grown.tree,
                per_round: None,
                n: 1,
                v,
                draft: d,
                target: t,
                tokens: grown.tokens,
                coins: c,
            })
        })
        .collect::<Result<_>>()?;
    Ok(concat(parts, nodes, v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::round::RoundOptions;

    #[test]
    fn adversarial_batches_are_valid_for_their_rule() {
        for tree in [
            Tree::path(4),
            crate::topology::shape::kary(3, 2).unwrap(),
            Tree::from_parents(&[-1, 0, 0, 0, 0, 0, 1]).unwrap(),
            Tree::path(0),
        ] {
            for rule in Rule::TREE {
                for v in [1usize, 7, 300] {
                    if (rule.needs_distinct_siblings() && tree.max_children() > v)
                        || (!rule.verifies_branches() && tree.max_children() > 1)
                    {
                        continue;
                    }
                    let b = adversarial_tree_batch(&tree, 0, 50, v, 3, rule);
                    let opts = RoundOptions {
                        allow_unnormalized: false,
                        allow_empty_draft: true,
                    };
                    b.view()
                        .unwrap()
                        .validate(&opts, crate::batch::Validation::Full, rule)
                        .unwrap_or_else(|e| panic!("{rule} {:?} V={v}: {e}", tree.parents()));
                }
            }
        }
    }
}
