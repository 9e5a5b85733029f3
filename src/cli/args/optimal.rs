//! `specsim optimal`'s arguments.

use std::path::PathBuf;

use specsim::study::options::FamilyKind;

use super::TreeFormat;

pub const OPTIMAL_HELP: &str = "\
The optimal multi-draft bound alpha* at one node (SPEC §8): for n drafts drawn from the draft row
q (iid, wor or top), alpha* = min over token sets H of p(H) + 1 - Q(drafts in H), the largest
probability, under any coupling that keeps the output distributed as the target row p, that the
emitted token is one of the drafts. Per (n, mode) it prints alpha*, the minimising set H* (its
size, the largest p/q in it, p(H*) and q(H*)), and the acceptance at the node of each lossless
tree rule that assumes that draft law (rrs and spectr: iid, rrs-wor: wor, target-only: top)
with its gap to alpha*. rrs-wor's acceptance is exact for n <= 2, enumerated for n >= 3 where
V^n * V <= 4e6, and otherwise a Rao-Blackwellised Monte-Carlo estimate, marked `~` (JSON:
`estimated`, `standard_error`).

With --family (and the workload options of `study`), the same over a family's generated rows:
every round's first node (the target and draft rows of position 0), averaged over --rounds with
99% intervals; --out DIR writes optimal.csv and optimal.json.

  specsim optimal node.json --drafts 1,2,4,8 --mode iid,wor,top --format json
  specsim optimal --family logit-noise --sigma 0.5 --zipf 0,2 --vocab 32000 --rounds 200 \\
      --drafts 2,4,8 --mode iid --out bound/";

#[derive(clap::Args)]
pub struct OptimalArgs {
    /// The node: a JSON file `{"target_probs": [V numbers], "draft_probs": [V numbers]}` (`-`
    /// or nothing, without --family: standard input).
    #[arg(conflicts_with = "family")]
    pub node: Option<PathBuf>,
    /// Numbers of drafts n, comma-separated (default 1,2,4,8; by default an (n, mode) the node
    /// cannot have is left out: wor with more drafts than tokens of positive draft probability,
    /// top with n > V; asked for, it is refused).
    #[arg(long, value_name = "LIST")]
    pub drafts: Option<String>,
    /// Draft laws, comma-separated: `iid` (with replacement; rrs, spectr), `wor` (without
    /// replacement; rrs-wor), `top` (the draft's top-n; target-only) (default: all three).
    #[arg(long, value_name = "LIST")]
    pub mode: Option<String>,
    /// Accept a node's rows that do not sum to 1 (raw model dumps): each is divided by its sum.
    #[arg(long, conflicts_with = "family")]
    pub allow_unnormalized: bool,
    /// `text` (a table) or `json` (an array of objects, one per (n, mode) and, with --family,
    /// configuration).
    #[arg(long, value_enum, default_value_t = TreeFormat::Text)]
    pub format: TreeFormat,
    /// Bound a family's generated rows instead of one node: every round's first node (the
    /// target and draft rows of position 0), averaged with 99% intervals (logit-noise, mixture
    /// or quantized; their parameters as for `study`).
    #[arg(long, value_enum)]
    pub family: Option<FamilyKind>,
    /// logit-noise: noise scales of the draft's logits.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.5,1",
        value_name = "LIST",
        requires = "family"
    )]
    pub sigma: Vec<f64>,
    /// mixture: weights of the unrelated distribution.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.2,0.5",
        value_name = "LIST",
        requires = "family"
    )]
    pub lambda: Vec<f64>,
    /// quantized: bits of the quantized logits.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "4,8",
        value_name = "LIST",
        requires = "family"
    )]
    pub bits: Vec<u32>,
    /// Target temperatures.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1",
        value_name = "LIST",
        requires = "family"
    )]
    pub t_target: Vec<f64>,
    /// Draft temperatures.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1",
        value_name = "LIST",
        requires = "family"
    )]
    pub t_draft: Vec<f64>,
    /// Zipf exponents (default 2: LM-like rows).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "2",
        value_name = "LIST",
        requires = "family"
    )]
    pub zipf: Vec<f64>,
    /// Vocabulary size.
    #[arg(long, default_value_t = 2048, requires = "family")]
    pub vocab: usize,
    /// Rounds per configuration.
    #[arg(long, default_value_t = 1000, requires = "family")]
    pub rounds: u64,
    /// Seed of every random number.
    #[arg(long, default_value_t = 7, requires = "family")]
    pub seed: u64,
    /// With --family: write DIR/optimal.csv and DIR/optimal.json.
    #[arg(long, value_name = "DIR", requires = "family")]
    pub out: Option<PathBuf>,
    /// No progress (neither the bar on a terminal nor the lines every 10 s otherwise).
    #[arg(long)]
    pub quiet: bool,
}
