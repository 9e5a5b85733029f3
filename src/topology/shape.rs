//! Tree shapes as users name them (`--tree SPEC`):
//! - `chain:K`: the path of K drafted nodes;
//! - `kary:W,D`: the full W-ary tree of depth D (1 + W + … + W^D nodes);
//! - `eagle:[[0],[0,0],[1],…]`: an EAGLE / Medusa / vLLM choice list (`eagle:mc_sim_7b_63`:
//!   Medusa's published `mc_sim_7b_63` list, 63 drafted nodes);
//! - `sequoia:n,d,vector=FILE`: Sequoia's optimal tree for a positional vector; `sequoia:n,d`
//!   without a file takes the vector from a study's family and rule ([`Build::SequoiaFamily`]);
//! - `eagle2:k,depth,n`: EAGLE-2's tree, grown per round from the draft rows ([`Build::Eagle2`]);
//! - `file:PATH`: a JSON document: a parent array, or an object with one of `parents`,
//!   `choices`, `retrive_next_token` + `retrive_next_sibling`, `retrieve_indices` or
//!   `attention_mask` (what `specsim tree --format json` writes).

use serde_json::Value;

pub use super::document::{DOCUMENT_FORMS, from_document};
use super::{MAX_NODES, Tree};
use crate::error::{Error, Result};

/// The choice list `mc_sim_7b_63` (63 drafted nodes, depth 4, widths 1, 10, 28, 23, 2) exactly
/// as Medusa ships it (FasterDecoding/Medusa, `medusa/model/medusa_choices.py`) and EAGLE-1's
/// Medusa-style trees use it; `--tree eagle:mc_sim_7b_63` names it.
pub const EAGLE_MC_SIM_7B_63: &str = "[[0],[0,0],[1],[0,1],[2],[0,0,0],[1,0],[0,2],[3],[0,3],[4],[0,4],[2,0],[0,5],[0,0,1],[5],[0,6],[6],[0,7],[0,1,0],[1,1],[7],[0,8],[0,0,2],[3,0],[0,9],[8],[9],[1,0,0],[0,2,0],[1,2],[0,0,3],[4,0],[2,1],[0,0,4],[0,0,5],[0,0,0,0],[0,1,1],[0,0,6],[0,3,0],[5,0],[1,3],[0,0,7],[0,0,8],[0,0,9],[6,0],[0,4,0],[1,4],[7,0],[0,1,2],[2,0,0],[3,1],[2,2],[8,0],[0,5,0],[1,5],[1,0,1],[0,2,1],[9,0],[0,6,0],[0,0,0,1],[1,6],[0,7,0]]";

/// The largest tree document read (`file:PATH`): 64 MiB, far more than the parent array of
/// [`MAX_NODES`] nodes needs.
pub const MAX_TREE_FILE_BYTES: u64 = 64 << 20;

/// A named tree: what the user wrote, and the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeShape {
    /// The spec as given (`kary:2,3`), used as the tree's label in outputs.
    pub spec: String,
    /// The tree ([`Build::Static`]); for the other builds, the root alone (a placeholder: ask
    /// [`TreeShape::nodes`] and [`TreeShape::max_depth`], and build the tree where the rows are).
    pub tree: Tree,
    /// How the tree is made.
    pub build: Build,
}

/// How a shape's tree is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    /// One tree, given by the spec (`tree`).
    Static,
    /// `eagle2:k,depth,n`: grown per round from the round's draft rows (SPEC §10).
    Eagle2(super::eagle2::Eagle2),
    /// `sequoia:n,d` without `vector=`: the positional vector comes from a study's family for the
    /// rule run (SPEC §9, §10), so the tree is built where both are known.
    SequoiaFamily {
        /// Nodes, the root included.
        nodes: usize,
        /// The largest depth.
        depth: usize,
    },
}

impl TreeShape {
    /// A fixed tree under its spec.
    pub fn fixed(spec: impl Into<String>, tree: Tree) -> TreeShape {
        TreeShape {
            spec: spec.into(),
            tree,
            build: Build::Static,
        }
    }

