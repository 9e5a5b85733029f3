//! Trees from the documents users and serving engines hold: a parent array, or an object with
//! `parents`, `choices`, `retrive_next_token` + `retrive_next_sibling`, `retrieve_indices` or
//! `attention_mask` (what `--tree file:PATH` reads; several forms must agree).

use serde_json::Value;

use super::Tree;
use crate::error::{Error, Result};

fn field<T: serde::de::DeserializeOwned>(doc: &Value, key: &str) -> Result<Option<T>> {
    doc.get(key)
        .map(|v| {
            serde_json::from_value(v.clone()).map_err(|e| Error::Config(format!("{key}: {e}")))
        })
        .transpose()
}

/// The forms a tree document may hold, in order of precedence: the first present gives the tree
/// and its node numbering, and every other present form must describe the same tree.
pub const DOCUMENT_FORMS: [&str; 5] = [
    "parents",
    "choices",
    "retrive_next_token",
    "retrieve_indices",
    "attention_mask",
];

/// The tree of one form of a document, `None` when the document does not hold it.
fn document_form(doc: &Value, key: &str) -> Result<Option<Tree>> {
    let tree = match key {
        "parents" => field::<Vec<i64>>(doc, key)?.map(|p| Tree::from_parents(&p)),
        "choices" => field::<Vec<Vec<usize>>>(doc, key)?.map(|c| Tree::from_choices(&c)),
        "retrive_next_token" => match field::<Vec<i64>>(doc, key)? {
            None => None,
            Some(nt) => {
                let ns = field::<Vec<i64>>(doc, "retrive_next_sibling")?.ok_or_else(|| {
                    Error::Config("retrive_next_token needs retrive_next_sibling".into())
                })?;
                Some(Tree::from_next_token_sibling(&nt, &ns))
            }
        },
        "retrieve_indices" => {
            field::<Vec<Vec<i64>>>(doc, key)?.map(|r| Tree::from_retrieve_indices(&r))
        }
        "attention_mask" => field::<Vec<Vec<u8>>>(doc, key)?.map(|m| Tree::from_attention_mask(&m)),
        _ => unreachable!("{key} is not one of DOCUMENT_FORMS"),
    };
    // A form's own refusal keeps its kind (a bad parent stays `bad_parent`); only a plain
    // message learns which form it came from.
    tree.transpose().map_err(|e| match e {
        Error::Config(m) => Error::Config(format!("`{key}`: {m}")),
        e => e,
    })
}

/// The tree in EAGLE's numbering: equal for two trees exactly when they have the same choice
/// paths (what a `choices` list says, whatever the other form's node ids).
fn canonical(t: &Tree) -> Vec<i32> {
    t.renumbered(&t.eagle_order())
        .map(|c| c.parents().to_vec())
        .unwrap_or_default()
}

/// How two trees differ, in a few words.
fn difference(a: &Tree, b: &Tree) -> String {
    if a.len() != b.len() {
        return format!("{} nodes against {}", a.len(), b.len());
    }
    match (0..a.len()).find(|&u| a.parents()[u] != b.parents()[u]) {
        Some(u) => format!(
            "node {u}'s parent is {} against {}",
            a.parents()[u],
            b.parents()[u]
        ),
        None => "the same parents in another order of siblings".into(),
    }
}

/// The tree of a JSON document: a parent array, or an object holding forms of
/// [`super::convert`] ([`DOCUMENT_FORMS`]). The first present form, in the order `parents`,
/// `choices`, `retrive_next_token` + `retrive_next_sibling`, `retrieve_indices`,
/// `attention_mask`, gives the tree and its node ids; every other present form must describe the
/// same tree (node for node; `choices`, which carries no ids, path for path), and `nodes`,
/// `depth`, `widths`, `eagle_order` and `eagle_node_ids`, when present, must be the tree's.
/// A contradiction is refused, naming both forms.
pub fn from_document(doc: &Value) -> Result<Tree> {
    if doc.is_array() {
        let parents: Vec<i64> = serde_json::from_value(doc.clone())
            .map_err(|e| Error::Config(format!("a parent array must hold integers: {e}")))?;
        return Tree::from_parents(&parents);
    }
    if !doc.is_object() {
        return Err(Error::Config(
            "expected a parent array or an object with `parents`, `choices`, `retrive_next_token`, `retrieve_indices` or `attention_mask`".into(),
        ));
    }
    let mut forms: Vec<(&str, Tree)> = Vec::new();
    for key in DOCUMENT_FORMS {
        if let Some(t) = document_form(doc, key)? {
            forms.push((key, t));
        }
    }
    if forms.is_empty() && doc.get("retrive_next_sibling").is_some() {
        return Err(Error::Config(
            "retrive_next_sibling needs retrive_next_token".into(),
        ));
    }
    let Some((first, tree)) = forms.first().cloned() else {
        return Err(Error::Config(
            "no tree in this object: give `parents`, `choices`, `retrive_next_token` + `retrive_next_sibling`, `retrieve_indices` or `attention_mask`".into(),
        ));
    };
    for (key, other) in &forms[1..] {
        let same = if first == "choices" || *key == "choices" {
            canonical(other) == canonical(&tree)
        } else {
            other.parents() == tree.parents()
        };
        if !same {
            let how = if first == "choices" || *key == "choices" {
                difference(
                    &tree.renumbered(&tree.eagle_order())?,
                    &other.renumbered(&other.eagle_order())?,
                ) + " (in EAGLE's node order)"
            } else {
                difference(&tree, other)
            };
            return Err(Error::Config(format!(
                "`{first}` and `{key}` describe different trees: {how}; a document's forms must agree (`{first}` would take precedence: remove the other)"
            )));
        }
    }
    let order = tree.eagle_order();
    let facts: [(&str, Value); 5] = [
        ("nodes", tree.len().into()),
        ("depth", tree.depth().into()),
        ("widths", tree.widths().into()),
        ("eagle_order", tree.in_eagle_order().into()),
        ("eagle_node_ids", order.into()),
    ];
    for (key, value) in facts {
        if let Some(given) = doc.get(key)
            && *given != value
        {
            let cut = |v: &Value| {
                let text = v.to_string();
                match text.char_indices().nth(60) {
                    None => text,
                    Some((at, _)) => format!("{}…", &text[..at]),
                }
            };
            return Err(Error::Config(format!(
                "`{key}` is {} but the tree of `{first}` has {}",
                cut(given),
                cut(&value)
            )));
        }
    }
    Ok(tree)
}
