//! Resolved settings: the arguments turned into the library's options (which check them and
//! expand them into configurations, naming the flags in their refusals).

use anyhow::Result;

use specsim::Rule;
use specsim::study::StudyConfig;
use specsim::study::options::StudyOptions;

use super::args::WorkloadArgs;

pub use specsim::study::options::parse_k_list;

/// The library's study options for these arguments: every flag not given takes
/// [`StudyOptions::default`]'s value (the callers that default otherwise, `verify`, pass theirs).
pub fn study_options(w: &WorkloadArgs) -> Result<StudyOptions> {
    let d = StudyOptions::default();
    Ok(StudyOptions {
        family: w.family,
        k: w.k.as_deref().map(parse_k_list).transpose()?,
        sigma: w.sigma.clone(),
        lambda: w.lambda.clone(),
        bits: w.bits.clone(),
        rates: w.rates.clone(),
        t_target: w.t_target.clone(),
        t_draft: w.t_draft.clone(),
        zipf: w.zipf.clone(),
        batch: batch_args(w)?.0,
        vocab: w.vocab.or(d.vocab),
        rounds: w.rounds.or(d.rounds),
        seed: w.seed.or(d.seed),
        recovery: w.recovery.into(),
        rules: w.rule.as_deref().map(Rule::parse_list).transpose()?,
        trees: w.trees.clone(),
        allow_unnormalized: false,
        design: false,
        nodes: None,
        sigma_dist: w
            .sigma_dist
            .iter()
            .map(|s| s.parse().map_err(|e| anyhow::anyhow!("--sigma-dist {e}")))
            .collect::<Result<_>>()?,
        lambda_dist: w
            .lambda_dist
            .iter()
            .map(|s| s.parse().map_err(|e| anyhow::anyhow!("--lambda-dist {e}")))
            .collect::<Result<_>>()?,
        stop: Vec::new(),
        k_max: None,
    })
}

/// `--batch`'s values: the batch file (a value that is not a list of positive integers) and the
/// batch sizes (one that is), each given at most once.
pub fn batch_args(w: &WorkloadArgs) -> Result<(Option<std::path::PathBuf>, Vec<u64>)> {
    let (mut path, mut sizes) = (None, None);
    for v in &w.batch {
        // Digits, commas and spaces only: a list of sizes (refused when an entry is empty or 0);
        // anything else is a path.
        let sizes_like = !v.trim().is_empty()
            && v.chars()
                .all(|c| c.is_ascii_digit() || c == ',' || c == ' ');
        let list: Option<Vec<u64>> = if sizes_like {
            let l: Vec<u64> = v
                .split(',')
                .map(|x| {
                    x.trim()
                        .parse::<u64>()
                        .ok()
                        .filter(|&b| b > 0)
                        .ok_or_else(|| {
                            anyhow::anyhow!(
                                "--batch {v:?}: {x:?} is not a batch size (a positive integer; a file named so: ./{v})"
                            )
                        })
                })
                .collect::<Result<_>>()?;
            Some(l)
        } else {
            None
        };
        match list {
            Some(l) if sizes.is_none() => sizes = Some(l),
            Some(_) => anyhow::bail!("--batch: batch sizes are given twice ({v:?})"),
            None if path.is_none() => path = Some(std::path::PathBuf::from(v)),
            None => anyhow::bail!("--batch: two batch files are given ({v:?})"),
        }
    }
    Ok((path, sizes.unwrap_or_default()))
}

/// Refuses batch sizes (`--batch 1,8`) in a command that does not read a latency profile.
pub fn no_batch_sizes(w: &WorkloadArgs, command: &str) -> Result<()> {
    if !batch_args(w)?.1.is_empty() {
        anyhow::bail!(
            "--batch B,…: batch sizes are read by `specsim study --cost-profile`, not by `specsim {command}`"
        );
    }
    Ok(())
}

/// `verify --study`'s configurations: the workload options with verify's own defaults (one K,
/// 8; V = 2048; as many rounds as it replays; seed 1).
pub fn replay_configs(w: &WorkloadArgs, rounds: u64, seed: u64) -> Result<Vec<StudyConfig>> {
    let opts = StudyOptions {
        vocab: w.vocab,
        rounds: w.rounds,
        seed: w.seed,
        ..study_options(w)?
    };
    Ok(opts.configs(&parse_k_list("8")?, 2048, rounds, seed)?)
}

/// `verify --study --tree SPEC`'s configurations: the tree study of that one tree (without the
/// chain the study adds beside it), with verify's defaults as [`replay_configs`].
pub fn replay_tree_configs(
    w: &WorkloadArgs,
    shape: &specsim::topology::shape::TreeShape,
    rounds: u64,
    seed: u64,
) -> Result<Vec<specsim::study::tree::TreeStudyConfig>> {
    let opts = StudyOptions {
        vocab: Some(w.vocab.unwrap_or(2048)),
        rounds: Some(w.rounds.unwrap_or(rounds)),
        seed: Some(w.seed.unwrap_or(seed)),
        ..study_options(w)?
    };
    match opts.plan()? {
        specsim::study::options::Plan::Tree(cfgs) => Ok(cfgs
            .into_iter()
            .filter(|c| c.tree.spec == shape.spec)
            .collect()),
        specsim::study::options::Plan::Chain(_) => {
            anyhow::bail!("--tree {}: not a tree study", shape.spec)
        }
    }
}
