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
    /// Sets the cost the stopping policies' rates and `bellman` are for (`stop::stop_costs`).
    pub fn set_stop_costs(&mut self, costs: &crate::cost::Costs) {
        if let Plan::Chain(cfgs) = self {
            for c in cfgs {
                let k = c.stop_cap();
                c.stop.cost = crate::study::stop::stop_costs(costs, k);
            }
        }
    }

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
        if !self.stop.is_empty()
            && (self.design
                || !self.trees.is_empty()
                || matches!(self.family, FamilyKind::File | FamilyKind::Rates))
        {
            return Err(Error::Config(
                "--stop runs on chain studies of generated rows (logit-noise, mixture, quantized): not with --tree, --design, file or rates".into(),
            ));
        }
        if self.design {
            return self.design_plan(vocab, rounds, seed);
        }
        if self.nodes.is_some() {
            return Err(Error::Config(
                "--nodes is the design study's node budgets: give it with --design".into(),
            ));
        }
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
        let rules = self.rules.clone().unwrap_or_else(Rule::default_tree);
        if let Some(r) = rules.iter().find(|r| !r.is_tree()) {
            return Err(Error::Config(format!(
                "--rule {r} is a chain rule: a tree study runs the tree rules ({})",
                Rule::tree_names()
            )));
        }
        Ok(rules)
    }

    /// A tree study of generated rows: every workload × every tree (and, beside each tree, the
    /// chain of the same node count). A tree built for the workload and the rule (`sequoia:n,d`
    /// without a file) gets one configuration per rule; `eagle2` trees run the rules that verify
    /// top-m children (the others are refused when named, left out when the rules are the
    /// default), and so does a family-vector `sequoia` for `spectr`.
    fn tree_plan(&self, vocab: usize, rounds: u64, seed: u64) -> Result<Plan> {
        use crate::study::tree::{TreeStudyConfig, eagle2, vector};
        use crate::topology::shape::{Build, TreeShape};
        if matches!(self.family, FamilyKind::Rates | FamilyKind::File) {
            return Err(Error::Config(
                "a tree study generates its rows: use --family logit-noise, mixture or quantized (or --family file with a tree batch, without --tree)".into(),
            ));
        }
        let rules = self.tree_rules()?;
        let named = self.rules.is_some();
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
        let largest = shapes.iter().map(|s| s.nodes()).max().unwrap_or(1);
        check_round_size(largest, vocab)?;
        for s in &shapes {
            if let Build::Eagle2(e) = s.build {
                e.check(vocab)?;
            }
        }
        let mut seen = std::collections::HashSet::new();
        shapes.retain(|s| seen.insert(s.spec.clone()));
        // The chain of the same node count beside each tree, for comparison.
        for i in 0..shapes.len() {
            let n = shapes[i].nodes();
            if !shapes[i].is_chain() && !shapes.iter().any(|s| s.is_chain() && s.nodes() == n) {
                shapes.push(format!("chain:{}", n - 1).parse()?);
            }
        }
        // The rules a shape runs: all of them, or those it can take. A rule that verifies chains
        // only (`typical`, `lenient`) runs on the chains (each tree's chain of the same node
        // count is in the plan).
        let rules_for = |shape: &TreeShape| -> Result<Vec<Rule>> {
            let rules: Vec<Rule> = rules
                .iter()
                .copied()
                .filter(|r| r.verifies_branches() || shape.is_chain())
                .collect();
            let fits = |r: &Rule| match shape.build {
                Build::Eagle2(_) => r.verifies_top_m(),
                Build::SequoiaFamily { .. } => *r != Rule::Spectr,
                Build::Static => true,
            };
            if named && let Some(r) = rules.iter().find(|r| !fits(r)) {
                return Err(match shape.build {
                    Build::Eagle2(_) => {
                        eagle2::check_rule(&shape.spec, *r).expect_err("a rule that does not fit")
                    }
                    _ => Error::Config(format!(
                        "--tree {} --rule spectr: spectr's positional vector depends on the number of children (SPEC §9), so Sequoia's DP, which takes one vector, does not apply; give vector=FILE, or another rule",
                        shape.spec
                    )),
                });
            }
            Ok(rules.iter().copied().filter(fits).collect())
        };
        let mut out = Vec::new();
        for c in base {
            for shape in &shapes {
                let config = |tree: TreeShape, rules: Vec<Rule>| TreeStudyConfig {
                    workload: c.workload.clone(),
                    tree,
                    rules,
                    rounds: c.rounds,
                    seed: c.seed,
                    recovery: c.recovery,
                    allow_unnormalized: false,
                    design: None,
                };
                let shape_rules = rules_for(shape)?;
                if let Build::SequoiaFamily { .. } = shape.build {
                    for rule in shape_rules {
                        let (tree, _) = vector::resolve(shape, &c.workload, c.seed, rule)?;
                        out.push(config(tree, vec![rule]));
                    }
                } else if !shape_rules.is_empty() {
                    out.push(config(shape.clone(), shape_rules));
                }
            }
        }
        if named
            && let Some(r) = rules
                .iter()
                .find(|r| !out.iter().any(|c| c.rules.contains(r)))
        {
            return Err(Error::Config(format!(
                "--rule {r} runs on none of the trees given ({}): {}",
                self.trees.join(", "),
                if r.verifies_branches() {
                    "they do not take it".to_string()
                } else {
                    format!("{r} verifies chains only; give --tree chain:K")
                }
            )));
        }
        Ok(Plan::Tree(out))
    }

    /// The design study (`--design`): per workload and node budget, the builders compared under
    /// the rules (`study::tree::design`).
    fn design_plan(&self, vocab: usize, rounds: u64, seed: u64) -> Result<Plan> {
        use crate::study::tree::design;
        if matches!(self.family, FamilyKind::Rates | FamilyKind::File) {
            return Err(Error::Config(
                "--design generates its rows: use --family logit-noise, mixture or quantized"
                    .into(),
            ));
        }
        if !self.trees.is_empty() || self.k.is_some() {
            return Err(Error::Config(
                "--design builds its own trees at each --nodes budget: give no --tree and no --k"
                    .into(),
            ));
        }
        let rules = match &self.rules {
            Some(r) => r.clone(),
            None => design::DEFAULT_RULES.to_vec(),
        };
        if let Some(r) = rules.iter().find(|r| r.is_tree() && !r.verifies_branches()) {
            return Err(Error::Config(format!(
                "--design compares tree builders: --rule {r} verifies chains only (study it with --tree chain:K)"
            )));
        }
        let nodes = self
            .nodes
            .clone()
            .unwrap_or_else(|| design::DEFAULT_NODES.to_vec());
        design::check_nodes(&nodes)?;
        check_round_size(nodes.iter().copied().max().unwrap_or(2), vocab)?;
        let base = StudyOptions {
            rules: Some(vec![Rule::Token]),
            k: None,
            ..self.clone()
        }
        .configs(&[1], vocab, rounds, seed)?;
        Ok(Plan::Tree(design::design_configs(&base, &nodes, &rules)?))
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
            Topology::PerRound(_) => TreeShape::fixed(
                crate::study::tree::PER_ROUND,
                rounds.tree(0, &mut scratch).clone(),
            ),
            t => {
                let tree = t.shared(&mut scratch).expect("a shared tree").clone();
                TreeShape::fixed(format!("file:{path}"), tree)
            }
        };
        Ok(Plan::Tree(vec![crate::study::tree::TreeStudyConfig {
            workload: Workload {
                family: Family::File { path },
                vocab: rounds.v,
                t_target: 1.0,
                t_draft: 1.0,
                zipf: 0.0,
                spread: None,
            },
            tree,
            rules,
            rounds: rounds.n as u64,
            seed,
            recovery: self.recovery,
            allow_unnormalized: self.allow_unnormalized,
            design: None,
        }]))
    }
}
