//! The verification rules and recovery modes: one axis through the reference, the engines, the
//! studies and the CLI.
//!
//! **`rules!` is the one registration point.** It lists every rule once, with its properties;
//! the enum [`Rule`], its lists and properties, the rules' marker types ([`chain`], [`tree`]),
//! every layer's dispatch (`match_rule!`), the GPU's chain kernels and the tree kernel's
//! dispatcher are all generated from it. A rule's behaviour lives in its own files, as one trait
//! impl per layer on its marker type (the reference, the CPU twin, the cross-check, the studies);
//! a missing impl is a compile error. `docs/ARCHITECTURE.md` lists the files.

mod spec;

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
