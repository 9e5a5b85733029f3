//! Argument definitions: what the user types (clap). Resolved into library settings by
//! `settings.rs`; each command lives in `commands/`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use specsim::Rule;
use specsim::batch::Validation;
use specsim::cpu::RecoveryMode;
use specsim::round::RoundOptions;

mod optimal;
mod workload;

pub use optimal::{OPTIMAL_HELP, OptimalArgs};
pub use workload::{MergeCmd, STUDY_HELP, StudyCmd, VerifyArgs, WorkloadArgs};

pub const ROUND_HELP: &str = "\
Reads one round as JSON and prints the result as JSON.

Semantics (SPEC §1): for each drafted position i, with tok = draft_tokens[i],
p = target_probs[i][tok] and q = draft_probs[i][tok], the token is accepted iff
random_coins[i] < min(1, p/q) (strict). At the first rejection the replacement is
the argmax of max(0, target_probs[i] - draft_probs[i]) (ties to the lowest id; if that
residual is zero everywhere, the argmax of target_probs[i]) and the round stops. If all
K are accepted, the bonus token is the argmax of target_probs[K]. acceptance_rate is
accepted/K rounded like Python's round(x, 4). Computed in f64.

Tree rules (--rule greedy, target-only, rrs, rrs-wor, spectr; SPEC §7; and the lossy rules of
SPEC §13: typical[:eps:delta], lenient:l (chains only), sglang[:ts:ta]) read a tree round: the
keys above with n entries each plus `parents` (parents[0] = -1, every parent before its child;
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
        /// Verification rule: `token` (SPEC §1), `block` (SPEC §6), a tree rule (SPEC §7):
        /// `greedy`, `target-only`, `rrs`, `rrs-wor`, `spectr`, or a lossy rule (SPEC §13):
        /// `typical[:eps:delta]`, `lenient:l` (chains only), `sglang[:ts:ta]`.
        #[arg(long, default_value = "token", value_parser = parse_rule)]
        rule: Rule,
        /// Decide as an engine does (SPEC §14): `specsim`, `vllm`, `sglang`, `flashinfer`,
        /// `transformers` on the chain token rule; `--rule greedy` (specsim, sglang, vllm) and
        /// `--rule target-only` (specsim, sglang) on a tree. The JSON may add `final_coins` (a
        /// number) or `exp_noise` ([V]) for the profile's correction and bonus selection.
        #[arg(long, value_name = "PROFILE", value_parser = parse_profile)]
        compat: Option<specsim::compat::Profile>,
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
        /// Verification rule: `token` (SPEC §1), `block` (SPEC §6), a tree rule (SPEC §7):
        /// `greedy`, `target-only`, `rrs`, `rrs-wor`, `spectr`, or a lossy rule (SPEC §13):
        /// `typical[:eps:delta]`, `lenient:l` (chains only), `sglang[:ts:ta]`.
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
        /// Decide as an engine does (SPEC §14): `specsim`, `vllm`, `sglang`, `flashinfer`,
        /// `transformers` on the chain token rule (`--out` adds `num_passed` [N]); `--rule
        /// greedy` (specsim, sglang, vllm) and `--rule target-only` (specsim, sglang) on a tree
        /// or chain batch (`--out` adds `accepted_nodes`); on the engine chosen by --engine, the
        /// same answers. The batch may add `final_coins` [N] or `exp_noise` [N, V].
        #[arg(long, value_name = "PROFILE", value_parser = parse_profile)]
        compat: Option<specsim::compat::Profile>,
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
        /// The shape: `chain:K`, `kary:W,D`, `eagle:[[0],[0,0],...]`, `sequoia:n,d,vector=FILE`
        /// (Sequoia's optimal tree for a JSON positional acceptance vector), `sequoia:n,d` (the
        /// vector computed from the workload flags' family for one --rule) or `file:PATH`.
        spec: String,
        /// `text` (a readable summary) or `json` (every array; `--tree file:` reads it back).
        #[arg(long, value_enum, default_value_t = TreeFormat::Text)]
        format: TreeFormat,
        /// The family, its parameter, --vocab, --seed and one --rule: what `sequoia:n,d`
        /// computes its vector from (as `study` does).
        #[command(flatten)]
        w: WorkloadArgs,
    },
    /// The optimal multi-draft bound alpha* at one node (SPEC §8): per number of drafts and
    /// draft law, the largest acceptance any lossless verifier can reach, its minimising set, and
    /// each tree rule's acceptance at the node with its gap to the bound.
    #[command(long_about = OPTIMAL_HELP)]
    Optimal(OptimalArgs),
    /// The exact distortion of lossy (and lossless) chain rules (SPEC §13) on a family's rows:
    /// per rule, E[generated], per-position acceptance and TV(o_k, p_k), the round's bracket
    /// [max_k r_k TV_k, Σ_k r_k TV_k] (tokens changed per round) and the exact round TV where
    /// V^(K+1) <= 4096.
    Distortion(DistortionArgs),
    /// Cost and goodput (SPEC §12): an existing study's E[generated] under a measured latency
    /// profile: every configuration's speedup against plain decoding at each batch size, and
    /// the best K (or tree) per batch size.
    Cost(CostArgs),
    /// Golden vectors for a verification kernel (SPEC §14): the adversarial cases of a
    /// compatibility profile, one `.npz` per case (the round as a batch of one, with its
    /// expected outputs) and `index.json` naming each case's semantic class: `OUT/PROFILE/` for
    /// the chain token rule, `OUT/PROFILE/RULE/` for a tree rule.
    Conform(ConformArgs),
    /// Acceptance-rate studies: sweeps over K and workload parameters, checked against theory.
    #[command(long_about = STUDY_HELP)]
    Study(StudyCmd),
    /// Merges the shard files of a study (`specsim study --shard I/N`) into the study's files,
    /// equal to those of one unsharded run (apart from the `seconds` column).
    #[command(long_about = MERGE_HELP)]
    Merge(MergeCmd),
}

