//! The kernel table itself: the WGSL sources, the binding lists and [`KERNELS`], the chain rules'
//! rows and the tree kernel's rule steps generated from the rule registry (`rule::rules!`).

use super::{Binding, KernelDef};
use crate::gpu::params::{GenerateParams, KernelParams, RatesParams, RoundParams};
use crate::rule::{N_CHAIN, Rule, rules};

/// The source of `shaders/STEM.wgsl` after the shared helpers `shaders/shared/NAME.wgsl`.
macro_rules! wgsl {
    ($stem:literal, [$($shared:literal),*]) => {
        concat!(
            $(include_str!(concat!("../../../shaders/shared/", $shared, ".wgsl")), "\n",)*
            include_str!(concat!("../../../shaders/", $stem, ".wgsl"))
        )
    };
}

/// One row of the kernel table.
macro_rules! add_kernel {
    ($stem:literal, $entry:literal, $params:ty, [$($shared:literal),*], [$($b:ident),*]) => {
        add_kernel!(@ $stem, $entry, $params, [$($shared),*], &[$(Binding::$b),*])
    };
    (@ $stem:literal, $entry:literal, $params:ty, [$($shared:literal),*], $bindings:expr) => {
        KernelDef {
            entry: $entry,
            stem: $stem,
            source: wgsl!($stem, [$($shared),*]),
            params: (<$params as KernelParams>::WGSL_NAME, std::mem::size_of::<$params>()),
            params_layout: <$params as KernelParams>::layout,
            bindings: $bindings,
        }
    };
}

/// Every chain kernel's bindings: params, draft, target, tokens, coins | out_tokens,
/// out_accepted (`shaders/shared/round.wgsl`).
pub(super) const CHAIN_BINDINGS: [Binding; 7] = [
    Binding::Uniform,
    Binding::BufReadOnly,
    Binding::BufReadOnly,
    Binding::BufReadOnly,
    Binding::BufReadOnly,
    Binding::Buffer,
    Binding::Buffer,
];

/// A chain kernel that also writes a per-position f32 output (`survivals` in the registry):
/// [`CHAIN_BINDINGS`], then that output at binding 7.
pub(super) const CHAIN_BINDINGS_SURVIVALS: [Binding; 8] = {
    let mut b = [Binding::Buffer; 8];
    let mut i = 0;
    while i < CHAIN_BINDINGS.len() {
        b[i] = CHAIN_BINDINGS[i];
        i += 1;
    }
    b
};

macro_rules! chain_bindings {
    () => {
        &CHAIN_BINDINGS
    };
    (survivals) => {
        &CHAIN_BINDINGS_SURVIVALS
    };
}

/// A kernel: its index in [`KERNELS`]. The chain rules' kernels come first, in the order of
/// [`Rule::CHAIN`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KernelId(pub(super) usize);

impl KernelId {
    /// The tree rules.
    pub(crate) const VERIFY_TREE: KernelId = KernelId(N_CHAIN);
    /// A study chunk's workload.
    pub(crate) const GENERATE: KernelId = KernelId(N_CHAIN + 1);
    /// The `rates` study family.
    pub(crate) const RATES_ROUND: KernelId = KernelId(N_CHAIN + 2);
    /// The chain token rule under a compatibility profile (`shaders/compat.wgsl`).
    pub(crate) const COMPAT: KernelId = KernelId(N_CHAIN + 3);

    /// The kernel of a chain rule (`None` for a tree rule: they share [`KernelId::VERIFY_TREE`]).
    pub(crate) fn chain(rule: Rule) -> Option<KernelId> {
        (!rule.is_tree()).then(|| KernelId(rule.index()))
    }

    /// The chain rules' kernels, in the order of [`Rule::CHAIN`].
    pub(crate) fn chains() -> impl Iterator<Item = KernelId> {
        (0..N_CHAIN).map(KernelId)
    }
}