    /// Nodes per round, the root included.
    pub fn nodes(&self) -> usize {
        match self.build {
            Build::Static => self.tree.len(),
            Build::Eagle2(e) => e.nodes,
            Build::SequoiaFamily { nodes, .. } => nodes,
        }
    }

    /// The largest depth a round's tree can have.
    pub fn max_depth(&self) -> usize {
        match self.build {
            Build::Static => self.tree.depth(),
            Build::Eagle2(e) => e.max_depth(),
            Build::SequoiaFamily { nodes, depth } => depth.min(nodes.saturating_sub(1)),
        }
    }

    /// Whether the shape is a chain (a fixed path).
    pub fn is_chain(&self) -> bool {
        self.build == Build::Static && self.tree.is_path()
    }

    /// The fixed tree, or why there is none yet.
    pub fn static_tree(&self) -> Result<&Tree> {
        match self.build {
            Build::Static => Ok(&self.tree),
            Build::Eagle2(_) => Err(Error::Config(format!(
                "--tree {}: an eagle2 tree is grown per round from its draft rows; it is used by `study`, `verify --generate` and Python's eagle2_tree, not as one fixed tree",
                self.spec
            ))),
            Build::SequoiaFamily { .. } => Err(Error::Config(format!(
                "--tree {}: without vector=FILE, Sequoia's vector comes from a family and a rule: give --family, its parameter, --vocab and one --rule (or vector=FILE)",
                self.spec
            ))),
        }
    }

    /// The tree in every form `specsim tree --format json` prints (and Python's `specsim.tree`
    /// returns): `spec`, `nodes`, `depth`, `widths`, `parents`, SGLang's `retrive_next_token` /
    /// `retrive_next_sibling`, EAGLE's `retrieve_indices` and `choices`, the `attention_mask`,
    /// and `eagle_order`: whether the node ids are EAGLE's (otherwise `choices` reads back
    /// renumbered: EAGLE's node k is this tree's node `eagle_node_ids[k]`).
    pub fn forms(&self) -> Value {
        let t = &self.tree;
        let (next_token, next_sibling) = t.next_token_sibling();
        let order = t.eagle_order();
        let in_order = order.iter().enumerate().all(|(k, &u)| k == u);
        serde_json::json!({
            "spec": self.spec,
            "nodes": t.len(),
            "depth": t.depth(),
            "widths": t.widths(),
            "parents": t.parents(),
            "retrive_next_token": next_token,
            "retrive_next_sibling": next_sibling,
            "retrieve_indices": t.retrieve_indices(),
            "choices": t.choices(),
            "eagle_order": in_order,
            "eagle_node_ids": order,
            "attention_mask": t.attention_mask(),
            "expected_generated": self.expected_generated(),
        })
    }

    /// A `sequoia:` tree's value for its vector (`1 + Σ_v Π P`, its `E[generated]` when the
    /// vector is the rule's); `None` for other shapes.
    pub fn expected_generated(&self) -> Option<f64> {
        let arg = self.spec.strip_prefix("sequoia:")?;
        let path = arg.splitn(3, ',').nth(2)?.trim().strip_prefix("vector=")?;
        let p = super::sequoia::read_vector(std::path::Path::new(path)).ok()?;
        Some(super::sequoia::value(&self.tree, &p))
    }

    /// A short label for tables and plots: the spec, or `eagle(n=64)` / the file name when the
    /// spec is long.
    pub fn label(&self) -> String {
        if self.spec.len() <= 24 {
            self.spec.clone()
        } else if self.spec.starts_with("eagle:") {
            format!("eagle(n={})", self.tree.len())
        } else if let Some(rest) = self.spec.strip_prefix("sequoia:") {
            // sequoia:n,d,vector=PATH: the vector's file name.
            let nd: Vec<&str> = rest.splitn(3, ',').take(2).collect();
            let name = self.spec.rsplit('/').next().unwrap_or(&self.spec);
            let name = name.strip_prefix("vector=").unwrap_or(name);
            format!("sequoia:{}({name})", nd.join(","))
        } else if !self.spec.starts_with("file:") {
            self.spec.clone()
        } else {
            let name = self.spec.rsplit('/').next().unwrap_or(&self.spec);
            format!("file:{name}")
        }
    }
}

