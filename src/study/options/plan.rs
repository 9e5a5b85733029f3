//! What a study runs ([`Plan`]): chain configurations over K, or tree configurations, from the
//! options, a file's batch included.

use super::{DEFAULT_K, FamilyKind, StudyOptions, check_round_size};
use crate::error::{Error, Result};
use crate::rule::Rule;
use crate::study::StudyConfig;
use crate::workload::{Family, Workload};

/// What a study runs: chain configurations over K, or tree configurations.
#[derive(Clone, Debug)]
pub enum Plan {
    /// A chain study.
    Chain(Vec<StudyConfig>),
    /// A tree study.
    Tree(Vec<crate::study::tree::TreeStudyConfig>),
}

impl Plan {
    /// Rounds run in all (each rule of a tree configuration counted).
    pub fn rounds(&self) -> u64 {
        match self {
            Plan::Chain(c) => c.iter().map(|c| c.rounds).sum(),
            Plan::Tree(c) => c.iter().map(|c| c.rounds * c.rules.len() as u64).sum(),
        }
    }
}

impl StudyOptions {
    /// The study these options ask for: a tree study when trees are given or the `file` family's
    /// batch is a tree batch (its rounds, its trees), otherwise a chain study over K (a file's
    /// study over 1..=its K unless `k` says otherwise). Every default is
    /// [`StudyOptions::default`]'s.
    pub fn plan(&self) -> Result<Plan> {
        let d = StudyOptions::default();
        let vocab = self.vocab.or(d.vocab).unwrap_or(2048);
        let rounds = self.rounds.or(d.rounds).unwrap_or(10_000);
        let seed = self.seed.or(d.seed).unwrap_or(7);
        let file = match (self.family, &self.batch) {
            (FamilyKind::File, Some(p)) => Some(crate::npyio::BatchFile::open(p)?),
            _ => None,
        };
        if let Some(f) = &file
            && f.is_tree()
        {
            return self.file_tree_plan(f, seed);
        }
        if !self.trees.is_empty() {
            return self.tree_plan(vocab, rounds, seed);
        }
        let default_k: Vec<usize> = match &file {
            Some(f) => (1..=f.view()?.k).collect(),
            None => DEFAULT_K.collect(),
        };
        Ok(Plan::Chain(self.configs(&default_k, vocab, rounds, seed)?))
    }

    /// The rules of a tree study: those given (tree rules only) or every tree rule.
    fn tree_rules(&self) -> Result<Vec<Rule>> {
        let rules = self.rules.clone().unwrap_or_else(|| Rule::TREE.to_vec());
        if let Some(r) = rules.iter().find(|r| !r.is_tree()) {
            return Err(Error::Config(format!(
                "--rule {r} is a chain rule: a tree study runs the tree rules ({})",
                Rule::TREE.map(Rule::name).join(", ")
            )));
        }
        Ok(rules)
    }

    /// A tree study of generated rows: every workload × every tree (and, beside each tree, the
    /// chain of the same node count).
    fn tree_plan(&self, vocab: usize, rounds: u64, seed: u64) -> Result<Plan> {
        use crate::topology::shape::TreeShape;
        if matches!(self.family, FamilyKind::Rates | FamilyKind::File) {
            return Err(Error::Config(
                "a tree study generates its rows: use --family logit-noise, mixture or quantized (or --family file with a tree batch, without --tree)".into(),
            ));
        }
        let rules = self.tree_rules()?;
        let mut shapes: Vec<TreeShape> = self
            .trees
            .iter()
            .map(|s| s.parse())
            .collect::<Result<_>>()?;
        let base = StudyOptions {
            rules: Some(vec![Rule::Token]),
            k: None,
            ..self.clone()
        }
        .configs(&[1], vocab, rounds, seed)?;
        let largest = shapes.iter().map(|s| s.tree.len()).max().unwrap_or(1);
        check_round_size(largest, vocab)?;
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
                out.push(crate::study::tree::TreeStudyConfig {
                    workload: c.workload.clone(),
                    tree: shape.clone(),
                    rules: rules.clone(),
                    rounds: c.rounds,
                    seed: c.seed,
                    recovery: c.recovery,
                    allow_unnormalized: false,
                });
            }
        }
        Ok(Plan::Tree(out))
    }

    /// A tree study of a tree batch file: its rounds under every tree rule asked for.
    fn file_tree_plan(&self, file: &crate::npyio::BatchFile, seed: u64) -> Result<Plan> {
        use crate::batch::Topology;
        use crate::topology::shape::TreeShape;
        if !self.trees.is_empty() {
            return Err(Error::Config(
                "--tree: a tree batch file carries its own parents; give no --tree with it".into(),
            ));
        }
        let rules = self.tree_rules()?;
        let rounds = file.rounds()?;
        let path = self.batch.as_ref().map(|p| p.display().to_string());
        let path = path.unwrap_or_default();
        let mut scratch = crate::topology::Tree::default();
        let tree = match rounds.topology {
            Topology::PerRound(_) => TreeShape {
                spec: crate::study::tree::PER_ROUND.into(),
                tree: rounds.tree(0, &mut scratch).clone(),
            },
            t => {
                let tree = t.shared(&mut scratch).expect("a shared tree").clone();
                TreeShape {
                    spec: format!("file:{path}"),
                    tree,
                }
            }
        };
        Ok(Plan::Tree(vec![crate::study::tree::TreeStudyConfig {
            workload: Workload {
                family: Family::File { path },
                vocab: rounds.v,
                t_target: 1.0,
                t_draft: 1.0,
                zipf: 0.0,
            },
            tree,
            rules,
            rounds: rounds.n as u64,
            seed,
            recovery: self.recovery,
            allow_unnormalized: self.allow_unnormalized,
        }]))
    }
}
