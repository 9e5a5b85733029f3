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
/// distinct_siblings: bool, lossy: bool, trees: bool, params: [name = default, …],
/// needs_params: bool }`; the tree rules share one kernel, `shaders/tree.wgsl`, which calls
/// the rule's step `tree_step_STEM` in `shaders/tree/STEM.wgsl` (the rule's index in
/// [`Rule::TREE`] is its code there). `lossy`: its emitted tokens are not the target's law in
/// `sample` mode (SPEC §13; it is never a default); `trees`: it verifies trees whose nodes may
/// have more than one child (otherwise path trees only, chains); `params`: at most two f32
/// parameters, given after colons (`lenient:0.5`), with the defaults the bare name takes unless
/// `needs_params` (the defaults are then only the representative in [`Rule::ALL`]).
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
                Greedy { name: "greedy", stem: "greedy", reads_draft: false, distinct_siblings: false, lossy: false, trees: true, params: [], needs_params: false },
                /// Tree rule (SPEC §7; SGLang's tree rule): one coin per node against the running
                /// sum of the target's probabilities of the children's tokens.
                TargetOnly { name: "target-only", stem: "target_only", reads_draft: false, distinct_siblings: true, lossy: false, trees: true, params: [], needs_params: false },
                /// Tree rule (SPEC §7; SpecInfer): recursive rejection sampling, children drawn
                /// i.i.d.
                Rrs { name: "rrs", stem: "rrs", reads_draft: true, distinct_siblings: false, lossy: false, trees: true, params: [], needs_params: false },
                /// Tree rule (SPEC §7; Jeon et al. 2024, Sequoia): recursive rejection sampling
                /// without replacement.
                RrsWor { name: "rrs-wor", stem: "rrs_wor", reads_draft: true, distinct_siblings: true, lossy: false, trees: true, params: [], needs_params: false },
                /// Tree rule (SPEC §7; SpecTr's K-SEQ, Sun et al. 2023): children drawn i.i.d.,
                /// each tested against min(1, t / (ρ* q)) with the node's ρ*.
                Spectr { name: "spectr", stem: "spectr", reads_draft: true, distinct_siblings: false, lossy: false, trees: true, params: [], needs_params: false },
                /// Lossy chain rule (SPEC §13; vLLM v0 / Medusa typical acceptance): accept iff
                /// p(x) > min(eps, delta·exp(−H(p))); a rejection takes a fresh sample of p (or
                /// its argmax). Chains only (path trees).
                Typical { name: "typical", stem: "typical", reads_draft: false, distinct_siblings: false, lossy: true, trees: false, params: [eps = 0.09, delta = 0.3], needs_params: false },
                /// Lossy chain rule (SPEC §13; Leviathan et al.'s lenience): accept iff
                /// coin < min(1, p / (l·q)); the correction from max(p − l·q, 0). Chains only.
                Lenient { name: "lenient", stem: "lenient", reads_draft: true, distinct_siblings: false, lossy: true, trees: false, params: [l = 0.5], needs_params: true },
                /// Lossy tree rule (SPEC §13; SGLang's relaxed thresholds): child j accepted first
                /// if coin ≤ S_j / ta or p(tok_j) ≥ ts; the correction from p with the rejected
                /// children's tokens zeroed. Chains and trees.
                Sglang { name: "sglang", stem: "sglang", reads_draft: false, distinct_siblings: true, lossy: true, trees: true, params: [ts = 1.0, ta = 1.0], needs_params: false },
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
        match $rule.kind() {
            $($crate::rule::RuleKind::$C => {
                #[allow(dead_code)]
                type $R = $crate::rule::chain::$C;
                $chain
            })*
            $($crate::rule::RuleKind::$T => {
                #[allow(dead_code)]
                type $TT = $crate::rule::tree::$T;
                $tree
            })*
        }
    };
}
pub(crate) use __match_rule;

