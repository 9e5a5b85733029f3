//! The library's one error type.

/// Everything that can go wrong in specsim, from a refused input (SPEC §2) to a GPU fault.
///
/// Every message names the field, the position and the offending value, so that a user can
/// find the bad number in their file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Two inputs disagree on how many entries they hold (K drafts, K + 1 targets, K tokens, K coins).
    #[error("{field}: expected {expected} entries ({why}), found {found}")]
    Length {
        /// The input whose length is wrong.
        field: &'static str,
        /// The length it should have.
        expected: usize,
        /// The length it has.
        found: usize,
        /// Where the expectation comes from, e.g. "K + 1 for K = 3 drafted tokens".
        why: String,
    },
    /// No token was drafted (K = 0) and the caller did not ask for a plain decode step.
    #[error(
        "draft_tokens is empty (K = 0): there is nothing to verify; a plain decode step must be asked for explicitly (--plain-decode)"
    )]
    EmptyDraft,
    /// A distribution whose length differs from the vocabulary size V.
    #[error(
        "{field}[{index}]: has {found} probabilities, expected V = {expected} (the length of {reference})"
    )]
    VocabMismatch {
        /// `draft_probs` or `target_probs`.
        field: &'static str,
        /// Which distribution.
        index: usize,
        /// Its length.
        found: usize,
        /// The vocabulary size V.
        expected: usize,
        /// The distribution V was taken from.
        reference: &'static str,
    },
    /// The vocabulary is empty (V = 0).
    #[error("{field}[0] is empty: the vocabulary size V must be at least 1")]
    EmptyVocabulary {
        /// The input whose first distribution is empty.
        field: &'static str,
    },
    /// A drafted token id outside `0..V`.
    #[error("draft_tokens[{index}] = {value} is not a token id in 0..{vocab}")]
    TokenOutOfRange {
        /// Drafted position.
        index: usize,
        /// The token id given.
        value: i64,
        /// The vocabulary size V.
        vocab: usize,
    },
    /// A coin outside `[0, 1)`, or not finite.
    #[error("random_coins[{index}] = {} is not in [0, 1)", short(*value))]
    CoinOutOfRange {
        /// Drafted position.
        index: usize,
        /// The coin given.
        value: f64,
    },
    /// A probability that is negative, NaN or infinite.
    #[error(
        "{field}[{dist}][{token}] = {}: a probability must be finite and non-negative",
        short(*value)
    )]
    BadProbability {
        /// `draft_probs` or `target_probs`.
        field: &'static str,
        /// Which distribution.
        dist: usize,
        /// Which token of it.
        token: usize,
        /// The value given.
        value: f64,
    },
    /// A float64 value too large for float32, which the batch engines compute in.
    #[error(
        "{field}[{dist}][{token}] = {value:e} overflows float32 (the batch engines compute in float32, whose largest value is 3.4028235e38)"
    )]
    Float32Overflow {
        /// `draft_probs` or `target_probs`.
        field: &'static str,
        /// Which distribution.
        dist: usize,
        /// Which token of it.
        token: usize,
        /// The value given.
        value: f64,
    },
    /// A float64 coin below 1 that becomes 1.0 in float32.
    #[error(
        "random_coins[{index}] = {value} rounds to 1.0 in float32, which the batch engines compute in (draw float32 coins as float32)"
    )]
    CoinRoundsToOne {
        /// Drafted position.
        index: usize,
        /// The coin given.
        value: f64,
    },
    /// A distribution whose sum differs from 1 by more than the tolerance.
    #[error(
        "{field}[{dist}] sums to {}, which differs from 1 by more than {tolerance} (allow this for raw model dumps with --allow-unnormalized)",
        short(*sum)
    )]
    NotNormalized {
        /// `draft_probs` or `target_probs`.
        field: &'static str,
        /// Which distribution.
        dist: usize,
        /// Its sum (in f64).
        sum: f64,
        /// The tolerance (1e-3).
        tolerance: f64,
    },
    /// The draft distribution gives its own drafted token probability 0.
    #[error(
        "draft_probs[{index}][{token}] = 0 but draft_tokens[{index}] = {token}: the draft model cannot have sampled a token it gives probability 0{note}"
    )]
    ZeroDraftProbability {
        /// Drafted position.
        index: usize,
        /// The drafted token.
        token: u32,
        /// Extra context, e.g. that the value became 0 when converted to float32.
        note: &'static str,
    },
    /// A child's token has draft probability 0 in its parent's draft row (tree rules that sample
    /// children from the draft: `rrs`, `rrs-wor`).
    #[error(
        "draft_probs[{parent}][{token}] = 0 but draft_tokens[{node}] = {token} (a child of node {parent}): the draft model cannot have sampled a token it gives probability 0"
    )]
    ZeroDraftProbabilityInTree {
        /// The child node.
        node: usize,
        /// Its parent, whose draft row is read.
        parent: usize,
        /// The child's token.
        token: u32,
    },
    /// A tree's parent array is not one (`parents[0]` must be -1, every other parent an earlier
    /// node).
    #[error("parents[{index}] = {value}: {why}")]
    BadParent {
        /// The node.
        index: usize,
        /// Its parent as given.
        value: i64,
        /// What a valid value is.
        why: &'static str,
    },
    /// Two children of one node carry the same token, under a rule that needs distinct siblings.
    #[error(
        "draft_tokens[{first}] = draft_tokens[{second}] = {token}: nodes {first} and {second} are both children of node {parent}; the rule {rule} needs distinct sibling tokens"
    )]
    DuplicateSibling {
        /// The parent.
        parent: usize,
        /// The first child with the token.
        first: usize,
        /// A later child with the same token.
        second: usize,
        /// The token.
        token: u32,
        /// The rule that refuses it.
        rule: &'static str,
    },
    /// An error inside one round of a batch; the round index is named.
    #[error("round {round}: {inner}")]
    InRound {
        /// Round index in the batch (0-based).
        round: u64,
        /// What is wrong with that round.
        inner: Box<Error>,
    },
    /// A malformed input file or document (bad JSON, wrong npy shape or dtype, truncated file…).
    #[error("{origin}: {message}")]
    Format {
        /// The file (or `<stdin>`) and, where known, the array in it.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// An operating-system I/O error on a named file.
    #[error("{path}: {error}")]
    Io {
        /// The file involved.
        path: String,
        /// The underlying error.
        error: std::io::Error,
    },
    /// An output file that could not be written (the operating system's, a CSV or plot library's
    /// error; reading errors are [`Error::Io`]).
    #[error("{path}: {message}")]
    Output {
        /// The file being written.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A bad argument or configuration (outside the input data).
    #[error("{0}")]
    Config(String),
    /// No GPU adapter could be found.
    #[error(
        "no GPU adapter found ({0}); use --engine cpu, or install a Vulkan driver (e.g. Mesa's lavapipe: apt-get install mesa-vulkan-drivers libvulkan1)"
    )]
    NoAdapter(String),
    /// The GPU device reported an error (validation, out of memory, device lost…).
    #[error("GPU error: {0}")]
    Gpu(String),
}