const MERGE_HELP: &str = "\
Merges the shard files of one study (`specsim study … --shard I/N --out FILE` for I = 0..N-1,
run anywhere: a Slurm array, Ray tasks, several machines) into OUT/results.csv,
OUT/results.json and the plots: byte for byte the files of the unsharded study, apart from the
timing column `seconds` (the shards' seconds added up). Refused, with the reason and nothing
written: shards of different studies, a shard given twice, missing shards (named), a shard file
of another version, or one whose checksum does not match.";

/// `specsim distortion`'s arguments.
#[derive(clap::Args)]
pub struct DistortionArgs {
    /// The family and its one parameter value, --vocab, --rounds (default 200), --seed, one --k
    /// (default 4), --recovery (argmax: the seed's; sample: lossless for token) and --rule: a
    /// comma-separated list of `token`, `typical` (eps 0.09, delta 0.3), `typical:eps:delta`,
    /// `lenient:l`, `sglang:ts:ta` and `greedy` (the tree rule on a chain; parameters after
    /// colons).
    #[command(flatten)]
    pub w: WorkloadArgs,
    /// How each position's draft is drawn: `sample` (from the draft row) or `top1` (its top
    /// token, as greedy drafters do).
    #[arg(long, default_value = "sample", value_name = "sample|top1")]
    pub draft: String,
    /// `text` (a table) or `json` (one object per rule).
    #[arg(long, value_enum, default_value_t = TreeFormat::Text)]
    pub format: TreeFormat,
    /// Also write `distortion.json` and `tradeoff.svg` (E[generated] against the tokens changed
    /// per round, one point per rule) into this directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
}

#[derive(clap::Args)]
pub struct CostArgs {
    /// The latency profile: a CSV with the header `kind,batch,tokens,context,ms` (`verify` rows:
    /// one target forward over `tokens` query tokens in total; `draft` rows: one draft step of
    /// `batch` sequences; examples/profile-sequoia-demo.csv is an example).
    #[arg(long, value_name = "FILE")]
    pub profile: std::path::PathBuf,
    /// Batch sizes, e.g. `1,8,64,256`.
    #[arg(long, value_delimiter = ',', required = true, value_name = "LIST")]
    pub batch: Vec<u64>,
    /// The study: its output directory (or its results.json).
    #[arg(long, value_name = "DIR")]
    pub from_study: std::path::PathBuf,
    /// The context length to read a profile with a `context` column at.
    #[arg(long, value_name = "N")]
    pub context: Option<f64>,
    /// `text` (a table) or `json`.
    #[arg(long, value_enum, default_value_t = TreeFormat::Text)]
    pub format: TreeFormat,
    /// Also write `cost.json` and `cost.svg` (speedup against K per batch size, the best
    /// marked) into this directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
}

#[derive(clap::Args)]
pub struct ConformArgs {
    /// Profiles (specsim, vllm, sglang, flashinfer, transformers), or `all`: a subdirectory
    /// each.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "all",
        value_name = "LIST"
    )]
    pub profile: Vec<String>,
    /// The rule: `token` (every profile), `greedy` (specsim, sglang, vllm) or `target-only`
    /// (specsim, sglang); with `--profile all`, the profiles that decide it. Block and the
    /// other tree rules have no engine profile.
    #[arg(long, default_value = "token")]
    pub rule: String,
    /// The output directory.
    #[arg(long, value_name = "DIR")]
    pub out: std::path::PathBuf,
}

/// Parses a compatibility profile for clap.
pub fn parse_profile(s: &str) -> Result<specsim::compat::Profile, String> {
    s.parse().map_err(|e: specsim::Error| e.to_string())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TreeFormat {
    Text,
    Json,
}

/// Parses one rule name for clap.
pub fn parse_rule(s: &str) -> Result<Rule, String> {
    s.parse().map_err(|e: specsim::Error| e.to_string())
}
