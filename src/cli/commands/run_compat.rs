//! `specsim run --compat P`: a batch decided under a compatibility profile (SPEC §14), chunk by
//! chunk: the chain token rule on the engine asked for (`Engine::compat_chain`: the reference on
//! all cores, or the GPU kernel `shaders/compat.wgsl`), `greedy` and `target-only` on a tree or
//! chain batch by the reference (`specsim::compat::decide_tree`, all cores).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};

use specsim::Rule;
use specsim::compat::{BatchRef, Profile, TreeRound, decide_tree};
use specsim::npyio::{BatchFile, NpzValues, write_npz};

use super::{Progress, emit, in_chunks, open_engine};
use crate::cli::args::EngineChoice;

pub fn cmd_run_compat(
    batch: &Path,
    engine: EngineChoice,
    out: Option<PathBuf>,
    rule: Rule,
    profile: Profile,
    quiet: bool,
) -> Result<ExitCode> {
    profile.check_rule(rule)?;
    if engine == EngineChoice::Gpu && rule != Rule::Token {
        bail!(
            "--compat --rule {rule} runs on the CPU (the reference, all cores): the GPU engine implements the token rule's profiles; use --engine cpu or auto"
        );
    }
    if let Some(o) = &out {
        specsim::output::check_target(o)?;
    }
    let file = BatchFile::open(batch)?;
    if rule != Rule::Token {
        return run_tree(batch, &file, out, rule, profile, quiet);
    }
    let src = CompatSource::open(&file)?;
    let (n, k, v) = (src.view.n, src.view.k, src.view.v);
    // The token rule's profiles on the engine asked for (`auto`: a hardware GPU, else the CPU).
    let mut eng = open_engine(engine)?;
    let mut progress = Progress::new("run --compat", n as u64, quiet);
    progress.set_message(profile.name());
    let (mut tokens, mut acc, mut passed) = (Vec::new(), Vec::new(), Vec::new());
    in_chunks(n, src.bytes_per_round(), &mut progress, |r0, m| {
        let chunk = src.chunk(r0, m);
        let outs = eng
            .compat_chain(&chunk.batch(), profile)
            .map_err(|e| anyhow::anyhow!("{}: {}", batch.display(), offset(e.to_string(), r0)))?;
        for o in outs {
            tokens.extend_from_slice(&o.tokens);
            acc.push(o.num_accepted as i32);
            passed.push(o.num_passed as i32);
        }
        Ok(())
    })?;
    progress.finish();
    for note in eng.notices() {
        eprintln!("specsim: {note}");
    }
    let generated: Vec<i32> = acc.iter().map(|a| a + 1).collect();
    if let Some(o) = &out {
        let (n64, k64) = (n as u64, k as u64);
        write_npz(
            o,
            &[
                ("tokens", vec![n64, k64 + 1], NpzValues::I32(&tokens)),
                ("num_accepted", vec![n64], NpzValues::I32(&acc)),
                ("num_generated", vec![n64], NpzValues::I32(&generated)),
                ("num_passed", vec![n64], NpzValues::I32(&passed)),
            ],
        )?;
    }
    let mean = |x: &[i32]| x.iter().map(|&a| a as f64).sum::<f64>() / n.max(1) as f64;
    emit(&format!(
        "{n} rounds (K = {k}, V = {v}) under the {profile} profile ({}): mean accepted {:.4}, mean generated {:.4}, mean passed {:.4}{}\n",
        eng.describe(),
        mean(&acc),
        mean(&generated),
        mean(&passed),
        out.as_ref()
            .map_or(String::new(), |o| format!("; wrote {}", o.display()))
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `greedy` or `target-only` under the profile, on a tree batch or a chain read as the path tree.
fn run_tree(
    batch: &Path,
    file: &BatchFile,
    out: Option<PathBuf>,
    rule: Rule,
    profile: Profile,
    quiet: bool,
) -> Result<ExitCode> {
    use rayon::prelude::*;
    use specsim::topology::Tree;
    let rounds = file.rounds()?.for_rule(rule);
    rounds.check_shapes()?;
    let (n, v, nn) = (rounds.n, rounds.v, rounds.topology.nodes());
    let layout = rounds.layout;
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
    let depth = rounds.topology.depth();
    let mut progress = Progress::new("run --compat", n as u64, quiet);
    progress.set_message(profile.name());
    let per_round = layout.target_rows * v * 4;
    let (mut tokens, mut nodes, mut acc) = (Vec::new(), Vec::new(), Vec::new());
    in_chunks(n, per_round, &mut progress, |r0, m| {
        let part = rounds.rounds(r0, m);
        let outs = (0..m)
            .into_par_iter()
            .map_init(
                || (Tree::default(), Vec::new()),
                |(scratch, buf), r| {
                    let tree = part.tree(r, scratch);
                    let target = part
                        .target
                        .slice(part.target_at(r, 0), nn * v)
                        .as_f32(buf)
                        .to_vec();
                    let toks: Vec<i64> = (0..nn)
                        .map(|c| if c == 0 { 0 } else { part.token(r, c) })
                        .collect();
                    // Node c's coin is entry c − shift of the round's coins (none: not read).
                    let coins: Vec<f32> = (0..nn)
                        .map(|c| {
                            let e = c as isize - layout.coin_shift as isize;
                            if (0..layout.coin_stride as isize).contains(&e) {
                                part.coins.get_f32(r * layout.coin_stride + e as usize)
                            } else {
                                0.0
                            }
                        })
                        .collect();
                    decide_tree(
                        &TreeRound {
                            tree,
                            v,
                            tokens: &toks,
                            coins: &coins,
                            target: &target,
                            final_coin: final_coins.as_ref().map(|f| f.get_f32(r0 + r)),
                        },
                        profile,
                        rule,
                    )
                    .map_err(|e| (r0 + r, e))
                },
            )
            .collect::<Vec<_>>();
        for o in outs {
            let mut o =
                o.map_err(|(r, e)| anyhow::anyhow!("{}: round {r}: {e}", batch.display()))?;
            // Rounds of a per-round topology pad to the batch's depth.
            o.tokens.resize(depth + 1, -1);
            o.nodes.resize(depth, -1);
            tokens.extend_from_slice(&o.tokens);
            nodes.extend_from_slice(&o.nodes);
            acc.push(o.num_accepted as i32);
        }
        Ok(())
    })?;
    progress.finish();
    let generated: Vec<i32> = acc.iter().map(|a| a + 1).collect();
    if let Some(o) = &out {
        let (n64, d64) = (n as u64, depth as u64);
        write_npz(
            o,
            &[
                ("tokens", vec![n64, d64 + 1], NpzValues::I32(&tokens)),
                ("accepted_nodes", vec![n64, d64], NpzValues::I32(&nodes)),
                ("num_accepted", vec![n64], NpzValues::I32(&acc)),
                ("num_generated", vec![n64], NpzValues::I32(&generated)),
            ],
        )?;
    }
    let mean = |x: &[i32]| x.iter().map(|&a| a as f64).sum::<f64>() / n.max(1) as f64;
    emit(&format!(
        "{n} rounds ({nn}-node trees, depth {depth}, V = {v}) under the {profile} profile, rule {rule}: mean accepted {:.4}, mean generated {:.4}{}\n",
        mean(&acc),
        mean(&generated),
        out.as_ref()
            .map_or(String::new(), |o| format!("; wrote {}", o.display()))
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// A chain batch file read for a profile: its view and its extra inputs (`final_coins` [N],
/// `exp_noise` [N, V]), checked for shape.
pub(super) struct CompatSource<'f> {
    pub(super) view: specsim::batch::ChainView<'f>,
    final_coins: Option<specsim::batch::Floats<'f>>,
    exp_noise: Option<specsim::batch::Floats<'f>>,
}

/// Rounds `r0..r0 + m` of a [`CompatSource`] as f32 arrays.
pub(super) struct CompatChunk {
    n: usize,
    k: usize,
    v: usize,
    draft: Vec<f32>,
    target: Vec<f32>,
    tokens: Vec<i64>,
    coins: Vec<f32>,
    final_coins: Option<Vec<f32>>,
    exp_noise: Option<Vec<f32>>,
}

impl CompatChunk {
    pub(super) fn batch(&self) -> BatchRef<'_> {
        BatchRef {
            n: self.n,
            k: self.k,
            v: self.v,
            draft: &self.draft,
            target: &self.target,
            tokens: &self.tokens,
            coins: &self.coins,
            final_coins: self.final_coins.as_deref(),
            exp_noise: self.exp_noise.as_deref(),
        }
    }
}

impl<'f> CompatSource<'f> {
    pub(super) fn open(file: &'f BatchFile) -> Result<CompatSource<'f>> {
        let view = file.view()?;
        let extra = |name: &str, shape: &[usize]| -> Result<Option<specsim::batch::Floats<'f>>> {
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

    pub(super) fn chunk(&self, r0: usize, m: usize) -> CompatChunk {
        let (k, v) = (self.view.k, self.view.v);
        let part = self.view.rounds(r0, m);
        let f32s = |f: specsim::batch::Floats| f.as_f32(&mut Vec::new()).to_vec();
        CompatChunk {
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
