//! The workload options `study` and `verify` share, and those two commands' arguments.

use std::path::PathBuf;

use specsim::study::options::FamilyKind;

use super::{EngineChoice, InputOpts, RecoveryArg};

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
    /// logit-noise: draw sigma for every (round, position) from each of these laws instead:
    /// `uniform:LO:HI` or `lognormal:MU:S` (a configuration each; --sigma is then not used).
    /// Contexts are easy or hard from round to round, as real ones are.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub sigma_dist: Vec<String>,
    /// mixture: draw lambda for every (round, position) the same way (clamped to [0, 1]).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub lambda_dist: Vec<String>,
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
    /// file: the batch directory or .npz. In a study with --cost-profile, also the batch sizes to
    /// read the profile at, `1,8,64,256` (a value of positive integers is a list of sizes;
    /// write `./8` for a file named 8); give --batch twice for both.
    #[arg(long = "batch", value_name = "PATH|LIST", action = clap::ArgAction::Append)]
    pub batch: Vec<String>,
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
    /// `greedy`, `target-only`, `rrs`, `rrs-wor`, `spectr` (SPEC §7); lossy rules (SPEC §13)
    /// `typical[:eps:delta]`, `lenient:l` (chains only: a tree study runs them on its chains),
    /// `sglang[:ts:ta]`; e.g. `token,block` or `rrs,sglang:0.3:0.5` (parameters after colons; a
    /// study runs every rule on the same rounds; verify takes one).
    /// (Default: `token`; with --tree, every lossless tree rule.)
    #[arg(long, value_name = "LIST")]
    pub rule: Option<String>,
    /// Tree shape (repeat for several): `chain:K`, `kary:W,D`, `eagle:[[0],[0,0],[1],...]`
    /// (an EAGLE/Medusa choice list), `sequoia:n,d,vector=FILE` (Sequoia's optimal tree of n
    /// nodes and depth d for a JSON positional acceptance vector), `sequoia:n,d` (the vector
    /// computed from the family for each rule), `eagle2:k,depth,n` (EAGLE-2's tree grown per
    /// round from the draft rows; greedy, target-only, sglang) or `file:PATH` (a JSON parent array or
    /// `specsim tree` output). With tree rules.
    #[arg(long = "tree", value_name = "SPEC")]
    pub trees: Vec<String>,
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
    /// A measured latency profile (CSV: `kind,batch,tokens,context,ms`; SPEC §12): with
    /// --batch B,…, the rows gain `goodput_bB` and `speedup_bB` and the best configuration per
    /// batch size is printed and written to results.json.
    #[arg(long, value_name = "FILE")]
    pub cost_profile: Option<PathBuf>,
    /// The context length to read a profile with a `context` column at.
    #[arg(long, value_name = "N")]
    pub context: Option<f64>,
    /// Output directory (with --shard: the shard file when it ends in `.json`, otherwise a
    /// directory to write `shard-I-of-N.json` into).
    #[arg(long, default_value = "study")]
    pub out: PathBuf,
    /// No progress (neither the bar on a terminal nor the lines every 10 s otherwise).
    #[arg(long)]
    pub quiet: bool,
    /// `--family file`: accept distributions that do not sum to 1 (raw model dumps).
    #[arg(long)]
    pub allow_unnormalized: bool,
    /// Run only shard I of N (`0/4`: the first of four) and write its statistics to a shard
    /// file; `specsim merge` makes the study's files from all N, exactly as one run would.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// The design study: at each --nodes budget, the chain, the best k-ary tree, Sequoia's tree
    /// and EAGLE-2's grown tree on the same rows and coins, exact and simulated E[generated]
    /// (rules: greedy, target-only, rrs, rrs-wor unless --rule says otherwise); writes
    /// design.svg besides the results.
    #[arg(long)]
    pub design: bool,
    /// The design study's node budgets, the root included (default 8,16,32,64).
    #[arg(long, value_delimiter = ',', value_name = "LIST", requires = "design")]
    pub nodes: Option<Vec<usize>>,
    /// Stopping policies (SPEC §11), each a row at the cap K: fixed:K, hf:θ, top1:θ,
    /// entropy:γ:λ, specdecpp:h, oracle:θ, bellman (parameters after colons). Costs: the
    /// profile at the first --batch size, else the first --cost-ratio.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub stop: Vec<String>,
    /// The stopping policies' cap K (default the largest --k; the rounds run at the larger of the two).
    #[arg(long, value_name = "K")]
    pub k_max: Option<usize>,
}

#[derive(clap::Args)]
pub struct MergeCmd {
    /// The shard files of one study (`specsim study --shard I/N`), in any order.
    #[arg(required = true, value_name = "SHARDS")]
    pub shards: Vec<PathBuf>,
    /// Output directory: the study's files, as `specsim study --out` writes them.
    #[arg(long, default_value = "study")]
    pub out: PathBuf,
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
    /// Decide the batch under a compatibility profile (SPEC §14) on the CPU engine (the
    /// reference) and the GPU engine, and require them equal round by round: `specsim`, `vllm`,
    /// `sglang`, `flashinfer`, `transformers` on the chain token rule; with `--rule greedy` or
    /// `--rule target-only` the tree rules' profiles on a tree or chain batch. The batch may add
    /// `final_coins` [N] or `exp_noise` [N, V].
    #[arg(long, value_name = "PROFILE", value_parser = super::parse_profile)]
    pub compat: Option<specsim::compat::Profile>,
    #[command(flatten)]
    pub input: InputOpts,
}
