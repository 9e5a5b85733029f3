//! One tree round (SPEC §7): its checks, in a fixed order, and its result with the output keys
//! of §7.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::reference::tree::walk::{TreeInput, decide_tree};
use crate::round::{
    RoundOptions, Rows, acceptance_rate, check_chain_rows, check_row, check_unread_row,
    validate_tokens_and_coins, vocab_of,
};
use crate::rule::Rule;
use crate::topology::Tree;

/// The result of one round of a tree rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TreeRoundResult {
    /// The accepted children's tokens, then the correction or bonus.
    pub accepted_tokens: Vec<u32>,
    /// The accepted nodes' ids (without the correction or bonus).
    pub accepted_nodes: Vec<u32>,
    /// `accepted_tokens.len()`.
    pub num_generated: usize,
    /// accepted / the tree's depth, rounded like Python's `round(x, 4)` (0 for a root alone).
    pub acceptance_rate: f64,
}

impl TreeRoundResult {
    /// The result of an outcome on `tree` with node tokens `tokens`.
    pub fn new(tree: &Tree, tokens: &[u32], nodes: &[u32], token: u32) -> TreeRoundResult {
        let mut accepted_tokens: Vec<u32> = nodes.iter().map(|&c| tokens[c as usize]).collect();
        accepted_tokens.push(token);
        TreeRoundResult {
            num_generated: accepted_tokens.len(),
            accepted_tokens,
            accepted_nodes: nodes.to_vec(),
            acceptance_rate: acceptance_rate(nodes.len(), tree.depth()),
        }
    }
}

fn check_len(field: &'static str, found: usize, n: usize) -> Result<()> {
    if found == n {
        Ok(())
    } else {
        Err(Error::Length {
            field,
            expected: n,
            found,
            why: format!("n = {n} nodes, the length of parents"),
        })
    }
}

/// Checks the sibling constraints of `rule` on a tree with node tokens `tokens`: distinct
/// sibling tokens (`target-only`, `rrs-wor`), and a non-zero draft probability of every child's
/// token in its parent's draft row (`rrs`, `rrs-wor`; `draft(u, x)` reads it).
pub fn check_siblings(
    tree: &Tree,
    tokens: &[u32],
    rule: Rule,
    draft: impl Fn(usize, usize) -> f64,
) -> Result<()> {
    rule.check_branches(tree.max_children(), "the tree")?;
    for u in 0..tree.len() {
        let ch = tree.children(u);
        if rule.needs_distinct_siblings() {
            for (j, &b) in ch.iter().enumerate() {
                if let Some(&a) = ch[..j]
                    .iter()
                    .find(|&&a| tokens[a as usize] == tokens[b as usize])
                {
                    return Err(Error::DuplicateSibling {
                        parent: u,
                        first: a as usize,
                        second: b as usize,
                        token: tokens[b as usize],
                        rule: rule.name(),
                    });
                }
            }
        }
    }
    if rule.reads_draft() {
        for (c, &token) in tokens.iter().enumerate().take(tree.len()).skip(1) {
            let u = tree.parent(c).unwrap_or(0);
            if draft(u, token as usize) == 0.0 {
                return Err(Error::ZeroDraftProbabilityInTree {
                    node: c,
                    parent: u,
                    token,
                });
            }
        }
    }
    Ok(())
}

/// Validates and decides one tree round given in §7's keys (`parents` and n entries of each
/// other key), in f64. Checks, in order: lengths, the parent array, V, token ids (not the
/// root's), coins (all n), target rows and internal nodes' draft rows, then the rule's sibling
/// constraints.
pub fn decode_tree_rows(
    parents: &[i64],
    draft: &Rows,
    target: &Rows,
    draft_tokens: &[i64],
    random_coins: &[f64],
    rule: Rule,
    opts: &RoundOptions,
) -> Result<TreeRoundResult> {
    let n = parents.len();
    if n == 0 {
        Tree::from_parents(parents)?;
    }
    check_len("draft_tokens", draft_tokens.len(), n)?;
    check_len("draft_probs", draft.lens.len(), n)?;
    check_len("target_probs", target.lens.len(), n)?;
    check_len("random_coins", random_coins.len(), n)?;
    let tree = Tree::from_parents(parents)?;
    let v = vocab_of(draft, target)?;
    // Token ids of the non-root nodes; the root's entry is not read.
    let mut tokens = vec![0u32];
    let ids = validate_tokens_and_coins(
        draft_tokens[1..].iter().copied(),
        &[] as &[f64],
        v,
        &RoundOptions {
            allow_empty_draft: true,
            ..*opts
        },
    )
    .map_err(|e| match e {
        Error::TokenOutOfRange {
            index,
            value,
            vocab,
        } => Error::TokenOutOfRange {
            index: index + 1,
            value,
            vocab,
        },
        e => e,
    })?;
    tokens.extend(ids);
    validate_tokens_and_coins(
        std::iter::empty(),
        random_coins,
        v,
        &RoundOptions {
            allow_empty_draft: true,
            ..*opts
        },
    )?;
    for u in (0..n).filter(|&u| !tree.is_leaf(u)) {
        let row = &draft.data[u * v..(u + 1) * v];
        if rule.reads_draft() {
            check_row("draft_probs", u, row, opts)?;
        } else {
            check_unread_row("draft_probs", u, row)?;
        }
    }
    for u in 0..n {
        check_row("target_probs", u, &target.data[u * v..(u + 1) * v], opts)?;
    }
    check_siblings(&tree, &tokens, rule, |u, x| draft.data[u * v + x])?;
    let out = decide_tree(
        rule,
        &TreeInput {
            tree: &tree,
            tokens: &tokens,
            draft: &draft.data[..],
            target: &target.data[..],
            coins: random_coins,
            v,
        },
    );
    Ok(TreeRoundResult::new(&tree, &tokens, &out.nodes, out.token))
}

/// A tree rule on a chain given with the seed's keys (SPEC §7: the path tree): the seed's checks
/// (zero draft probabilities refused only by `rrs` and `rrs-wor`), then the rule.
pub fn decode_chain_as_tree(
    draft: &Rows,
    target: &Rows,
    draft_tokens: &[i64],
    random_coins: &[f64],
    rule: Rule,
    opts: &RoundOptions,
) -> Result<TreeRoundResult> {
    let (tokens, v) = check_chain_rows(draft, target, draft_tokens, random_coins, rule, opts)?;
    let out = crate::reference::decide(
        rule,
        &draft.data[..],
        &target.data[..],
        &tokens,
        random_coins,
        v,
    );
    let k = tokens.len();
    let nodes: Vec<u32> = (1..=out.num_accepted).collect();
    let mut node_tokens = vec![0u32];
    node_tokens.extend(&tokens);
    Ok(TreeRoundResult::new(
        &Tree::path(k),
        &node_tokens,
        &nodes,
        out.token,
    ))
}