impl Error {
    /// A short, stable name for the class of error (used by tests and in JSON reports).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Length { .. } => "length",
            Error::EmptyDraft => "empty_draft",
            Error::VocabMismatch { .. } => "vocab_mismatch",
            Error::EmptyVocabulary { .. } => "empty_vocabulary",
            Error::TokenOutOfRange { .. } => "token_out_of_range",
            Error::CoinOutOfRange { .. } => "coin_out_of_range",
            Error::BadProbability { .. } => "bad_probability",
            Error::NotNormalized { .. } => "not_normalized",
            Error::Float32Overflow { .. } => "float32_overflow",
            Error::CoinRoundsToOne { .. } => "coin_out_of_range",
            Error::ZeroDraftProbability { .. } => "zero_draft_probability",
            Error::ZeroDraftProbabilityInTree { .. } => "zero_draft_probability",
            Error::BadParent { .. } => "bad_parent",
            Error::DuplicateSibling { .. } => "duplicate_sibling",
            Error::InRound { inner, .. } => inner.kind(),
            Error::Format { .. } => "format",
            Error::Io { .. } => "io",
            Error::Output { .. } => "output",
            Error::Config(_) => "config",
            Error::NoAdapter(_) => "no_adapter",
            Error::Gpu(_) => "gpu",
        }
    }

    /// The class of the error, as the Python package names its exception: `InvalidInput` (a
    /// refused round or batch value, SPEC §2), `InvalidTree` (a tree that is not one, or breaks
    /// a rule's sibling constraints), `InvalidFile` (a file that cannot be read as asked),
    /// `InvalidOption` (an option or combination of options), `OutputError` (an output that
    /// cannot be written), `EngineError` (no adapter, or a device failure).
    pub fn class(&self) -> &'static str {
        match self {
            Error::Length { .. }
            | Error::EmptyDraft
            | Error::VocabMismatch { .. }
            | Error::EmptyVocabulary { .. }
            | Error::TokenOutOfRange { .. }
            | Error::CoinOutOfRange { .. }
            | Error::BadProbability { .. }
            | Error::NotNormalized { .. }
            | Error::Float32Overflow { .. }
            | Error::CoinRoundsToOne { .. }
            | Error::ZeroDraftProbability { .. } => "InvalidInput",
            Error::ZeroDraftProbabilityInTree { .. }
            | Error::BadParent { .. }
            | Error::DuplicateSibling { .. } => "InvalidTree",
            Error::InRound { inner, .. } => inner.class(),
            Error::Format { .. } | Error::Io { .. } => "InvalidFile",
            Error::Output { .. } => "OutputError",
            Error::Config(_) => "InvalidOption",
            Error::NoAdapter(_) | Error::Gpu(_) => "EngineError",
        }
    }

    /// Wraps this error with the index of the batch round it occurred in.
    pub fn in_round(self, round: u64) -> Error {
        Error::InRound {
            round,
            inner: Box::new(self),
        }
    }

    /// The same error with its round index moved by `by` (a chunk's error, named by the round's
    /// index in the whole batch).
    pub fn offset_round(self, by: u64) -> Error {
        match self {
            Error::InRound { round, inner } => Error::InRound {
                round: round + by,
                inner,
            },
            e => e,
        }
    }

    /// The same I/O or output error, naming `path` instead (a file written under a temporary
    /// name is reported by the name the user gave).
    pub fn with_path(self, path: impl AsRef<std::path::Path>) -> Error {
        let path = path.as_ref().display().to_string();
        match self {
            Error::Io { error, .. } => Error::Io { path, error },
            Error::Output { message, .. } => Error::Output { path, message },
            e => e,
        }
    }

    /// A format error about `origin`.
    pub fn format(origin: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Format {
            origin: origin.into(),
            message: message.into(),
        }
    }

    /// An output error on `path`.
    pub fn output(path: impl AsRef<std::path::Path>, message: impl std::fmt::Display) -> Error {
        Error::Output {
            path: path.as_ref().display().to_string(),
            message: message.to_string(),
        }
    }

    /// An operating-system error writing `path` (an output: [`Error::Output`], with the
    /// system's words).
    pub fn write(path: impl AsRef<std::path::Path>, error: std::io::Error) -> Error {
        Error::output(path, error)
    }

    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<std::path::Path>, error: std::io::Error) -> Error {
        Error::Io {
            path: path.as_ref().display().to_string(),
            error,
        }
    }
}

/// A value in its shortest round-trip form: plain for ordinary magnitudes, scientific for very
/// large or small ones (`-1e-300`, not 300 digits).
pub fn short(x: f64) -> String {
    if x == 0.0 || !x.is_finite() || (1e-5..1e16).contains(&x.abs()) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
