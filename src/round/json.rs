//! One round as JSON (the seed's object): parsed streaming into flat rows, unknown keys refused
//! ([`read_round_json`], what `specsim round` uses), or into nested rows ([`RoundInput`]).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::round::tree::{TreeRoundResult, decode_chain_as_tree, decode_tree_rows};
use crate::round::{RoundOptions, RoundResult, Rows, decode_rows, speculative_decode_rule};
use crate::rule::Rule;

/// One round as the seed's JSON object.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RoundInput {
    /// K draft distributions over V tokens.
    pub draft_probs: Vec<Vec<f64>>,
    /// K + 1 target distributions over V tokens.
    pub target_probs: Vec<Vec<f64>>,
    /// K drafted token ids.
    pub draft_tokens: Vec<i64>,
    /// K coins in [0, 1).
    pub random_coins: Vec<f64>,
}

impl RoundInput {
    /// Validates and decides this round with the token rule (see [`crate::round::speculative_decode_with`]).
    pub fn decode(&self, opts: &RoundOptions) -> Result<RoundResult> {
        self.decode_rule(Rule::Token, opts)
    }

    /// Validates and decides this round under `rule` (see [`speculative_decode_rule`]).
    pub fn decode_rule(&self, rule: Rule, opts: &RoundOptions) -> Result<RoundResult> {
        speculative_decode_rule(
            &self.draft_probs,
            &self.target_probs,
            &self.draft_tokens,
            &self.random_coins,
            rule,
            opts,
        )
    }
}

impl<'de> Deserialize<'de> for Rows {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Rows, D::Error> {
        use serde::de::{DeserializeSeed, SeqAccess, Visitor};
        struct RowsVisitor;
        /// Appends one row's numbers to the flat vector.
        struct Row<'a>(&'a mut Vec<f64>);
        impl<'de> DeserializeSeed<'de> for Row<'_> {
            type Value = usize;
            fn deserialize<D: serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> std::result::Result<usize, D::Error> {
                struct V<'a>(&'a mut Vec<f64>);
                impl<'de> Visitor<'de> for V<'_> {
                    type Value = usize;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("a list of numbers (one distribution)")
                    }
                    fn visit_seq<A: SeqAccess<'de>>(
                        self,
                        mut seq: A,
                    ) -> std::result::Result<usize, A::Error> {
                        let mut n = 0;
                        while let Some(x) = seq.next_element::<f64>()? {
                            self.0.push(x);
                            n += 1;
                        }
                        Ok(n)
                    }
                }
                d.deserialize_seq(V(self.0))
            }
        }
        impl<'de> Visitor<'de> for RowsVisitor {
            type Value = Rows;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of distributions (lists of numbers)")
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Rows, A::Error> {
                let mut rows = Rows::default();
                while let Some(n) = seq.next_element_seed(Row(&mut rows.data))? {
                    rows.lens.push(n);
                }
                Ok(rows)
            }
        }
        d.deserialize_seq(RowsVisitor)
    }
}

/// One round as the seed's JSON object (or a tree round of SPEC §7, with `parents`), parsed into
/// flat rows; unknown keys are refused.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlatRound {
    /// A tree's parent array (SPEC §7); absent for a chain.
    #[serde(default)]
    pub parents: Option<Vec<i64>>,
    /// K draft distributions over V tokens.
    pub draft_probs: Rows,
    /// K + 1 target distributions over V tokens.
    pub target_probs: Rows,
    /// K drafted token ids.
    pub draft_tokens: Vec<i64>,
    /// K coins in [0, 1).
    pub random_coins: Vec<f64>,
}

/// The result of one round under a chain rule (the seed's keys) or a tree rule (with
/// `accepted_nodes`), serialised as such.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Decided {
    /// A chain rule's result.
    Chain(RoundResult),
    /// A tree rule's result.
    Tree(TreeRoundResult),
}

impl FlatRound {
    /// Validates and decides this round under any rule: a chain rule needs a chain (no
    /// `parents`); a tree rule takes a tree, or a chain as the path tree.
    pub fn decide(&self, rule: Rule, opts: &RoundOptions) -> Result<Decided> {
        if !rule.is_tree() {
            if self.parents.is_some() {
                return Err(Error::Config(format!(
                    "this round is a tree (it has `parents`); --rule {rule} verifies a chain: use one of {}",
                    Rule::tree_names()
                )));
            }
            return self.decode_rule(rule, opts).map(Decided::Chain);
        }
        let (d, t, tok, c) = (
            &self.draft_probs,
            &self.target_probs,
            &self.draft_tokens[..],
            &self.random_coins[..],
        );
        match &self.parents {
            Some(p) => decode_tree_rows(p, d, t, tok, c, rule, opts),
            None => decode_chain_as_tree(d, t, tok, c, rule, opts).map_err(|e| match e {
                Error::Length {
                    field,
                    expected,
                    found,
                    why,
                } => Error::Length {
                    field,
                    expected,
                    found,
                    why: format!(
                        "{why}; without `parents` the round is read as a chain (a tree round needs `parents`)"
                    ),
                },
                e => e,
            }),
        }
        .map(Decided::Tree)
    }

    /// Validates and decides this chain round under a chain `rule` (`parents` is not read).
    pub fn decode_rule(&self, rule: Rule, opts: &RoundOptions) -> Result<RoundResult> {
        decode_rows(
            &self.draft_probs,
            &self.target_probs,
            &self.draft_tokens,
            &self.random_coins,
            rule,
            opts,
        )
    }
}

/// Parses one round from a reader, streaming: it fails at the first invalid byte (so
/// `/dev/zero` is refused at once), and holds the numbers flat (memory proportional to the data,
/// whatever the row lengths). `origin` names the source in messages.
pub fn read_round_json(reader: impl std::io::Read, origin: &str) -> Result<FlatRound> {
    serde_json::from_reader(std::io::BufReader::new(reader))
        .map_err(|e| Error::format(origin, format!("invalid round JSON: {e}")))
}

/// Parses one round from JSON text (the seed's object). NaN literals and other malformed JSON are
/// refused with the line and column; `origin` names the source in the message.
pub fn parse_round_json(text: &str, origin: &str) -> Result<RoundInput> {
    serde_json::from_str(text)
        .map_err(|e| Error::format(origin, format!("invalid round JSON: {e}")))
}
