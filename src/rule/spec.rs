//! A rule's parameters and its spec: building a [`Rule`] from its kind and f32 parameters (with
//! their ranges), its properties, the spec string users write and outputs print (`lenient:0.5`,
//! `typical:0.09:0.3`), lists of rules, and its serde form (the spec).

use serde::{Deserialize, Serialize};

use super::{Rule, RuleKind};
use crate::error::{Error, Result};

impl Rule {
    /// The rule `kind` with its default parameters.
    pub const fn of(kind: RuleKind) -> Rule {
        let defaults = kind.params();
        let mut params = [0u32; 2];
        let mut i = 0;
        while i < defaults.len() {
            params[i] = defaults[i].1.to_bits();
            i += 1;
        }
        Rule { kind, params }
    }

    /// The rule `kind` with these parameters (checked: their count and ranges).
    pub fn with_params(kind: RuleKind, values: &[f32]) -> Result<Rule> {
        let names = kind.params();
        if values.len() != names.len() {
            return Err(Error::Config(format!(
                "--rule {}: takes {} parameter(s) ({}), {} given",
                kind.name(),
                names.len(),
                Rule::of(kind).spec_template(),
                values.len()
            )));
        }
        for (&(name, _), &x) in names.iter().zip(values) {
            let ok = x.is_finite()
                && match (kind, name) {
                    (RuleKind::Lenient, _) => x > 0.0 && x <= 1.0,
                    (RuleKind::Sglang, "ta") => x > 0.0 && x <= 1.0,
                    (RuleKind::Sglang, _) => (0.0..=1.0).contains(&x),
                    _ => x >= 0.0,
                };
            if !ok {
                let range = match (kind, name) {
                    (RuleKind::Lenient, _) | (RuleKind::Sglang, "ta") => "in (0, 1]",
                    (RuleKind::Sglang, _) => "in [0, 1]",
                    _ => "finite and >= 0",
                };
                return Err(Error::Config(format!(
                    "--rule {}: {name} = {x} must be {range}",
                    kind.name()
                )));
            }
        }
        let mut params = [0u32; 2];
        for (p, &x) in params.iter_mut().zip(values) {
            // -0 is 0: the engines compare bit patterns of non-negative values.
            *p = if x == 0.0 { 0 } else { x.to_bits() };
        }
        Ok(Rule { kind, params })
    }

    /// Which rule, without its parameters.
    pub const fn kind(self) -> RuleKind {
        self.kind
    }

    /// Its parameters (zeros past the rule's own), as f32.
    pub fn params(self) -> [f32; 2] {
        self.params.map(f32::from_bits)
    }

    /// Its parameters as f64 (the f32 values exactly), for the f64 reference.
    pub fn params_f64(self) -> [f64; 2] {
        self.params().map(f64::from)
    }

