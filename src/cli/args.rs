//! Argument definitions: what the user types (clap). Resolved into library settings by
//! `settings.rs`; each command lives in `commands/`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use specsim::study::options::FamilyKind;

use specsim::Rule;
use specsim::batch::Validation;
use specsim::cpu::RecoveryMode;
use specsim::round::RoundOptions;

pub const ROUND_HELP: &str = "\
Reads one round as JSON and prints the result as JSON.

Semantics (SPEC §1): for each drafted position i, with tok = draft_tokens[i],
p = target_probs[i][tok] and q = draft_probs[i][tok], the token is accepted iff
random_coins[i] < min(1, p/q) (strict). At the first rejection the replacement is
the argmax of max(0, target_probs[i] - draft_probs[i]) (ties to the lowest id; if that
residual is zero everywhere, the argmax of target_probs[i]) and the round stops. If all
K are accepted, the bonus token is the argmax of target_probs[K]. acceptance_rate is
accepted/K rounded like Python's round(x, 4). Computed in f64.

Tree rules (--rule greedy, target-only, rrs, rrs-wor; SPEC §7) read a tree round: the keys
above with n entries each plus `parents` (parents[0] = -1, every parent before its child;
`specsim tree SPEC` shows a shape's parent array), or a chain (the path tree). They print
accepted_tokens, accepted_nodes, num_generated and acceptance_rate (accepted / depth).

Example:
  echo '{\"draft_probs\": [[0.5, 0.5]], \"target_probs\": [[0.9, 0.1], [0.3, 0.7]],
         \"draft_tokens\": [1], \"random_coins\": [0.5]}' | specsim round
  {\"accepted_tokens\":[0],\"num_generated\":1,\"acceptance_rate\":0.0}";

/// `--recovery` (the library's [`RecoveryMode`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RecoveryArg {
    /// The seed's deterministic variant: argmax of the residual / of `target[K]`.
    Argmax,
    /// Lossless speculative sampling: sampled from the normalised residual / from `target[K]`.
    Sample,
}

impl From<RecoveryArg> for RecoveryMode {
    fn from(a: RecoveryArg) -> RecoveryMode {
        match a {
            RecoveryArg::Argmax => RecoveryMode::Argmax,
            RecoveryArg::Sample => RecoveryMode::Sample,
        }
    }
}

/// `--validate` (the library's [`Validation`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ValidationArg {
    /// Every value of every round (SPEC §2). Reads the whole batch.
    Full,
    /// Only what the algorithm reads: tokens, coins, the drafted p and q, and the rows each
    /// round needs. Keeps `run` on memory-mapped files from touching rows it does not need.
    Touched,
}

impl From<ValidationArg> for Validation {
    fn from(a: ValidationArg) -> Validation {
        match a {
            ValidationArg::Full => Validation::Full,
            ValidationArg::Touched => Validation::Touched,
        }
    }
}

#[derive(Parser)]
#[command(
    name = "specsim",
    version,
    about = "Exact CPU/GPU simulation of the speculative-decoding verification step"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EngineChoice {
    /// A hardware GPU when one exists, otherwise the CPU (with a notice on stderr). (`verify` and
    /// `bench` also take a software adapter such as Mesa's lavapipe.)
    Auto,
    /// The CPU engine (all cores).
    Cpu,
    /// The GPU engine (an error when no adapter exists).
    Gpu,
}