/// Generates [`Rule`], [`RuleKind`], their lists and properties, and the rules' marker types.
macro_rules! define_rules {
    (
        []
        chain { $($(#[$cm:meta])* $C:ident { name: $cn:literal, kernel: $ck:tt },)* }
        tree { $($(#[$tm:meta])* $T:ident {
            name: $tn:literal, stem: $ts:literal, reads_draft: $trd:literal,
            distinct_siblings: $tds:literal, lossy: $tl:literal, trees: $ttr:literal,
            params: [$($tp:ident = $tpv:literal),*], needs_params: $tnp:literal
        },)* }
    ) => {
        /// Which rule, without its parameters (generated from `rules!`).
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum RuleKind {
            #[default]
            $($(#[$cm])* $C,)*
            $($(#[$tm])* $T,)*
        }

        /// How many chain rules there are.
        pub const N_CHAIN: usize = [$(stringify!($C)),*].len();
        /// How many tree rules there are.
        pub const N_TREE: usize = [$(stringify!($T)),*].len();

        #[allow(non_upper_case_globals)]
        impl Rule {
            $($(#[$cm])* pub const $C: Rule = Rule::of(RuleKind::$C);)*
            $($(#[$tm])* pub const $T: Rule = Rule::of(RuleKind::$T);)*

            /// Every rule, in the order tables list them (a rule with parameters with its
            /// defaults).
            pub const ALL: [Rule; N_CHAIN + N_TREE] = [$(Rule::$C,)* $(Rule::$T,)*];

            /// The chain rules (SPEC §1, §6): they verify one chain of K drafts. A chain rule's
            /// index here is its kernel's index in the GPU's kernel table.
            pub const CHAIN: [Rule; N_CHAIN] = [$(Rule::$C,)*];

            /// The tree rules (SPEC §7, §13): they verify a tree of drafts (a chain is a path
            /// tree). A tree rule's index here is its code in `shaders/tree.wgsl`.
            pub const TREE: [Rule; N_TREE] = [$(Rule::$T,)*];
        }

        impl RuleKind {
            /// The rule's name on the command line and in outputs (without parameters).
            pub const fn name(self) -> &'static str {
                match self {
                    $(RuleKind::$C => $cn,)*
                    $(RuleKind::$T => $tn,)*
                }
            }

            /// Whether this is a tree rule.
            pub const fn is_tree(self) -> bool {
                match self {
                    $(RuleKind::$C => false,)*
                    $(RuleKind::$T => true,)*
                }
            }

            /// Its parameters' names and defaults.
            pub const fn params(self) -> &'static [(&'static str, f32)] {
                match self {
                    $(RuleKind::$C => &[],)*
                    $(RuleKind::$T => &[$((stringify!($tp), $tpv)),*],)*
                }
            }

            /// Whether its parameters must be given (`lenient:l`).
            pub const fn needs_params(self) -> bool {
                match self {
                    $(RuleKind::$C => false,)*
                    $(RuleKind::$T => $tnp,)*
                }
            }

            /// Whether the rule needs distinct sibling tokens (refuses duplicates).
            pub const fn needs_distinct_siblings(self) -> bool {
                match self {
                    $(RuleKind::$C => false,)*
                    $(RuleKind::$T => $tds,)*
                }
            }

            /// Whether the rule reads the draft probabilities of the drafted tokens (so a drafted
            /// token of draft probability 0 is refused): every chain rule, and the tree rules
            /// that say so.
            pub const fn reads_draft(self) -> bool {
                match self {
                    $(RuleKind::$C => true,)*
                    $(RuleKind::$T => $trd,)*
                }
            }

            /// Whether the rule is lossy (SPEC §13): its tokens do not follow the target's law
            /// even in `sample` mode.
            pub const fn is_lossy(self) -> bool {
                match self {
                    $(RuleKind::$C => false,)*
                    $(RuleKind::$T => $tl,)*
                }
            }

            /// Whether the rule verifies trees with branches (otherwise chains only: path
            /// trees).
            pub const fn verifies_branches(self) -> bool {
                match self {
                    $(RuleKind::$C => false,)*
                    $(RuleKind::$T => $ttr,)*
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

/// How a round's drafts are verified: a rule ([`RuleKind`]) with its parameters (`lenient:0.5`),
/// at most two f32 values (a rule without parameters has zeros). Compared, hashed and ordered by
/// kind, then by the parameters' bits. `Rule::Token`, `Rule::Rrs`, … are the rules with their
/// default parameters; the parameters are part of the rule's name in outputs (`Display`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rule {
    kind: RuleKind,
    params: [u32; 2],
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