    /// The rule's name without its parameters (`lenient`); [`Display`](std::fmt::Display) gives
    /// the full spec (`lenient:0.5`).
    pub fn name(self) -> &'static str {
        self.kind.name()
    }

    /// `name:param:…` with the parameters' names, for messages (`lenient:l`).
    fn spec_template(self) -> String {
        let mut s = self.kind.name().to_string();
        for (name, _) in self.kind.params() {
            s.push(':');
            s.push_str(name);
        }
        s
    }

    /// Whether this is a tree rule (SPEC §7, §13).
    pub fn is_tree(self) -> bool {
        self.kind.is_tree()
    }

    /// Whether the rule needs distinct sibling tokens (refuses duplicates).
    pub fn needs_distinct_siblings(self) -> bool {
        self.kind.needs_distinct_siblings()
    }

    /// Whether the rule reads the draft probabilities of the drafted tokens.
    pub fn reads_draft(self) -> bool {
        self.kind.reads_draft()
    }

    /// Whether the rule is lossy (SPEC §13).
    pub fn is_lossy(self) -> bool {
        self.kind.is_lossy()
    }

    /// Whether the rule verifies trees with branches (otherwise chains only).
    pub fn verifies_branches(self) -> bool {
        self.kind.verifies_branches()
    }

    /// Its index in [`Rule::CHAIN`] or [`Rule::TREE`] (by kind).
    pub fn index(self) -> usize {
        let list: &[Rule] = if self.is_tree() {
            &Rule::TREE
        } else {
            &Rule::CHAIN
        };
        list.iter().position(|r| r.kind == self.kind).unwrap_or(0)
    }

    /// The tree rules a tree study runs when none are named: the lossless ones.
    pub fn default_tree() -> Vec<Rule> {
        Rule::TREE.into_iter().filter(|r| !r.is_lossy()).collect()
    }

    /// Parses a comma-separated list of rules (`token,block`, `lenient:0.5`), in the given
    /// order, without repeats.
    pub fn parse_list(s: &str) -> Result<Vec<Rule>> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let r: Rule = part.parse()?;
            if !out.contains(&r) {
                out.push(r);
            }
        }
        if out.is_empty() {
            return Err(Error::Config(format!(
                "--rule: give one or more of {}",
                Rule::names()
            )));
        }
        Ok(out)
    }

    /// Refuses a chain rule for a tree batch (one with parents), naming the tree rules.
    pub fn check_tree_batch(self) -> Result<()> {
        if self.is_tree() {
            return Ok(());
        }
        Err(Error::Config(format!(
            "--rule {self} verifies chains: a tree batch (it has parents) takes one of {}",
            Rule::tree_names()
        )))
    }

    /// Refuses a rule that verifies chains only (`typical`, `lenient`) for a tree in which some
    /// node has `max_children` > 1 children, naming the tree.
    pub fn check_branches(self, max_children: usize, what: &str) -> Result<()> {
        if max_children <= 1 || !self.is_tree() || self.verifies_branches() {
            return Ok(());
        }
        Err(Error::Config(format!(
            "--rule {self} verifies chains only (path trees): {what} has a node with {max_children} children; the rules that verify trees are {}",
            Rule::TREE
                .into_iter()
                .filter(|r| r.verifies_branches())
                .map(Rule::name)
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }

    /// Every rule's spec, for messages: `token, block, …, lenient:l, sglang:ts:ta`.
    pub fn names() -> String {
        Rule::ALL.map(Rule::spec_template).join(", ")
    }

    /// Whether the rule verifies trees whose children are the draft's top-m in rank order (the
    /// trees `eagle2` grows, SPEC §10): the tree rules that read no draft probability and verify
    /// branches (`greedy`, `target-only`, `sglang`). The others assume children drawn at random
    /// from the draft row, or verify chains only.
    pub fn verifies_top_m(self) -> bool {
        self.is_tree() && !self.reads_draft() && self.verifies_branches()
    }

    /// The tree rules' names for messages: "greedy, target-only, rrs or rrs-wor".
    pub fn tree_names() -> String {
        let names = Rule::TREE.map(Rule::spec_template);
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.join(""),
        }
    }
}

impl std::fmt::Display for Rule {
    /// The rule's spec: its name, then each parameter after a colon (`lenient:0.5`,
    /// `typical:0.09:0.3`), the f32 values in their shortest form.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())?;
        for x in self.params().iter().take(self.kind.params().len()) {
            write!(f, ":{x}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Rule {
    type Err = Error;

    /// `token`, `rrs`, `typical` (its defaults), `typical:eps:delta`, `lenient:l`, `sglang`,
    /// `sglang:ts:ta`: a name, then its parameters after colons (all or none; a rule whose
    /// parameters have no defaults needs them).
    fn from_str(s: &str) -> Result<Rule> {
        let mut parts = s.trim().split(':');
        let name = parts.next().unwrap_or("").trim();
        let args: Vec<&str> = parts.map(str::trim).collect();
        let kind = Rule::ALL
            .into_iter()
            .find(|r| r.name() == name)
            .map(Rule::kind)
            .ok_or_else(|| {
                Error::Config(format!(
                    "--rule: {s:?} is not a verification rule (one of {})",
                    Rule::names()
                ))
            })?;
        if args.is_empty() && !kind.needs_params() {
            return Ok(Rule::of(kind));
        }
        let values = args
            .iter()
            .map(|a| {
                a.parse::<f32>().map_err(|_| {
                    Error::Config(format!(
                        "--rule {s:?}: parameter {a:?} is not a number ({})",
                        Rule::of(kind).spec_template()
                    ))
                })
            })
            .collect::<Result<Vec<f32>>>()?;
        Rule::with_params(kind, &values)
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Rule, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::RuleKind;

    #[test]
    fn names_round_trip_and_lists_parse() {
        for r in Rule::ALL {
            assert_eq!(r.to_string().parse::<Rule>().unwrap(), r);
        }
        assert_eq!("typical".parse::<Rule>().unwrap(), Rule::Typical);
        assert_eq!(Rule::Typical.to_string(), "typical:0.09:0.3");
        let l: Rule = "lenient:0.25".parse().unwrap();
        assert_eq!(
            (l.kind(), l.params()[0], l.to_string().as_str()),
            (RuleKind::Lenient, 0.25, "lenient:0.25")
        );
        assert!("lenient".parse::<Rule>().is_err());
        assert!("lenient:0".parse::<Rule>().is_err());
        assert!("lenient:1.5".parse::<Rule>().is_err());
        assert!("sglang:0.5".parse::<Rule>().is_err());
        assert!("sglang:0.5:0".parse::<Rule>().is_err());
        assert!("typical:nan:0.3".parse::<Rule>().is_err());
        assert!("token:1".parse::<Rule>().is_err());
        // -0 (and values that parse to it) are 0: the engines compare bit patterns.
        for s in ["typical:-0:0.3", "typical:-1e-50:0.3"] {
            assert_eq!(s.parse::<Rule>().unwrap().params()[0].to_bits(), 0, "{s}");
        }
        assert_eq!(
            "sglang:-0:1".parse::<Rule>().unwrap(),
            "sglang:0:1".parse().unwrap()
        );
        assert_ne!("sglang:0.5:1".parse::<Rule>().unwrap(), Rule::Sglang);
        assert_eq!(serde_json::to_string(&l).unwrap(), "\"lenient:0.25\"");
        assert_eq!(serde_json::from_str::<Rule>("\"lenient:0.25\"").unwrap(), l);
        assert_eq!(
            Rule::parse_list("block, token,block").unwrap(),
            vec![Rule::Block, Rule::Token]
        );
        assert!(Rule::parse_list("tree").is_err());
        assert_eq!(
            Rule::parse_list("rrs-wor,target-only").unwrap(),
            vec![Rule::RrsWor, Rule::TargetOnly]
        );
        assert!(Rule::TREE.iter().all(|r| r.is_tree()) && !Rule::Block.is_tree());
        assert!(Rule::parse_list(",").is_err());
    }
}