impl From<EngineChoice> for specsim::engine::EngineChoice {
    fn from(c: EngineChoice) -> Self {
        match c {
            EngineChoice::Auto => Self::Auto,
            EngineChoice::Cpu => Self::Cpu,
            EngineChoice::Gpu => Self::Gpu,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A human-readable summary.
    Table,
    /// The summary as one JSON object.
    Json,
    /// One seed-style JSON object per round.
    Jsonl,
}

#[derive(clap::Args, Clone, Copy)]
pub struct InputOpts {
    /// Accept distributions that do not sum to 1 (raw model dumps).
    #[arg(long)]
    pub allow_unnormalized: bool,
    /// Accept K = 0: a plain decode step (the output is the argmax of target_probs[0]).
    #[arg(long)]
    pub plain_decode: bool,
}

impl InputOpts {
    pub fn round_options(&self) -> RoundOptions {
        RoundOptions {
            allow_unnormalized: self.allow_unnormalized,
            allow_empty_draft: self.plain_decode,
        }
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// One round from JSON (a file, or standard input when PATH is omitted or `-`).
    #[command(long_about = ROUND_HELP)]
    Round {
        /// The JSON file; `-` or nothing for standard input.
        path: Option<PathBuf>,
        /// Verification rule: `token` (SPEC §1), `block` (SPEC §6), or a tree rule (SPEC §7):
        /// `greedy`, `target-only`, `rrs`, `rrs-wor`.
        #[arg(long, default_value = "token", value_parser = parse_rule)]
        rule: Rule,
        #[command(flatten)]
        input: InputOpts,
    },
    /// Runs a batch (a directory of .npy files or an .npz) on one engine.
    Run {
        /// Batch directory (draft_probs.npy, target_probs.npy, draft_tokens.npy, random_coins.npy) or .npz.
        batch: PathBuf,
        /// Which engine computes.
        #[arg(long, value_enum, default_value_t = EngineChoice::Auto)]
        engine: EngineChoice,
        /// Write tokens [N, K+1] (padded with -1; a tree batch: [N, depth+1], and accepted_nodes
        /// [N, depth]), num_accepted [N] and num_generated [N] here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// What to print.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// `full` checks every value (SPEC §2); `touched` only what the algorithm reads.
        #[arg(long, value_enum, default_value_t = ValidationArg::Full)]
        validate: ValidationArg,
        /// Verification rule: `token` (SPEC §1), `block` (SPEC §6), or a tree rule (SPEC §7):
        /// `greedy`, `target-only`, `rrs`, `rrs-wor`.
        #[arg(long, default_value = "token", value_parser = parse_rule)]
        rule: Rule,
        /// Recovery at the first rejection and for the bonus: argmax (the seed's) or sample.
        #[arg(long, value_enum, default_value_t = RecoveryArg::Argmax)]
        recovery: RecoveryArg,
        /// Seed of the recovery randomness in `sample` mode.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// No progress (neither the bar on a terminal nor the lines every 10 s otherwise).
        #[arg(long)]
        quiet: bool,
        #[command(flatten)]
        input: InputOpts,
    },
    /// Measures the engines: rounds/s, GB/s and the ratio to the memory floor measured in the same run.
    Bench {
        /// A small grid (one shape, fewer repetitions): seconds, not minutes.
        #[arg(long)]
        quick: bool,
        /// Print the rows as JSON.
        #[arg(long)]
        json: bool,
        /// Engines to measure: `auto` measures the GPU too when an adapter exists.
        #[arg(long, value_enum, default_value_t = EngineChoice::Auto)]
        engine: EngineChoice,
    },
    /// Runs both engines and the f64 reference on a batch and reports every disagreement.
    Verify(VerifyArgs),
    /// Shows a tree shape in the forms serving engines use: the parent array, depth and width
    /// per level, SGLang's retrive_next_token / retrive_next_sibling, EAGLE's retrieve_indices
    /// and choice list, and the ancestor attention mask.
    Tree {
        /// The shape: `chain:K`, `kary:W,D`, `eagle:[[0],[0,0],...]` or `file:PATH`.
        spec: String,
        /// `text` (a readable summary) or `json` (every array; `--tree file:` reads it back).
        #[arg(long, value_enum, default_value_t = TreeFormat::Text)]
        format: TreeFormat,
    },
    /// The optimal multi-draft bound alpha* at one node (SPEC §8): per number of drafts and
    /// draft law, the largest acceptance any lossless verifier can reach, its minimising set, and
    /// each tree rule's acceptance at the node with its gap to the bound.
    #[command(long_about = OPTIMAL_HELP)]
    Optimal(OptimalArgs),
    /// Acceptance-rate studies: sweeps over K and workload parameters, checked against theory.
    #[command(long_about = STUDY_HELP)]
    Study(StudyCmd),
}

pub const OPTIMAL_HELP: &str = "\
The optimal multi-draft bound alpha* at one node (SPEC §8): for n drafts drawn from the draft row
q (iid, wor or top), alpha* = min over token sets H of p(H) + 1 - Q(drafts in H), the largest
probability, under any coupling that keeps the output distributed as the target row p, that the
emitted token is one of the drafts. Per (n, mode) it prints alpha*, the minimising set H* (its
size, the largest p/q in it, p(H*) and q(H*)), and the acceptance at the node of each lossless
tree rule that assumes that draft law (rrs: iid, rrs-wor: wor, target-only: top) with its gap
to alpha*. rrs-wor's acceptance is exact for n <= 2, enumerated for n >= 3 where V^n * V <= 4e6,
otherwise absent.

With --family (and the workload options of `study`), the same over a family's generated rows:
every round's first node (the target and draft rows of position 0), averaged over --rounds with
99% intervals; --out DIR writes optimal.csv and optimal.json.

  specsim optimal node.json --drafts 1,2,4,8 --mode iid,wor,top --format json
  specsim optimal --family logit-noise --sigma 0.5 --zipf 0,2 --vocab 32000 --rounds 200 \\
      --drafts 2,4,8 --mode iid --out bound/";

pub const STUDY_HELP: &str = "\
Sweeps the cartesian product of the given values, runs every configuration on one engine
(workloads generated on the device that runs them), and writes OUT/results.csv,
OUT/results.json and SVG plots (mean generated vs K with the exact and Leviathan curves,
per-position acceptance, expected speedup vs K per cost ratio). Without arguments it runs a
small default study (logit-noise, K = 1..8, sigma = 0.5,1, zipf 2, V = 2048, 10000 rounds).

Families: logit-noise (target = softmax(z/T_target), draft = softmax((z + sigma*e)/T_draft)),
mixture (draft = (1-lambda)*target + lambda*unrelated), quantized (draft = softmax of the
target's logits quantized to --bits), rates (per-position acceptance rates given directly),
file (a batch directory or .npz given with --batch). --zipf s adds -s*ln(1+id) to the logits
(default 2: rows peaked like a language model's; --zipf 0 for plain normal logits).

Example:
  specsim study --family logit-noise --k 1..16 --sigma 0.25,0.5,1 --vocab 32000 \\
      --rounds 100000 --engine auto --seed 7 --cost-ratio 0.05,0.2 --out study/";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TreeFormat {
    Text,
    Json,
}

/// Workload options shared by `study` and `verify --study` / `verify --generate`.
#[derive(clap::Args, Clone, Debug)]
pub struct WorkloadArgs {
    /// Workload family.
    #[arg(long, value_enum, default_value_t = FamilyKind::LogitNoise)]
    pub family: FamilyKind,
    /// K values: a list and/or ranges, e.g. `1..16` or `1,2,4,8` (study default 1..8, or 1..K
    /// of a --family file batch; one value for verify, default 8).
    #[arg(long, value_name = "LIST")]
    pub k: Option<String>,
    /// logit-noise: noise scales of the draft's logits.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.5,1",
        value_name = "LIST"
    )]
    pub sigma: Vec<f64>,
    /// mixture: weights of the unrelated distribution.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.2,0.5",
        value_name = "LIST"
    )]
    pub lambda: Vec<f64>,
    /// quantized: bits of the quantized logits.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "4,8",
        value_name = "LIST"
    )]
    pub bits: Vec<u32>,
    /// rates: conditional acceptance rate of each position (the last repeats).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.8",
        value_name = "LIST"
    )]
    pub rates: Vec<f64>,
    /// Target temperatures.
    #[arg(long, value_delimiter = ',', default_value = "1", value_name = "LIST")]
    pub t_target: Vec<f64>,
    /// Draft temperatures.
    #[arg(long, value_delimiter = ',', default_value = "1", value_name = "LIST")]
    pub t_draft: Vec<f64>,
    /// Zipf exponents: the logits decay by s·ln(1 + token id), so the rows are peaked like a
    /// language model's (default 2: the target's top token has probability 0.56 on average at
    /// V = 2048); 0 = plain normal logits, nearly flat.
    #[arg(long, value_delimiter = ',', default_value = "2", value_name = "LIST")]
    pub zipf: Vec<f64>,
    /// file: the batch directory or .npz.
    #[arg(long = "batch", value_name = "PATH")]
    pub batch_path: Option<PathBuf>,
    /// Vocabulary size (study default 2048; verify default 32000).
    #[arg(long)]
    pub vocab: Option<usize>,
    /// Rounds per configuration (study default 10000).
    #[arg(long)]
    pub rounds: Option<u64>,
    /// Seed of every random number (study default 7; verify default 1).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Recovery at the first rejection and for the bonus: argmax (the seed's) or sample (lossless).
    #[arg(long, value_enum, default_value_t = RecoveryArg::Argmax)]
    pub recovery: RecoveryArg,
    /// Verification rules: chain rules `token` (SPEC §1), `block` (SPEC §6); tree rules
    /// `greedy`, `target-only`, `rrs`, `rrs-wor` (SPEC §7), e.g. `token,block` (a study runs
    /// every rule on the same rounds; verify takes one).
    /// (Default: `token`; with --tree, the four tree rules.)
    #[arg(long, value_name = "LIST")]
    pub rule: Option<String>,
    /// Tree shape (repeat for several): `chain:K`, `kary:W,D`, `eagle:[[0],[0,0],[1],...]`
    /// (an EAGLE/Medusa choice list) or `file:PATH` (a JSON parent array or `specsim tree`
    /// output). With tree rules.
    #[arg(long = "tree", value_name = "SPEC")]
    pub trees: Vec<String>,
}

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
    /// Draft laws, comma-separated: `iid` (with replacement; rrs), `wor` (without
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

