//! The verification rules and recovery modes: one axis through the reference, the engines, the
//! studies and the CLI.
//!
//! **`rules!` is the one registration point.** It lists every rule once, with its properties;
//! the enum [`Rule`], its lists and properties, the rules' marker types ([`chain`], [`tree`]),
//! every layer's dispatch (`match_rule!`), the GPU's chain kernels and the tree kernel's
//! dispatcher are all generated from it. A rule's behaviour lives in its own files, as one trait
//! impl per layer on its marker type (the reference, the CPU twin, the cross-check, the studies);
//! a missing impl is a compile error. `docs/ARCHITECTURE.md` lists the files.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The registry of verification rules: the one place a rule is registered. It hands the list to
/// the callback macro at the path `[$m]` (after the bracketed `$args`), which generates what it needs.
///
/// The order is the order of tables, kernels and codes; the first chain rule (the token rule) is
/// the default and the base of every study, so it stays first.
///
/// A chain rule: `Variant { name: "cli-name", kernel: ("wgsl stem", "entry point"[, survivals]) }`
/// (`survivals`: its kernel also writes a per-position f32 output at binding 7, read by studies).
/// A tree rule: `Variant { name: "cli-name", stem: "file stem", reads_draft: bool,
/// distinct_siblings: bool }`; the tree rules share one kernel, `shaders/tree.wgsl`, which calls
/// the rule's step `tree_step_STEM` in `shaders/tree/STEM.wgsl` (the rule's index in
/// [`Rule::TREE`] is its code there).
macro_rules! rules {
    ([$($m:tt)*] $(, $args:tt)?) => {
        $($m)*! { [$($args)?]
            chain {
                /// The chain token rule of SPEC §1 (Leviathan et al.; Chen et al.): each position
                /// accepted with probability min(1, p/q), stop at the first rejection.
                Token { name: "token", kernel: ("verify", "verify") },
                /// Block verification (SPEC §6; Sun et al. 2025): the largest i whose coin passes
                /// h_i.
                Block { name: "block", kernel: ("block", "verify_block", survivals) },
            }
            tree {
                /// Tree rule (SPEC §7): accept the child whose token is the target's argmax.
                Greedy { name: "greedy", stem: "greedy", reads_draft: false, distinct_siblings: false },
                /// Tree rule (SPEC §7; SGLang's tree rule): one coin per node against the running
                /// sum of the target's probabilities of the children's tokens.
                TargetOnly { name: "target-only", stem: "target_only", reads_draft: false, distinct_siblings: true },
                /// Tree rule (SPEC §7; SpecInfer): recursive rejection sampling, children drawn
                /// i.i.d.
                Rrs { name: "rrs", stem: "rrs", reads_draft: true, distinct_siblings: false },
                /// Tree rule (SPEC §7; Jeon et al. 2024, Sequoia): recursive rejection sampling
                /// without replacement.
                RrsWor { name: "rrs-wor", stem: "rrs_wor", reads_draft: true, distinct_siblings: true },
                /// Tree rule (SPEC §7; SpecTr's K-SEQ, Sun et al. 2023): children drawn i.i.d.,
                /// each tested against min(1, t / (ρ* q)) with the node's ρ*.
                Spectr { name: "spectr", stem: "spectr", reads_draft: true, distinct_siblings: false },
            }
        }
    };
}
pub(crate) use rules;

/// Dispatches on a [`Rule`], generated from [`rules!`]: for a chain rule, `$chain` with the type
/// `$R` naming its marker type (so `<$R as SomeLayerTrait>::f(..)`); for a tree rule, `$tree`,
/// with the type `$T` naming its marker type when given (`tree T => ..`).
///
/// ```ignore
/// match_rule!(rule, chain R => <R as CpuChainRule>::run(view, rec), tree => run_as_path_tree())
/// ```
macro_rules! match_rule {
    ($rule:expr, chain $R:ident => $chain:expr, tree => $tree:expr $(,)?) => {
        $crate::rule::rules!(
            [$crate::rule::__match_rule],
            ($rule, $R, $chain, __UnusedTreeRule, $tree)
        )
    };
    ($rule:expr, chain $R:ident => $chain:expr, tree $T:ident => $tree:expr $(,)?) => {
        $crate::rule::rules!([$crate::rule::__match_rule], ($rule, $R, $chain, $T, $tree))
    };
}
pub(crate) use match_rule;

