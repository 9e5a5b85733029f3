//! Resolved settings: the arguments turned into the library's options (which check them and
//! expand them into configurations, naming the flags in their refusals).

use anyhow::Result;

use specsim::Rule;
use specsim::study::StudyConfig;
use specsim::study::options::{FamilyKind, StudyOptions};

use super::args::{FamilyArg, WorkloadArgs};

pub use specsim::study::options::parse_k_list;

/// The library's study options for these arguments.
pub fn study_options(w: &WorkloadArgs) -> Result<StudyOptions> {
    Ok(StudyOptions {
        family: match w.family {
            FamilyArg::LogitNoise => FamilyKind::LogitNoise,
            FamilyArg::Mixture => FamilyKind::Mixture,
            FamilyArg::Quantized => FamilyKind::Quantized,
            FamilyArg::Rates => FamilyKind::Rates,
            FamilyArg::File => FamilyKind::File,
        },
        k: w.k.as_deref().map(parse_k_list).transpose()?,
        sigma: w.sigma.clone(),
        lambda: w.lambda.clone(),
        bits: w.bits.clone(),
        rates: w.rates.clone(),
        t_target: w.t_target.clone(),
        t_draft: w.t_draft.clone(),
        zipf: w.zipf.clone(),
        batch: w.batch_path.clone(),
        vocab: w.vocab,
        rounds: w.rounds,
        seed: w.seed,
        recovery: w.recovery.into(),
        rules: Rule::parse_list(w.rule.as_deref().unwrap_or("token"))?,
        allow_unnormalized: false,
    })
}

/// The cartesian product of the workload options, as study configurations.
pub fn study_configs(
    w: &WorkloadArgs,
    default_k: &str,
    default_vocab: usize,
    default_rounds: u64,
    seed: u64,
) -> Result<Vec<StudyConfig>> {
    Ok(study_options(w)?.configs(
        &parse_k_list(default_k)?,
        default_vocab,
        default_rounds,
        seed,
    )?)
}

/// The tree study's configurations: every workload of the options × every `--tree`, under the
/// rules asked for (all four tree rules by default).
pub fn tree_study_configs(
    w: &WorkloadArgs,
    default_vocab: usize,
    default_rounds: u64,
    seed: u64,
) -> Result<Vec<specsim::study::tree::TreeStudyConfig>> {
    use specsim::topology::shape::TreeShape;
    let rules = match &w.rule {
        Some(list) => Rule::parse_list(list)?,
        None => Rule::TREE.to_vec(),
    };
    let mut shapes: Vec<TreeShape> = w
        .trees
        .iter()
        .map(|s| s.parse())
        .collect::<specsim::Result<_>>()?;
    if w.k.is_some() {
        eprintln!("specsim: notice: a tree study's drafts are its trees: --k is not used");
    }
    if w.family == FamilyArg::Rates || w.family == FamilyArg::File {
        anyhow::bail!(
            "a tree study generates its rows: use --family logit-noise, mixture or quantized"
        );
    }
    let mut opts = study_options(w)?;
    opts.rules = vec![Rule::Token];
    opts.k = None;
    let largest = shapes.iter().map(|s| s.tree.len()).max().unwrap_or(1);
    let base = opts.configs(&[1], default_vocab, default_rounds, seed)?;
    if let Some(c) = base.first() {
        specsim::study::options::check_round_size(largest, c.workload.vocab)?;
    }
    let mut seen = std::collections::HashSet::new();
    shapes.retain(|s| seen.insert(s.spec.clone()));
    // The chain of the same node count beside each tree, for comparison.
    for i in 0..shapes.len() {
        let n = shapes[i].tree.len();
        if !shapes[i].tree.is_path()
            && !shapes.iter().any(|s| s.tree.is_path() && s.tree.len() == n)
        {
            shapes.push(format!("chain:{}", n - 1).parse()?);
        }
    }
    let mut out = Vec::new();
    for c in base {
        for shape in &shapes {
            out.push(specsim::study::tree::TreeStudyConfig {
                workload: c.workload.clone(),
                tree: shape.clone(),
                rules: rules.clone(),
                rounds: c.rounds,
                seed: c.seed,
                recovery: c.recovery,
            });
        }
    }
    Ok(out)
}