impl std::str::FromStr for TreeShape {
    type Err = Error;

    fn from_str(spec: &str) -> Result<TreeShape> {
        let spec = spec.trim();
        let shown = abbreviate(spec);
        let err = |m: String| Error::Config(format!("--tree {shown}: {m}"));
        let (kind, arg) = spec.split_once(':').ok_or_else(|| {
            err("expected chain:K, kary:W,D, eagle:[[0],[0,0],…], sequoia:n,d[,vector=FILE], eagle2:k,depth,n or file:PATH".into())
        })?;
        let int = |s: &str, what: &str| -> Result<usize> {
            s.trim()
                .parse::<usize>()
                .map_err(|_| err(format!("{what} {s:?} is not a non-negative integer")))
        };
        let placeholder = |build: Build| TreeShape {
            spec: spec.to_string(),
            tree: Tree::path(0),
            build,
        };
        let tree = match kind {
            "eagle2" => {
                let e: super::eagle2::Eagle2 = arg.parse()?;
                return Ok(placeholder(Build::Eagle2(e)));
            }
            "chain" => {
                let k = int(arg, "K")?;
                if k >= MAX_NODES {
                    return Err(err(format!("K = {k} is more than {} nodes", MAX_NODES - 1)));
                }
                Tree::path(k)
            }
            "kary" => {
                let (w, d) = arg
                    .split_once(',')
                    .ok_or_else(|| err("expected kary:W,D (width, depth)".into()))?;
                let (w, d) = (int(w, "W")?, int(d, "D")?);
                kary(w, d)
                    .ok_or_else(|| err(format!("kary:{w},{d} has more than {MAX_NODES} nodes")))?
            }
            "eagle" => {
                let arg = match arg.trim() {
                    "mc_sim_7b_63" => EAGLE_MC_SIM_7B_63,
                    a if !a.starts_with('[') => {
                        return Err(err(format!(
                            "{} is neither a choice list ([[0],[0,0],...]) nor a known list's name (mc_sim_7b_63)",
                            abbreviate(a)
                        )));
                    }
                    a => a,
                };
                let choices: Vec<Vec<usize>> = serde_json::from_str(arg)
                    .map_err(|e| err(format!("not a JSON list of lists of sibling ranks: {e}")))?;
                Tree::from_choices(&choices).map_err(|e| err(e.to_string()))?
            }
            "sequoia" => {
                // sequoia:n,d,vector=FILE (SPEC §10; the vector from a file).
                let mut parts = arg.splitn(3, ',');
                let (n, d) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                let expected = || {
                    err("expected sequoia:n,d or sequoia:n,d,vector=FILE (n nodes with the root, depth d, a JSON positional acceptance vector)".into())
                };
                let (n, d) = (
                    int(n, "n").map_err(|_| expected())?,
                    int(d, "d").map_err(|_| expected())?,
                );
                if n == 0 || n > super::sequoia::MAX_SEQUOIA_NODES {
                    return Err(err(format!(
                        "n = {n} nodes is outside 1..={} (the root included)",
                        super::sequoia::MAX_SEQUOIA_NODES
                    )));
                }
                let Some(rest) = parts.next() else {
                    return Ok(placeholder(Build::SequoiaFamily { nodes: n, depth: d }));
                };
                let Some(path) = rest.trim().strip_prefix("vector=") else {
                    return Err(expected());
                };
                let p = super::sequoia::read_vector(std::path::Path::new(path))?;
                super::sequoia::sequoia_tree(n, d, &p)
                    .map_err(|e| err(e.to_string()))?
                    .0
            }
            "file" => {
                let text = crate::files::read_text(
                    std::path::Path::new(arg),
                    "a JSON tree document",
                    MAX_TREE_FILE_BYTES,
                )?;
                let doc: Value = serde_json::from_str(&text)
                    .map_err(|e| Error::format(arg, format!("invalid JSON: {e}")))?;
                from_document(&doc).map_err(|e| match e {
                    Error::Config(m) => Error::format(arg, m),
                    e => Error::format(arg, e.to_string()),
                })?
            }
            _ => {
                return Err(err(format!(
                    "unknown shape {kind:?} (chain:K, kary:W,D, eagle:[…], sequoia:n,d[,vector=FILE], eagle2:k,depth,n or file:PATH)"
                )));
            }
        };
        Ok(TreeShape::fixed(spec, tree))
    }
}

