//! The verification rules and recovery modes: one axis through the reference, the engines, the
//! studies and the CLI.
//!
//! Adding a rule: a variant here with its properties (name, `ALL`, `CHAIN` or `TREE`, the flags
//! below), its f64 reference under `src/`, its CPU twin `src/cpu/X.rs` and its WGSL kernel
//! `shaders/X.wgsl` (a row of the kernel table, `src/gpu/kernel.rs`). Each layer dispatches on
//! the rule in one exhaustive `match`, so the compiler lists the arms to add;
//! `docs/ARCHITECTURE.md` names them.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How a round's drafts are verified.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The chain token rule of SPEC §1 (Leviathan et al.; Chen et al.): each position accepted
    /// with probability min(1, p/q), stop at the first rejection.
    #[default]
    Token,
    /// Block verification (SPEC §6; Sun et al. 2025): the largest i whose coin passes h_i.
    Block,
    /// Tree rule (SPEC §7): accept the child whose token is the target's argmax.
    Greedy,
    /// Tree rule (SPEC §7; SGLang's tree rule): one coin per node against the running sum of the
    /// target's probabilities of the children's tokens.
    TargetOnly,
    /// Tree rule (SPEC §7; SpecInfer): recursive rejection sampling, children drawn i.i.d.
    Rrs,
    /// Tree rule (SPEC §7; Jeon et al. 2024, Sequoia): recursive rejection sampling without
    /// replacement.
    RrsWor,
}

impl Rule {
    /// Every rule, in the order tables list them.
    pub const ALL: [Rule; 6] = [
        Rule::Token,
        Rule::Block,
        Rule::Greedy,
        Rule::TargetOnly,
        Rule::Rrs,
        Rule::RrsWor,
    ];

    /// The chain rules (SPEC §1, §6): they verify one chain of K drafts.
    pub const CHAIN: [Rule; 2] = [Rule::Token, Rule::Block];

    /// The tree rules (SPEC §7): they verify a tree of drafts (a chain is a path tree).
    pub const TREE: [Rule; 4] = [Rule::Greedy, Rule::TargetOnly, Rule::Rrs, Rule::RrsWor];

    /// The rule's name on the command line and in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Token => "token",
            Rule::Block => "block",
            Rule::Greedy => "greedy",
            Rule::TargetOnly => "target-only",
            Rule::Rrs => "rrs",
            Rule::RrsWor => "rrs-wor",
        }
    }

    /// Whether this is a tree rule (SPEC §7).
    pub fn is_tree(self) -> bool {
        Rule::TREE.contains(&self)
    }

    /// Whether the rule needs distinct sibling tokens (refuses duplicates).
    pub fn needs_distinct_siblings(self) -> bool {
        matches!(self, Rule::TargetOnly | Rule::RrsWor)
    }

    /// Whether the rule reads the draft probabilities of the drafted tokens (so a drafted token
    /// of draft probability 0 is refused): every rule but `greedy` and `target-only`.
    pub fn reads_draft(self) -> bool {
        !matches!(self, Rule::Greedy | Rule::TargetOnly)
    }

    /// Parses a comma-separated list of rule names (`token,block`), in the given order, without
    /// repeats.
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

    /// `token, block`.
    pub fn names() -> String {
        Rule::ALL.map(Rule::name).join(", ")
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Rule {
    type Err = Error;

    fn from_str(s: &str) -> Result<Rule> {
        Rule::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                Error::Config(format!(
                    "--rule: {s:?} is not a verification rule (one of {})",
                    Rule::names()
                ))
            })
    }
}

/// How the replacement (at the first rejection) and the bonus token are chosen (SPEC §4).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryMode {
    /// The seed's deterministic variant: argmax of the residual / of `target[K]`.
    #[default]
    Argmax,
    /// Lossless speculative sampling (Leviathan et al.; Chen et al.): sampled from the normalised
    /// residual / from `target[K]`, with randomness separate from the coins.
    Sample,
}

/// Recovery mode plus the randomness of `sample` mode: the stream `RECOVERY` of the
/// counter-based generator, keyed by `seed` and addressed by the global round index
/// (`round_offset` + the round's index in the batch) and the position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// argmax or sample.
    pub mode: RecoveryMode,
    /// Seed of the recovery randomness.
    pub seed: u64,
    /// Global index of the batch's first round.
    pub round_offset: u64,
}

impl Recovery {
    /// The same recovery for a part of the batch that starts `by` rounds in (a chunk), so its
    /// rounds draw the randomness of their global indices.
    pub fn shifted(self, by: u64) -> Recovery {
        Recovery {
            round_offset: self.round_offset + by,
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_lists_parse() {
        for r in Rule::ALL {
            assert_eq!(r.name().parse::<Rule>().unwrap(), r);
        }
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
