//! A batch file read for a compatibility profile (SPEC §14), chunk by chunk, as the library's
//! batch references: a chain batch with its extra inputs ([`CompatSource`]) for the token rule,
//! a tree or chain batch as trees ([`TreeSource`]) for the tree rules. `run --compat` and
//! `verify --compat` read through them.

use anyhow::{Result, bail};

use specsim::Rule;
use specsim::batch::{Floats, Rounds};
use specsim::compat::{ChainBatch, TreeBatch};
use specsim::npyio::BatchFile;
use specsim::topology::Tree;

/// A chain batch file read for a profile: its view and its extra inputs (`final_coins` [N],
/// `exp_noise` [N, V]), checked for shape.
pub(super) struct CompatSource<'f> {
    pub(super) view: specsim::batch::ChainView<'f>,
    final_coins: Option<Floats<'f>>,
    exp_noise: Option<Floats<'f>>,
}

impl<'f> CompatSource<'f> {
    pub(super) fn open(file: &'f BatchFile) -> Result<CompatSource<'f>> {
        let view = file.view()?;
        let extra = |name: &str, shape: &[usize]| -> Result<Option<Floats<'f>>> {
            match file.extras.iter().find(|(x, _)| *x == name) {
                None => Ok(None),
                Some((_, a)) if a.shape != shape => bail!(
                    "{}: {name} has shape {:?}, expected {shape:?}",
                    a.origin,
                    a.shape
                ),
                Some((_, a)) => Ok(Some(a.float_values()?)),
            }
        };
        let final_coins = extra("final_coins", &[view.n])?;
        let exp_noise = extra("exp_noise", &[view.n, view.v])?;
        Ok(CompatSource {
            view,
            final_coins,
            exp_noise,
        })
    }

    /// The bytes a round's rows take (the chunk budget's unit).
    pub(super) fn bytes_per_round(&self) -> usize {
        (2 * self.view.k + 1) * self.view.v * 4
    }

    /// Rounds `r0..r0 + m` as f32 arrays.
    pub(super) fn chunk(&self, r0: usize, m: usize) -> ChainBatch {
        let (k, v) = (self.view.k, self.view.v);
        let part = self.view.rounds(r0, m);
        let f32s = |f: Floats| f.as_f32(&mut Vec::new()).to_vec();
        ChainBatch {
            n: m,
            k,
            v,
            draft: f32s(part.draft),
            target: f32s(part.target),
            tokens: (0..m * k).map(|i| part.tokens.get(i)).collect(),
            coins: f32s(part.coins),
            final_coins: self.final_coins.as_ref().map(|x| f32s(x.slice(r0, m))),
            exp_noise: self
                .exp_noise
                .as_ref()
                .map(|x| f32s(x.slice(r0 * v, m * v))),
        }
    }
}

/// A chunk's `round r: …` message with the batch's round index.
pub(super) fn offset(msg: String, r0: usize) -> String {
    match msg
        .strip_prefix("invalid option: round ")
        .or_else(|| msg.strip_prefix("round "))
        .and_then(|rest| rest.split_once(':'))
        .and_then(|(r, tail)| r.parse::<usize>().ok().map(|r| (r, tail)))
    {
        Some((r, tail)) => format!("round {}:{tail}", r + r0),
        None => msg,
    }
}

/// A tree batch file (or a chain read as the path tree) read for a tree rule's profile: its
/// rounds in the rule's view and its `final_coins` [N]; `exp_noise` is refused.
pub(super) struct TreeSource<'f> {
    pub(super) rounds: Rounds<'f>,
    final_coins: Option<Floats<'f>>,
}

impl<'f> TreeSource<'f> {
    pub(super) fn open(file: &'f BatchFile, rule: Rule) -> Result<TreeSource<'f>> {
        let rounds = file.rounds()?.for_rule(rule);
        rounds.check_shapes()?;
        let n = rounds.n;
        let final_coins = match file.extras.iter().find(|(x, _)| *x == "final_coins") {
            None => None,
            Some((_, a)) if a.shape != [n] => {
                bail!(
                    "{}: final_coins has shape {:?}, expected [{n}]",
                    a.origin,
                    a.shape
                )
            }
            Some((_, a)) => Some(a.float_values()?),
        };
        if let Some((_, a)) = file.extras.iter().find(|(x, _)| *x == "exp_noise") {
            bail!(
                "{}: exp_noise: no tree profile samples by exponential race",
                a.origin
            );
        }
        Ok(TreeSource {
            rounds,
            final_coins,
        })
    }

    /// The bytes a round's rows take (the chunk budget's unit).
    pub(super) fn bytes_per_round(&self) -> usize {
        self.rounds.layout.target_rows * self.rounds.v * 4
    }

    /// Rounds `r0..r0 + m` in SPEC §7's tree layout: `parents` [n] (a shared tree) or [m, n],
    /// tokens (the root's 0) and coins [m, n] (a coin the rule does not read 0), target rows
    /// [m, n, V].
    pub(super) fn chunk(&self, r0: usize, m: usize) -> TreeBatch {
        let (v, nn, l) = (
            self.rounds.v,
            self.rounds.topology.nodes(),
            self.rounds.layout,
        );
        let part = self.rounds.rounds(r0, m);
        let mut scratch = Tree::default();
        let mut parents = Vec::new();
        let shared = part.topology.shared(&mut scratch).is_some();
        let rounds_of_trees = if shared { 1 } else { m };
        for r in 0..rounds_of_trees {
            parents.extend(
                part.tree(r, &mut scratch)
                    .parents()
                    .iter()
                    .map(|&p| p as i64),
            );
        }
        let mut tokens = Vec::with_capacity(m * nn);
        let mut coins = Vec::with_capacity(m * nn);
        let mut target = Vec::with_capacity(m * nn * v);
        let mut buf = Vec::new();
        for r in 0..m {
            tokens.extend((0..nn).map(|c| if c == 0 { 0 } else { part.token(r, c) }));
            // Node c's coin is entry c − shift of the round's coins (none: not read).
            coins.extend((0..nn).map(|c| {
                let e = c as isize - l.coin_shift as isize;
                if (0..l.coin_stride as isize).contains(&e) {
                    part.coins.get_f32(r * l.coin_stride + e as usize)
                } else {
                    0.0
                }
            }));
            target.extend_from_slice(
                part.target
                    .slice(part.target_at(r, 0), nn * v)
                    .as_f32(&mut buf),
            );
        }
        TreeBatch {
            n: m,
            nodes: nn,
            v,
            parents,
            tokens,
            coins,
            target,
            final_coins: self
                .final_coins
                .as_ref()
                .map(|f| f.slice(r0, m).as_f32(&mut Vec::new()).to_vec()),
        }
    }
}