/// A spec quoted for an error message, cut to its first 60 characters (and its length) when
/// longer, so a 40 KB choice list does not make a 40 KB error line.
fn abbreviate(spec: &str) -> String {
    const SHOWN: usize = 60;
    match spec.char_indices().nth(SHOWN) {
        None => format!("{spec:?}"),
        Some((cut, _)) => format!("{:?}… ({} bytes)", &spec[..cut], spec.len()),
    }
}

/// The full W-ary tree of depth D, nodes in breadth-first order (`None` if too large).
pub fn kary(w: usize, d: usize) -> Option<Tree> {
    let mut parents = vec![-1i64];
    let mut level = vec![0usize];
    for _ in 0..d {
        if level.is_empty() || w == 0 {
            break;
        }
        let mut next = Vec::new();
        for &p in &level {
            for _ in 0..w {
                if parents.len() >= MAX_NODES {
                    return None;
                }
                next.push(parents.len());
                parents.push(p as i64);
            }
        }
        level = next;
    }
    Tree::from_parents(&parents).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `file:` refuses what is not a regular file before opening it (a FIFO used to hang, a
    /// device to read gigabytes), and an error quotes a long spec cut short.
    #[test]
    fn file_specs_refuse_fifos_and_devices_and_errors_stay_short() {
        let e = "file:/dev/zero"
            .parse::<TreeShape>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a device"), "{e}");
        let dir = std::env::temp_dir().join(format!("specsim-shape-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("tree.fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let e = format!("file:{}", fifo.display())
                .parse::<TreeShape>()
                .unwrap_err();
            assert!(e.to_string().contains("is a FIFO"), "{e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
        let long = format!("eagle:[{}[0,", "[0],".repeat(10_000));
        let e = long.parse::<TreeShape>().unwrap_err().to_string();
        assert!(e.len() < 300, "{} bytes: {e}", e.len());
        assert!(e.contains(&format!("({} bytes)", long.len())), "{e}");
        let e = format!("eagle:{}", "x".repeat(5000))
            .parse::<TreeShape>()
            .unwrap_err();
        assert!(e.to_string().len() < 400, "{e}");
    }

    #[test]
    fn shapes_parse() {
        let s: TreeShape = "kary:2,3".parse().unwrap();
        assert_eq!((s.tree.len(), s.tree.depth()), (15, 3));
        assert_eq!(s.tree.widths(), vec![1, 2, 4, 8]);
        let c: TreeShape = "chain:6".parse().unwrap();
        assert!(c.tree.is_path() && c.tree.len() == 7);
        let m: TreeShape = "eagle:mc_sim_7b_63".parse().unwrap();
        assert_eq!((m.tree.len(), m.tree.depth()), (64, 4));
        assert_eq!(m.tree.widths(), vec![1, 10, 28, 23, 2]);
        let e: TreeShape = "eagle:[[0],[0,0],[1]]".parse().unwrap();
        assert_eq!(e.tree.parents(), &[-1, 0, 0, 1]);
        assert_eq!(
            "kary:0,18446744073709551615"
                .parse::<TreeShape>()
                .unwrap()
                .tree
                .len(),
            1
        );
        for bad in [
            "chain:18446744073709551615",
            "kary:2",
            "tree:3",
            "chain:x",
            "eagle:[[1]]",
            "kary:1000,10",
            "file:/nonexistent",
        ] {
            assert!(bad.parse::<TreeShape>().is_err(), "{bad}");
        }
        assert_eq!(kary(3, 0).unwrap().len(), 1);
    }

    #[test]
    fn documents_in_every_form() {
        let t = Tree::from_parents(&[-1, 0, 0, 1, 2, 1]).unwrap();
        let (nt, ns) = t.next_token_sibling();
        for doc in [
            serde_json::json!([-1, 0, 0, 1, 2, 1]),
            serde_json::json!({"parents": [-1, 0, 0, 1, 2, 1]}),
            serde_json::json!({"retrive_next_token": nt, "retrive_next_sibling": ns}),
            serde_json::json!({"retrieve_indices": t.retrieve_indices()}),
            serde_json::json!({"attention_mask": t.attention_mask()}),
        ] {
            assert_eq!(from_document(&doc).unwrap(), t, "{doc}");
        }
        assert!(from_document(&serde_json::json!({"x": 1})).is_err());
        assert!(from_document(&serde_json::json!("chain:3")).is_err());
    }

    /// What `specsim tree --format json` writes reads back as the same tree, node for node, for
    /// trees in any numbering (their `choices` are in EAGLE's order, the other forms not).
    #[test]
    fn every_document_specsim_writes_reads_back() {
        use rand::{Rng, SeedableRng, rngs::StdRng};
        let mut rng = StdRng::seed_from_u64(20);
        for _ in 0..300 {
            let n = rng.random_range(1..40);
            let parents: Vec<i64> = (0..n)
                .map(|u| {
                    if u == 0 {
                        -1
                    } else {
                        rng.random_range(0..u) as i64
                    }
                })
                .collect();
            let shape = TreeShape::fixed("t", Tree::from_parents(&parents).unwrap());
            let doc = shape.forms();
            assert_eq!(from_document(&doc).unwrap(), shape.tree, "{doc}");
        }
    }

    /// A document whose forms (or facts) contradict each other is refused, naming both.
    #[test]
    fn contradictory_documents_are_refused() {
        let t = Tree::from_parents(&[-1, 0, 0, 1]).unwrap();
        let mut swapped = t.retrieve_indices();
        swapped.iter_mut().flatten().for_each(|u| {
            *u = match *u {
                1 => 2,
                2 => 1,
                u => u,
            }
        });
        for (doc, names) in [
            (
                serde_json::json!({"parents": [-1, 0, 0], "choices": [[0]]}),
                "`parents` and `choices`",
            ),
            (
                serde_json::json!({"parents": [-1, 0, 0, 1], "retrieve_indices": swapped}),
                "`parents` and `retrieve_indices`",
            ),
            (
                serde_json::json!({"choices": [[0], [1]], "attention_mask": [[1, 0], [1, 1]]}),
                "`choices` and `attention_mask`",
            ),
            (
                serde_json::json!({"parents": [-1, 0, 0, 1], "nodes": 5}),
                "`nodes` is 5",
            ),
            (
                serde_json::json!({"parents": [-1, 0, 0, 1], "widths": [1, 1, 1]}),
                "`widths`",
            ),
            (
                serde_json::json!({"retrive_next_sibling": [-1, -1]}),
                "needs retrive_next_token",
            ),
        ] {
            let e = from_document(&doc).unwrap_err().to_string();
            assert!(e.contains(names), "{doc}: {e}");
        }
        // Agreeing forms, `choices` in EAGLE's order beside parents in another numbering.
        let other = Tree::from_parents(&[-1, 0, 1, 0]).unwrap();
        let doc = serde_json::json!({"parents": [-1, 0, 1, 0], "choices": other.choices()});
        assert_eq!(from_document(&doc).unwrap(), other);
        assert!(!other.in_eagle_order());
        assert_eq!(
            from_document(&serde_json::json!({"parents": [-1, 0, 0, 1], "choices": t.choices()}))
                .unwrap(),
            t
        );
    }
}