/// The kernel table: the chain rules' kernels, one per rule of the registry (`rule::rules!`,
/// its `kernel: (stem, entry[, survivals])`), then the tree rules', the study generator's and
/// the `rates` family's.
macro_rules! kernel_table {
    (
        []
        chain { $($(#[$cm:meta])* $C:ident {
            name: $cn:literal, kernel: ($stem:literal, $entry:literal $(, $extra:ident)?)
        },)* }
        tree { $($(#[$tm:meta])* $T:ident {
            name: $tn:literal, stem: $ts:literal, $($tf:tt)*
        },)* }
    ) => {
        /// Every kernel of the GPU engine, indexed by [`KernelId`].
        pub(crate) const KERNELS: [KernelDef; N_CHAIN + 4] = [
            $(add_kernel!(
                @ $stem,
                $entry,
                RoundParams,
                ["exact", "rng", "reduce", "rows", "round"],
                chain_bindings!($($extra)?)
            ),)*
            // ... | out_tokens, out_accepted, topology (read-only), out_nodes
            KernelDef {
                entry: "verify_tree",
                stem: "tree",
                // The shared helpers, each tree rule's step, the profiles' steps, the
                // dispatcher `tree_step` (the rule of index `rule` in the registry's tree rules,
                // then the profiles' steps), then the kernel.
                source: concat!(
                    wgsl!("tree", ["exact", "rng", "reduce", "rows", "round", "select", "f64"]),
                    "\n",
                    $(include_str!(concat!("../../../shaders/tree/", $ts, ".wgsl")), "\n",)*
                    include_str!("../../../shaders/tree/compat.wgsl"), "\n",
                    "// Generated from the rule registry (src/gpu/kernel/table.rs): the step of the tree rule\n",
                    "// whose index in the registry is `rule`; after them, the profiles' steps\n",
                    "// (shaders/tree/compat.wgsl).\n",
                    "fn tree_step(rule: u32, lid: u32, round: u32, u: u32, cs: u32, ce: u32, tbase: u32, dbase: u32, v: u32) -> vec2<u32> {\n",
                    "    var code = 0u;\n",
                    $(
                        "    if (rule == code) {\n",
                        "        return tree_step_", $ts, "(lid, round, u, cs, ce, tbase, dbase, v);\n",
                        "    }\n",
                        "    code += 1u;\n",
                    )*
                    "    return tree_step_compat(rule - code, lid, round, u, cs, ce, tbase);\n",
                    "}\n",
                ),
                params: (
                    <RoundParams as KernelParams>::WGSL_NAME,
                    std::mem::size_of::<RoundParams>(),
                ),
                params_layout: <RoundParams as KernelParams>::layout,
                bindings: &[
                    Binding::Uniform,
                    Binding::BufReadOnly,
                    Binding::BufReadOnly,
                    Binding::BufReadOnly,
                    Binding::BufReadOnly,
                    Binding::Buffer,
                    Binding::Buffer,
                    Binding::BufReadOnly,
                    Binding::Buffer,
                ],
            },
            // params | draft, target, tokens, coins, betas (all written)
            add_kernel!(
                "generate",
                "generate",
                GenerateParams,
                ["exact", "rng", "reduce", "rows"],
                [Uniform, Buffer, Buffer, Buffer, Buffer, Buffer]
            ),
            // params, rates | out_accepted
            add_kernel!(
                "rates",
                "rates_round",
                RatesParams,
                ["exact", "rng", "reduce"],
                [Uniform, BufReadOnly, Buffer]
            ),
            // The chain bindings, then final_coins, exp_noise (read-only) | out_passed
            add_kernel!(
                "compat",
                "compat",
                RoundParams,
                ["exact", "rng", "reduce", "rows", "round", "select"],
                [
                    Uniform,
                    BufReadOnly,
                    BufReadOnly,
                    BufReadOnly,
                    BufReadOnly,
                    Buffer,
                    Buffer,
                    BufReadOnly,
                    BufReadOnly,
                    Buffer
                ]
            ),
        ];
    };
}

rules!([kernel_table]);