#[doc(hidden)]
macro_rules! __match_rule {
    (
        [($rule:expr, $R:ident, $chain:expr, $TT:ident, $tree:expr)]
        chain { $($(#[$cm:meta])* $C:ident { $($cf:tt)* },)* }
        tree { $($(#[$tm:meta])* $T:ident { $($tf:tt)* },)* }
    ) => {
        match $rule {
            $($crate::rule::Rule::$C => {
                #[allow(dead_code)]
                type $R = $crate::rule::chain::$C;
                $chain
            })*
            $($crate::rule::Rule::$T => {
                #[allow(dead_code)]
                type $TT = $crate::rule::tree::$T;
                $tree
            })*
        }
    };
}
pub(crate) use __match_rule;

/// Generates [`Rule`], its lists and properties, and the chain rules' marker types.
macro_rules! define_rules {
    (
        []
        chain { $($(#[$cm:meta])* $C:ident { name: $cn:literal, kernel: $ck:tt },)* }
        tree { $($(#[$tm:meta])* $T:ident {
            name: $tn:literal, stem: $ts:literal, reads_draft: $trd:literal,
            distinct_siblings: $tds:literal
        },)* }
    ) => {
        /// How a round's drafts are verified (generated from `rules!`).
        #[derive(
            Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize,
            Deserialize,
        )]
        pub enum Rule {
            #[default]
            $($(#[$cm])* #[serde(rename = $cn)] $C,)*
            $($(#[$tm])* #[serde(rename = $tn)] $T,)*
        }

        /// How many chain rules there are.
        pub const N_CHAIN: usize = [$(stringify!($C)),*].len();
        /// How many tree rules there are.
        pub const N_TREE: usize = [$(stringify!($T)),*].len();

        impl Rule {
            /// Every rule, in the order tables list them.
            pub const ALL: [Rule; N_CHAIN + N_TREE] = [$(Rule::$C,)* $(Rule::$T,)*];

            /// The chain rules (SPEC §1, §6): they verify one chain of K drafts. A chain rule's
            /// index here is its kernel's index in the GPU's kernel table.
            pub const CHAIN: [Rule; N_CHAIN] = [$(Rule::$C,)*];

            /// The tree rules (SPEC §7): they verify a tree of drafts (a chain is a path tree).
            /// A tree rule's index here is its code in `shaders/tree.wgsl`.
            pub const TREE: [Rule; N_TREE] = [$(Rule::$T,)*];

            /// The rule's name on the command line and in outputs.
            pub fn name(self) -> &'static str {
                match self {
                    $(Rule::$C => $cn,)*
                    $(Rule::$T => $tn,)*
                }
            }

            /// Whether the rule needs distinct sibling tokens (refuses duplicates).
            pub fn needs_distinct_siblings(self) -> bool {
                match self {
                    $(Rule::$C => false,)*
                    $(Rule::$T => $tds,)*
                }
            }

            /// Whether the rule reads the draft probabilities of the drafted tokens (so a drafted
            /// token of draft probability 0 is refused): every chain rule, and the tree rules
            /// that say so.
            pub fn reads_draft(self) -> bool {
                match self {
                    $(Rule::$C => true,)*
                    $(Rule::$T => $trd,)*
                }
            }
        }

        /// The chain rules' marker types: each layer implements its trait for them (the f64
        /// reference `round::ChainReference`, the CPU twin `cpu::CpuChainRule`, the
        /// cross-check `compare::ChainCompare`, the studies' `study::ChainStudy`).
        pub mod chain {
            $(
                $(#[$cm])*
                #[derive(Clone, Copy, Debug)]
                pub struct $C;

                impl super::ChainRule for $C {
                    const RULE: super::Rule = super::Rule::$C;
                }
            )*
        }

        /// The tree rules' marker types: each layer implements its trait for them (the f64
        /// reference and the rule's other properties `tree::rules::TreeReference`, the CPU twin
        /// `cpu::tree::CpuTreeRule`); the WGSL step is `shaders/tree/STEM.wgsl`.
        pub mod tree {
            $(
                $(#[$tm])*
                #[derive(Clone, Copy, Debug)]
                pub struct $T;

                impl super::TreeRule for $T {
                    const RULE: super::Rule = super::Rule::$T;
                    const STEM: &'static str = $ts;
                }
            )*
        }
    };
}

rules!([define_rules]);

/// A chain rule's marker type (see [`chain`]).
pub trait ChainRule {
    /// Its variant.
    const RULE: Rule;
}

/// A tree rule's marker type (see [`tree`]).
pub trait TreeRule {
    /// Its variant.
    const RULE: Rule;
    /// The stem of its files: `shaders/tree/STEM.wgsl`, `src/cpu/tree/STEM.rs`,
    /// `src/reference/tree/STEM.rs`.
    const STEM: &'static str;
}

impl Rule {
    /// Whether this is a tree rule (SPEC §7).
    pub fn is_tree(self) -> bool {
        Rule::TREE.contains(&self)
    }

    /// Its index in [`Rule::CHAIN`] or [`Rule::TREE`].
    pub fn index(self) -> usize {
        let list: &[Rule] = if self.is_tree() {
            &Rule::TREE
        } else {
            &Rule::CHAIN
        };
        list.iter().position(|&r| r == self).unwrap_or(0)
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

    /// Refuses a chain rule for a tree batch (one with parents), naming the tree rules.
    pub fn check_tree_batch(self) -> Result<()> {
        if self.is_tree() {
            return Ok(());
        }
        Err(Error::Config(format!(
            "--rule {self} verifies chains: a tree batch (it has parents) takes one of {}",
            Rule::TREE.map(Rule::name).join(", ")
        )))
    }

    /// `token, block`.
    pub fn names() -> String {
        Rule::ALL.map(Rule::name).join(", ")
    }

    /// Whether the rule verifies trees whose children are the draft's top-m in rank order (the
    /// trees `eagle2` grows, SPEC §10): the tree rules that read no draft probability (`greedy`,
    /// `target-only`). The others assume children drawn at random from the draft row.
    pub fn verifies_top_m(self) -> bool {
        self.is_tree() && !self.reads_draft()
    }

    /// The tree rules' names for messages: "greedy, target-only, rrs or rrs-wor".
    pub fn tree_names() -> String {
        let names = Rule::TREE.map(Rule::name);
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.join(""),
        }
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