#[derive(clap::Args)]
pub struct StudyCmd {
    #[command(flatten)]
    pub w: WorkloadArgs,
    /// Which engine runs the study.
    #[arg(long, value_enum, default_value_t = EngineChoice::Auto)]
    pub engine: EngineChoice,
    /// Draft/target cost ratios c for the expected walltime improvement.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.05,0.2",
        value_name = "LIST"
    )]
    pub cost_ratio: Vec<f64>,
    /// Output directory.
    #[arg(long, default_value = "study")]
    pub out: PathBuf,
    /// No progress (neither the bar on a terminal nor the lines every 10 s otherwise).
    #[arg(long)]
    pub quiet: bool,
    /// `--family file`: accept distributions that do not sum to 1 (raw model dumps).
    #[arg(long)]
    pub allow_unnormalized: bool,
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Batch directory or .npz (omit with --generate or --study).
    pub batch: Option<PathBuf>,
    /// Generate this many adversarial rounds instead of reading a batch.
    #[arg(long, value_name = "N")]
    pub generate: Option<u64>,
    /// Replay a GPU study: run the configuration given by the workload options on the GPU, read
    /// back its first --sample rounds and re-decide them on the CPU (0 mismatches required).
    /// With --tree SPEC and one tree --rule: the tree study's rows and children's tokens, decided
    /// on both engines and the f64 reference.
    #[arg(long)]
    pub study: bool,
    /// Rounds replayed with --study.
    #[arg(long, default_value_t = 2000)]
    pub sample: u64,
    #[command(flatten)]
    pub w: WorkloadArgs,
    /// Rounds generated and checked at a time (memory stays bounded).
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    pub chunk: usize,
    /// Save the generated batch as a directory of .npy files (only with --generate).
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Compare the CPU engine with the reference only (no GPU). Without this flag the GPU
    /// engine is compared too when an adapter exists (otherwise a notice says it was not).
    #[arg(long)]
    pub cpu_only: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// No progress (neither the bar on a terminal nor the lines every 10 s otherwise).
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub input: InputOpts,
}

/// Parses one rule name for clap.
pub fn parse_rule(s: &str) -> Result<Rule, String> {
    s.parse().map_err(|e: specsim::Error| e.to_string())
}
