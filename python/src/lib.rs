//! `specsim._specsim`: the Rust side of the Python package. The public API, its docstrings and
//! the normalisation of array arguments (dtype, contiguity) are in `py/specsim/__init__.py`;
//! this module reads the arrays it is given in place (no copy) and releases the GIL while the
//! engines work.

use std::path::PathBuf;
use std::sync::Mutex;

use numpy::{IntoPyArray, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use specsim::batch::{
    ChainView, Floats, Ints, Rounds, Topology, Validation, check_batch_shapes, check_tree_shapes,
};
use specsim::engine::{Engine, EngineChoice, select};
use specsim::gpu::GpuContext;
use specsim::round::json::FlatRound;
use specsim::round::{RoundOptions, Rows};
use specsim::rule::{Recovery, RecoveryMode, Rule};
use specsim::study::options::{FamilyKind, StudyOptions, check_k};
use specsim::study::report;
use specsim::study::run::{Progress, run_plan};
use specsim::topology::Tree;
use specsim::topology::shape::{TreeShape, from_document};

create_exception!(
    _specsim,
    NativeError,
    PyException,
    "A refusal or failure of the library, as (class, code, message): `specsim` re-raises it as \
     its `SpecsimError` subclass of that class name (`specsim.errors`)."
);

/// The library's error as a [`NativeError`] carrying its class (`InvalidInput`, `InvalidTree`,
/// …, `EngineError`), its fine-grained code and the command line's message.
fn err(e: specsim::Error) -> PyErr {
    NativeError::new_err((e.class(), e.kind(), e.to_string()))
}

fn borrowed(name: &str, e: impl std::fmt::Display) -> PyErr {
    invalid(format!("{name}: the array is being written elsewhere: {e}"))
}

/// A refused input (an argument the library never saw).
fn invalid(msg: impl Into<String>) -> PyErr {
    NativeError::new_err(("InvalidInput", "input", msg.into()))
}

/// A refused option.
fn config(msg: impl Into<String>) -> PyErr {
    NativeError::new_err(("InvalidOption", "config", msg.into()))
}

fn parse<T: std::str::FromStr<Err = specsim::Error>>(s: &str) -> PyResult<T> {
    s.parse().map_err(err)
}

fn recovery_mode(s: &str) -> PyResult<RecoveryMode> {
    match s {
        "argmax" => Ok(RecoveryMode::Argmax),
        "sample" => Ok(RecoveryMode::Sample),
        _ => Err(config(format!(
            "recovery: {s:?} is not a recovery mode (argmax or sample)"
        ))),
    }
}

fn engine_choice(s: &str) -> PyResult<EngineChoice> {
    match s {
        "auto" => Ok(EngineChoice::Auto),
        "cpu" => Ok(EngineChoice::Cpu),
        "gpu" => Ok(EngineChoice::Gpu),
        _ => Err(config(format!(
            "engine: {s:?} is not an engine (auto, cpu or gpu)"
        ))),
    }
}

/// One round, decided by the f64 reference, exactly as `specsim round` decides it: the same
/// checks, and the same JSON text (a chain rule's keys, or a tree rule's with `accepted_nodes`).
#[pyfunction]
#[pyo3(signature = (draft_probs, target_probs, draft_tokens, random_coins, parents, rule, allow_unnormalized, plain_decode))]
#[allow(clippy::too_many_arguments)]
fn speculative_decode(
    py: Python<'_>,
    draft_probs: Vec<Vec<f64>>,
    target_probs: Vec<Vec<f64>>,
    draft_tokens: Vec<i64>,
    random_coins: Vec<f64>,
    parents: Option<Vec<i64>>,
    rule: &str,
    allow_unnormalized: bool,
    plain_decode: bool,
) -> PyResult<String> {
    let rule: Rule = parse(rule)?;
    let opts = RoundOptions {
        allow_unnormalized,
        allow_empty_draft: plain_decode,
    };
    let flat = |rows: Vec<Vec<f64>>| Rows {
        lens: rows.iter().map(Vec::len).collect(),
        data: rows.concat(),
    };
    let round = FlatRound {
        parents,
        draft_probs: flat(draft_probs),
        target_probs: flat(target_probs),
        draft_tokens,
        random_coins,
    };
    let decided = py.detach(|| round.decide(rule, &opts)).map_err(err)?;
    serde_json::to_string(&decided).map_err(|e| config(e.to_string()))
}

/// A C-contiguous float32 or float64 array, read in place.
enum FloatArray<'py> {
    F32(PyReadonlyArrayDyn<'py, f32>),
    F64(PyReadonlyArrayDyn<'py, f64>),
}

impl<'py> FloatArray<'py> {
    fn new(name: &str, a: &Bound<'py, PyAny>) -> PyResult<FloatArray<'py>> {
        if let Ok(x) = a.cast::<PyArrayDyn<f32>>() {
            return Ok(FloatArray::F32(
                x.try_readonly().map_err(|e| borrowed(name, e))?,
            ));
        }
        if let Ok(x) = a.cast::<PyArrayDyn<f64>>() {
            return Ok(FloatArray::F64(
                x.try_readonly().map_err(|e| borrowed(name, e))?,
            ));
        }
        Err(invalid(format!(
            "{name}: expected a float32 or float64 numpy array"
        )))
    }

    fn shape(&self) -> Vec<usize> {
        match self {
            FloatArray::F32(x) => x.shape().to_vec(),
            FloatArray::F64(x) => x.shape().to_vec(),
        }
    }

    fn floats(&self, name: &str) -> PyResult<Floats<'_>> {
        let contiguous = || invalid(format!("{name}: the array is not C-contiguous and aligned"));
        Ok(match self {
            FloatArray::F32(x) => Floats::F32(bytemuck::cast_slice(
                x.as_slice().map_err(|_| contiguous())?,
            )),
            FloatArray::F64(x) => Floats::F64(bytemuck::cast_slice(
                x.as_slice().map_err(|_| contiguous())?,
            )),
        })
    }
}

/// A C-contiguous int32, int64 or uint32 array, read in place.
enum IntArray<'py> {
    I32(PyReadonlyArrayDyn<'py, i32>),
    I64(PyReadonlyArrayDyn<'py, i64>),
    U32(PyReadonlyArrayDyn<'py, u32>),
}

impl<'py> IntArray<'py> {
    fn new(name: &str, a: &Bound<'py, PyAny>) -> PyResult<IntArray<'py>> {
        if let Ok(x) = a.cast::<PyArrayDyn<i32>>() {
            return Ok(IntArray::I32(
                x.try_readonly().map_err(|e| borrowed(name, e))?,
            ));
        }
        if let Ok(x) = a.cast::<PyArrayDyn<i64>>() {
            return Ok(IntArray::I64(
                x.try_readonly().map_err(|e| borrowed(name, e))?,
            ));
        }
        if let Ok(x) = a.cast::<PyArrayDyn<u32>>() {
            return Ok(IntArray::U32(
                x.try_readonly().map_err(|e| borrowed(name, e))?,
            ));
        }
        Err(invalid(format!(
            "{name}: expected an int32, int64 or uint32 numpy array"
        )))
    }

    fn shape(&self) -> Vec<usize> {
        match self {
            IntArray::I32(x) => x.shape().to_vec(),
            IntArray::I64(x) => x.shape().to_vec(),
            IntArray::U32(x) => x.shape().to_vec(),
        }
    }

    fn ints(&self, name: &str) -> PyResult<Ints<'_>> {
        let contiguous = || invalid(format!("{name}: the array is not C-contiguous and aligned"));
        Ok(match self {
            IntArray::I32(x) => Ints::I32(bytemuck::cast_slice(
                x.as_slice().map_err(|_| contiguous())?,
            )),
            IntArray::I64(x) => Ints::I64(bytemuck::cast_slice(
                x.as_slice().map_err(|_| contiguous())?,
            )),
            IntArray::U32(x) => Ints::U32(bytemuck::cast_slice(
                x.as_slice().map_err(|_| contiguous())?,
            )),
        })
    }
}

/// The GPU context, opened once per process and reused by every call, and whether `auto` has
/// decided already (it decides once: a hardware adapter, or the CPU engine with one notice).
static GPU: Mutex<Option<GpuContext>> = Mutex::new(None);
static AUTO_DECIDED: Mutex<Option<bool>> = Mutex::new(None);

/// Runs `f` on the engine `choice` selects: the GPU context (opened on first use) or the CPU
/// engine. `auto` never takes a software adapter, even one `gpu` opened.
fn with_engine<T>(
    choice: EngineChoice,
    f: impl FnOnce(&mut dyn Engine) -> specsim::Result<T>,
) -> specsim::Result<T> {
    let mut cpu = specsim::cpu::CpuEngine::default();
    if choice == EngineChoice::Cpu {
        return f(&mut cpu);
    }
    let mut slot = GPU.lock().unwrap_or_else(|p| p.into_inner());
    let software = |g: &GpuContext| g.is_software();
    match choice {
        EngineChoice::Gpu => {
            if slot.is_none() {
                *slot = Some(GpuContext::new()?);
            }
            match slot.as_mut() {
                Some(g) => f(g),
                None => f(&mut cpu),
            }
        }
        _ => {
            let mut decided = AUTO_DECIDED.lock().unwrap_or_else(|p| p.into_inner());
            if decided.is_none() {
                match slot.as_ref() {
                    Some(g) if !software(g) => *decided = Some(true),
                    _ => {
                        let sel = select(EngineChoice::Auto, false)?;
                        if let Some(notice) = &sel.notice {
                            eprintln!("specsim: notice: {notice}");
                        }
                        *decided = Some(sel.gpu.is_some());
                        if sel.gpu.is_some() {
                            *slot = sel.gpu;
                        }
                    }
                }
            }
            match slot.as_mut() {
                Some(g) if *decided == Some(true) && !software(g) => f(g),
                _ => f(&mut cpu),
            }
        }
    }
}

/// Addresses of the first byte of each array the engine reads (for the zero-copy test).
static LAST_ADDRESSES: Mutex<Vec<usize>> = Mutex::new(Vec::new());

fn address(f: &Floats) -> usize {
    match f {
        Floats::F32(b) | Floats::F64(b) => b.as_ptr() as usize,
    }
}

/// `n` values of an integer array, owned (as i64).
fn own_ints(a: &Ints, n: usize) -> Vec<i64> {
    (0..n).map(|i| a.get(i)).collect()
}

/// A batch on one engine, chain or tree (`parents` [n] or [N, n]); returns `tokens`,
/// `num_accepted`, `num_generated` and, for a tree batch, `accepted_nodes`, as `specsim run
/// --out` writes them.
#[pyfunction]
#[pyo3(signature = (draft_probs, target_probs, draft_tokens, random_coins, parents, rule, engine, recovery, seed, validate, allow_unnormalized, plain_decode))]
#[allow(clippy::too_many_arguments)]
fn verify_batch<'py>(
    py: Python<'py>,
    draft_probs: &Bound<'py, PyAny>,
    target_probs: &Bound<'py, PyAny>,
    draft_tokens: &Bound<'py, PyAny>,
    random_coins: &Bound<'py, PyAny>,
    parents: Option<&Bound<'py, PyAny>>,
    rule: &str,
    engine: &str,
    recovery: &str,
    seed: u64,
    validate: &str,
    allow_unnormalized: bool,
    plain_decode: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let rule: Rule = parse(rule)?;
    let choice = engine_choice(engine)?;
    let rec = Recovery {
        mode: recovery_mode(recovery)?,
        seed,
        round_offset: 0,
    };
    let mode = match validate {
        "full" => Validation::Full,
        "touched" => Validation::Touched,
        _ => {
            return Err(config(format!(
                "validate: {validate:?} is not a validation mode (full or touched)"
            )));
        }
    };
    let opts = RoundOptions {
        allow_unnormalized,
        allow_empty_draft: plain_decode,
    };
    let d = FloatArray::new("draft_probs", draft_probs)?;
    let t = FloatArray::new("target_probs", target_probs)?;
    let tok = IntArray::new("draft_tokens", draft_tokens)?;
    let c = FloatArray::new("random_coins", random_coins)?;
    let p = parents.map(|p| IntArray::new("parents", p)).transpose()?;
    let (ds, ts, toks, cs) = (d.shape(), t.shape(), tok.shape(), c.shape());
    let (draft, target) = (d.floats("draft_probs")?, t.floats("target_probs")?);
    if let Ok(mut a) = LAST_ADDRESSES.lock() {
        *a = vec![address(&draft), address(&target)];
    }
    // Tokens, coins and parents are copied (N·n values): the engines index rows with them,
    // which another Python thread could change while the GIL is released. The probability
    // arrays are read in place; they must not be written during the call (as numpy's own ufuncs
    // assume).
    let coins = c.floats("random_coins")?;
    let own_tokens = own_ints(&tok.ints("draft_tokens")?, toks.iter().product());
    let ncoins: usize = cs.iter().product();
    let (coins32, coins64): (Vec<f32>, Vec<f64>) = match coins {
        Floats::F32(_) => ((0..ncoins).map(|i| coins.get_f32(i)).collect(), Vec::new()),
        Floats::F64(_) => (Vec::new(), (0..ncoins).map(|i| coins.get_f64(i)).collect()),
    };
    let coins = match coins {
        Floats::F32(_) => Floats::F32(bytemuck::cast_slice(&coins32)),
        Floats::F64(_) => Floats::F64(bytemuck::cast_slice(&coins64)),
    };
    let tokens = Ints::I64(bytemuck::cast_slice(&own_tokens));
    let own_parents = match &p {
        Some(p) => own_ints(&p.ints("parents")?, p.shape().iter().product()),
        None => Vec::new(),
    };
    let p_shape = p.as_ref().map(|p| p.shape());
    let shared = match &p_shape {
        Some(s) if s.len() == 1 => Some(Tree::from_parents(&own_parents).map_err(err)?),
        _ => None,
    };
    let res = py
        .detach(|| -> specsim::Result<_> {
            let rounds = match &p_shape {
                None => {
                    let (n, k, v) = check_batch_shapes(
                        ("draft_probs", &ds),
                        ("target_probs", &ts),
                        ("draft_tokens", &toks),
                        ("random_coins", &cs),
                    )?;
                    Rounds::chain(&ChainView {
                        n,
                        k,
                        v,
                        draft,
                        target,
                        tokens,
                        coins,
                    })
                }
                Some(ps) => {
                    let (_, nn, v) = check_tree_shapes(
                        ("parents", ps),
                        ("draft_probs", &ds),
                        ("target_probs", &ts),
                        ("draft_tokens", &toks),
                        ("random_coins", &cs),
                    )?;
                    let topology = match &shared {
                        Some(t) => Topology::Shared(t),
                        None => {
                            Topology::per_round(Ints::I64(bytemuck::cast_slice(&own_parents)), nn)?
                        }
                    };
                    Rounds::new(topology, v, draft, target, tokens, coins)?
                }
            };
            if !rounds.is_chain() {
                rule.check_tree_batch()?;
            }
            rounds.validate(&opts, mode, rule)?;
            let out = with_engine(choice, |engine| engine.run(&rounds, rule, rec))?;
            Ok(if out.n() == 0 && rounds.is_chain() {
                specsim::batch::Outcomes::chain(0, rounds.topology.depth())
            } else if out.n() == 0 {
                specsim::batch::Outcomes::tree(0, rounds.topology.depth())
            } else {
                out
            })
        })
        .map_err(err)?;
    let (n, d1) = (res.n(), res.depth + 1);
    let out = PyDict::new(py);
    out.set_item(
        "tokens",
        res.tokens.clone().into_pyarray(py).reshape([n, d1])?,
    )?;
    if let Some(nodes) = &res.nodes {
        out.set_item(
            "accepted_nodes",
            nodes.clone().into_pyarray(py).reshape([n, res.depth])?,
        )?;
    }
    let acc: Vec<i32> = res.num_accepted.iter().map(|&a| a as i32).collect();
    let generated: Vec<i32> = res.num_accepted.iter().map(|&a| a as i32 + 1).collect();
    out.set_item("num_accepted", acc.into_pyarray(py))?;
    out.set_item("num_generated", generated.into_pyarray(py))?;
    Ok(out)
}

/// The summary of a batch's outcomes (`specsim run`'s numbers; the library's one summary):
/// rounds, depth, mean accepted and generated, and `P[accepted ≥ d]` for d = 1..=depth, as JSON.
#[pyfunction]
fn summary(num_accepted: Vec<u32>, depth: usize) -> PyResult<String> {
    if let Some(&a) = num_accepted.iter().find(|&&a| a as usize > depth) {
        return Err(invalid(format!(
            "num_accepted: {a} is more than the depth {depth}"
        )));
    }
    let outcomes = specsim::batch::Outcomes {
        num_accepted,
        ..specsim::batch::Outcomes::chain(0, depth)
    };
    let s = specsim::summary::Summary::of(&outcomes);
    Ok(serde_json::json!({
        "rounds": s.rounds,
        "depth": s.depth,
        "mean_accepted": s.mean_accepted,
        "mean_generated": s.mean_generated(),
        "acceptance": s.acceptance,
    })
    .to_string())
}

/// A tree shape (any `--tree` spec) in every form `specsim tree --format json` prints, as JSON.
#[pyfunction]
fn tree(py: Python<'_>, spec: &str) -> PyResult<String> {
    let shape: TreeShape = py.detach(|| spec.parse()).map_err(err)?;
    shape.static_tree().map_err(err)?;
    Ok(shape.forms().to_string())
}

/// A tree from a document (a parent array, or an object with one of `parents`, `choices`,
/// `retrive_next_token` + `retrive_next_sibling`, `retrieve_indices`, `attention_mask`: what
/// `--tree file:PATH` reads), in every form, as JSON.
#[pyfunction]
fn tree_from(py: Python<'_>, doc: &str, spec: &str) -> PyResult<String> {
    let value: serde_json::Value =
        serde_json::from_str(doc).map_err(|e| invalid(format!("{spec}: {e}")))?;
    let tree = py.detach(|| from_document(&value)).map_err(err)?;
    let shape = TreeShape::fixed(spec, tree);
    Ok(shape.forms().to_string())
}

/// One node's target and draft rows, each one row of V (1-D), read in place.
fn node_rows<'a>(
    target_probs: &'a PyReadonlyArrayDyn<'_, f64>,
    draft_probs: &'a PyReadonlyArrayDyn<'_, f64>,
) -> PyResult<(&'a [f64], &'a [f64])> {
    let row = |name: &str, a: &'a PyReadonlyArrayDyn<'_, f64>| -> PyResult<&'a [f64]> {
        if a.ndim() != 1 {
            return Err(invalid(format!(
                "{name}: expected one row of V probabilities (1-D), got shape {:?}",
                a.shape()
            )));
        }
        a.as_slice().map_err(|e| borrowed(name, e))
    };
    Ok((
        row("target_probs", target_probs)?,
        row("draft_probs", draft_probs)?,
    ))
}

/// alpha* at one node (SPEC §8), as `specsim optimal --format json` prints it: one object per
/// (n, mode), n outer. The rows are read in place (float64, 1-D).
#[pyfunction]
#[pyo3(signature = (target_probs, draft_probs, drafts, modes, allow_unnormalized, skip_impossible))]
fn optimal<'py>(
    py: Python<'py>,
    target_probs: PyReadonlyArrayDyn<'py, f64>,
    draft_probs: PyReadonlyArrayDyn<'py, f64>,
    drafts: Vec<usize>,
    modes: Vec<String>,
    allow_unnormalized: bool,
    skip_impossible: bool,
) -> PyResult<String> {
    use specsim::reference::optimal::DraftMode;
    let (t, d) = node_rows(&target_probs, &draft_probs)?;
    if let Some(&bad) = drafts.iter().find(|&&n| n == 0) {
        return Err(config(format!(
            "drafts: '{bad}' is not a positive integer (expected a list such as 1,2,4,8)"
        )));
    }
    let modes: Vec<DraftMode> = modes.iter().map(|m| parse(m)).collect::<PyResult<_>>()?;
    let bounds = py
        .detach(|| {
            let opts = specsim::round::node::NodeOptions {
                allow_unnormalized,
                skip_impossible,
            };
            specsim::round::node::node_bounds_with(t, d, &drafts, &modes, &opts)
        })
        .map_err(err)?;
    serde_json::to_string(&bounds).map_err(|e| invalid(e.to_string()))
}

/// The positional vector of a tree rule at one node (SPEC §9), the rows read in place (float64,
/// 1-D): `P[j]` = P(the j-th of `width` children is the accepted one); with `estimate`, rrs-wor
/// beyond its enumeration budget is estimated (the standard errors returned beside).
#[pyfunction]
#[pyo3(signature = (target_probs, draft_probs, width, rule, allow_unnormalized, estimate=false))]
fn positional_acceptance<'py>(
    py: Python<'py>,
    target_probs: PyReadonlyArrayDyn<'py, f64>,
    draft_probs: PyReadonlyArrayDyn<'py, f64>,
    width: usize,
    rule: &str,
    allow_unnormalized: bool,
    estimate: bool,
) -> PyResult<(Vec<f64>, Option<Vec<f64>>)> {
    use specsim::round::node as nd;
    let rule = parse::<Rule>(rule)?;
    let (t, d) = node_rows(&target_probs, &draft_probs)?;
    let opts = nd::NodeOptions {
        allow_unnormalized,
        skip_impossible: false,
    };
    py.detach(|| {
        if estimate {
            let samples = specsim::reference::optimal::WOR_ESTIMATE_SAMPLES;
            nd::positional_acceptance_or_estimate(t, d, width, rule, &opts, samples, (0, 0))
        } else {
            nd::positional_acceptance(t, d, width, rule, &opts).map(|p| (p, None))
        }
    })
    .map_err(err)
}

/// EAGLE-2's tree grown from a user's draft model (SPEC §10): `draft_row(path)` gives the draft
/// row (1-D, V probabilities) after the path of token ids below the root. Returns
/// (parents, tokens) with tokens[0] = 0.
#[pyfunction]
#[pyo3(signature = (draft_row, k, depth, nodes, allow_unnormalized))]
fn eagle2_tree<'py>(
    py: Python<'py>,
    draft_row: Bound<'py, PyAny>,
    k: usize,
    depth: usize,
    nodes: usize,
    allow_unnormalized: bool,
) -> PyResult<(Vec<i64>, Vec<i64>)> {
    use specsim::topology::eagle2::Eagle2;
    let e = Eagle2 { k, depth, nodes };
    e.check(0).map_err(err)?;
    let mut vocab: Option<usize> = None;
    let mut py_err: Option<PyErr> = None;
    let opts = specsim::round::node::NodeOptions {
        allow_unnormalized,
        skip_impossible: false,
    };
    let grown = e.grow(0, |cand, path| {
        let who = cand.map_or("the root".to_string(), |c| {
            format!("candidate {c} (path {path:?})")
        });
        let fail = |py_err: &mut Option<PyErr>, e: PyErr| {
            *py_err = Some(e);
            specsim::Error::Config(String::new())
        };
        let args = pyo3::types::PyTuple::new(py, path.iter().map(|&x| x as i64))
            .map_err(|e| fail(&mut py_err, e))?;
        let row = draft_row.call1((args,)).map_err(|e| fail(&mut py_err, e))?;
        let np = py.import("numpy").map_err(|e| fail(&mut py_err, e))?;
        let arr = np
            .call_method1("ascontiguousarray", (row, "float64"))
            .map_err(|e| fail(&mut py_err, e))?;
        let arr = arr
            .cast_into::<numpy::PyArrayDyn<f64>>()
            .map_err(|e| fail(&mut py_err, PyErr::from(e)))?;
        let ro = arr.readonly();
        if ro.ndim() != 1 {
            return Err(specsim::Error::Config(format!(
                "draft_row: {who}'s row has shape {:?}, expected one row of V probabilities (1-D)",
                ro.shape()
            )));
        }
        let q = ro
            .as_slice()
            .map_err(|e| specsim::Error::Config(format!("draft_row: {e}")))?;
        match vocab {
            Some(v) if v != q.len() => {
                return Err(specsim::Error::Config(format!(
                    "draft_row: {who}'s row has V = {}, the root's V = {v}",
                    q.len()
                )));
            }
            _ => vocab = Some(q.len()),
        }
        if k > q.len() {
            return Err(specsim::Error::Config(format!(
                "eagle2: k = {k} tokens per node but V = {}",
                q.len()
            )));
        }
        // Checked as a round's row; used as given (dividing a row that sums to 1 by its sum
        // could move exact score ties by an ulp), or divided by its sum when unnormalised rows
        // are allowed.
        let (normalised, _) = specsim::round::node::normalized_rows_with(q, q, &opts)
            .map_err(|e| specsim::Error::Config(format!("draft_row: {who}: {e}")))?;
        let q = if allow_unnormalized {
            &normalised[..]
        } else {
            q
        };
        Ok(specsim::reference::tree::expect::row_top_k(q, q.len(), k))
    });
    let grown = match (grown, py_err) {
        (_, Some(e)) => return Err(e),
        (r, None) => r.map_err(err)?,
    };
    Ok((
        grown.tree.parents().iter().map(|&x| x as i64).collect(),
        grown.tokens.iter().map(|&x| x as i64).collect(),
    ))
}

/// The study options of a family and its workload lists, the study's defaults where `None`.
#[allow(clippy::too_many_arguments)]
fn family_options(
    family: &str,
    sigma: Option<Vec<f64>>,
    lambda_: Option<Vec<f64>>,
    bits: Option<Vec<u32>>,
    t_target: Option<Vec<f64>>,
    t_draft: Option<Vec<f64>>,
    zipf: Option<Vec<f64>>,
    vocab: Option<usize>,
    rounds: Option<u64>,
    seed: Option<u64>,
    (sigma_dist, lambda_dist): (Option<Vec<String>>, Option<Vec<String>>),
) -> PyResult<StudyOptions> {
    let d = StudyOptions::default();
    Ok(StudyOptions {
        sigma_dist: spreads("sigma_dist", sigma_dist)?,
        lambda_dist: spreads("lambda_dist", lambda_dist)?,
        family: parse::<FamilyKind>(family)?,
        sigma: sigma.unwrap_or(d.sigma.clone()),
        lambda: lambda_.unwrap_or(d.lambda.clone()),
        bits: bits.unwrap_or(d.bits.clone()),
        t_target: t_target.unwrap_or(d.t_target.clone()),
        t_draft: t_draft.unwrap_or(d.t_draft.clone()),
        zipf: zipf.unwrap_or(d.zipf.clone()),
        vocab: vocab.or(d.vocab),
        rounds: rounds.or(d.rounds),
        seed: seed.or(d.seed),
        ..d
    })
}

/// The exact distortion of a chain rule on one round (SPEC §13): `draft` [K, V] and `target`
/// [K + 1, V] (float64, read in place), as JSON.
#[pyfunction]
#[pyo3(signature = (draft_probs, target_probs, rule, draft_mode, recovery, allow_unnormalized))]
fn distortion<'py>(
    py: Python<'py>,
    draft_probs: PyReadonlyArrayDyn<'py, f64>,
    target_probs: PyReadonlyArrayDyn<'py, f64>,
    rule: &str,
    draft_mode: &str,
    recovery: &str,
    allow_unnormalized: bool,
) -> PyResult<String> {
    use specsim::reference::lossy::{DraftLaw, LossyRule};
    let rule: LossyRule = rule.parse().map_err(err)?;
    let law: DraftLaw = draft_mode.parse().map_err(err)?;
    let how = recovery_mode(recovery)?.into();
    let (d, t) = (draft_probs.shape(), target_probs.shape());
    if d.len() != 2 || t.len() != 2 || t[0] != d[0] + 1 || t[1] != d[1] || d[0] == 0 {
        return Err(invalid(format!(
            "draft [K, V] and target [K + 1, V] (K >= 1) expected, got shapes {d:?} and {t:?}"
        )));
    }
    let v = d[1];
    let q = draft_probs
        .as_slice()
        .map_err(|e| borrowed("draft_probs", e))?;
    let p = target_probs
        .as_slice()
        .map_err(|e| borrowed("target_probs", e))?;
    let opts = specsim::round::node::NodeOptions {
        allow_unnormalized,
        skip_impossible: false,
    };
    let out = py
        .detach(|| specsim::round::lossy::round_distortion(q, p, v, rule, law, how, &opts))
        .map_err(err)?;
    serde_json::to_string(&out).map_err(|e| invalid(e.to_string()))
}

/// The distortion meter over a family's rows, as `specsim distortion --format json` prints it;
/// `out` writes `distortion.json` and `tradeoff.svg` too.
#[pyfunction]
#[pyo3(signature = (family, sigma, lambda_, bits, t_target, t_draft, zipf, vocab, rounds, seed, k, rules, draft_mode, recovery, out, sigma_dist=None, lambda_dist=None))]
#[allow(clippy::too_many_arguments)]
fn distortion_study(
    py: Python<'_>,
    family: &str,
    sigma: Option<Vec<f64>>,
    lambda_: Option<Vec<f64>>,
    bits: Option<Vec<u32>>,
    t_target: Option<Vec<f64>>,
    t_draft: Option<Vec<f64>>,
    zipf: Option<Vec<f64>>,
    vocab: Option<usize>,
    rounds: Option<u64>,
    seed: Option<u64>,
    k: usize,
    rules: Vec<String>,
    draft_mode: &str,
    recovery: &str,
    out: Option<PathBuf>,
    sigma_dist: Option<Vec<String>>,
    lambda_dist: Option<Vec<String>>,
) -> PyResult<String> {
    use specsim::reference::lossy::{DraftLaw, LossyRule};
    let rules: Vec<LossyRule> = rules
        .iter()
        .map(|r| r.parse())
        .collect::<specsim::Result<_>>()
        .map_err(err)?;
    let law: DraftLaw = draft_mode.parse().map_err(err)?;
    let how = recovery_mode(recovery)?.into();
    let rounds = Some(rounds.unwrap_or(200));
    let opts = family_options(
        family,
        sigma,
        lambda_,
        bits,
        t_target,
        t_draft,
        zipf,
        vocab,
        rounds,
        seed,
        (sigma_dist, lambda_dist),
    )?;
    let rows = py
        .detach(|| -> specsim::Result<_> {
            let rows = specsim::study::distortion::family_distortion(&opts, k, &rules, law, how)?;
            if let Some(dir) = &out {
                specsim::study::report::distortion::write_distortion_files(dir, &rows)?;
            }
            Ok(rows)
        })
        .map_err(err)?;
    serde_json::to_string(&rows).map_err(|e| invalid(e.to_string()))
}

/// `sequoia:n,d` without a file: the tree for a family's vector under one rule, as
/// `specsim tree sequoia:n,d --rule R --family …` prints it (JSON).
#[pyfunction]
#[pyo3(signature = (spec, rule, family, sigma, lambda_, bits, t_target, t_draft, zipf, vocab, seed, sigma_dist=None, lambda_dist=None))]
#[allow(clippy::too_many_arguments)]
fn family_tree(
    py: Python<'_>,
    spec: &str,
    rule: &str,
    family: &str,
    sigma: Option<Vec<f64>>,
    lambda_: Option<Vec<f64>>,
    bits: Option<Vec<u32>>,
    t_target: Option<Vec<f64>>,
    t_draft: Option<Vec<f64>>,
    zipf: Option<Vec<f64>>,
    vocab: Option<usize>,
    seed: Option<u64>,
    sigma_dist: Option<Vec<String>>,
    lambda_dist: Option<Vec<String>>,
) -> PyResult<String> {
    let rule = parse::<Rule>(rule)?;
    let shape: TreeShape = spec.parse().map_err(err)?;
    let opts = family_options(
        family,
        sigma,
        lambda_,
        bits,
        t_target,
        t_draft,
        zipf,
        vocab,
        None,
        seed,
        (sigma_dist, lambda_dist),
    )?;
    let doc = py
        .detach(|| specsim::study::tree::vector::FamilyTree::build(&shape, &opts, rule)?.forms())
        .map_err(err)?;
    Ok(doc.to_string())
}

/// `E[generated]` of one tree under a tree rule (SPEC §9): rows [n, V] (float64, read in place),
/// node u's in row u.
#[pyfunction]
#[pyo3(signature = (parents, target_probs, draft_probs, rule, allow_unnormalized))]
fn tree_expectation<'py>(
    py: Python<'py>,
    parents: Vec<i64>,
    target_probs: PyReadonlyArrayDyn<'py, f64>,
    draft_probs: PyReadonlyArrayDyn<'py, f64>,
    rule: &str,
    allow_unnormalized: bool,
) -> PyResult<f64> {
    let rule = parse::<Rule>(rule)?;
    let n = parents.len();
    for (name, a) in [
        ("target_probs", &target_probs),
        ("draft_probs", &draft_probs),
    ] {
        if a.ndim() != 2 || a.shape()[0] != n {
            return Err(invalid(format!(
                "{name}: expected [n, V] = [{n}, V] (a row per node), got shape {:?}",
                a.shape()
            )));
        }
    }
    let v = target_probs.shape()[1];
    if draft_probs.shape()[1] != v {
        return Err(invalid(format!(
            "draft_probs: V = {} but target_probs has V = {v}",
            draft_probs.shape()[1]
        )));
    }
    let t = target_probs
        .as_slice()
        .map_err(|e| borrowed("target_probs", e))?;
    let d = draft_probs
        .as_slice()
        .map_err(|e| borrowed("draft_probs", e))?;
    let opts = specsim::round::node::NodeOptions {
        allow_unnormalized,
        skip_impossible: false,
    };
    py.detach(|| specsim::round::node::tree_expectation(&parents, t, d, v, rule, &opts))
        .map_err(err)
}

/// Sequoia's optimal static tree (SPEC §10) of `nodes` nodes and depth at most `depth` for a
/// positional acceptance vector given as JSON (a list, or a list per parent depth): its parent
/// array and its value.
#[pyfunction]
#[pyo3(signature = (vector_json, nodes, depth))]
fn sequoia_tree(
    py: Python<'_>,
    vector_json: &str,
    nodes: usize,
    depth: usize,
) -> PyResult<(Vec<i64>, f64)> {
    use specsim::topology::sequoia::{Positional, sequoia_tree as build};
    let doc: serde_json::Value =
        serde_json::from_str(vector_json).map_err(|e| invalid(format!("vector: {e}")))?;
    let p = Positional::from_json(&doc).map_err(err)?;
    let (tree, value) = py.detach(|| build(nodes, depth, &p)).map_err(err)?;
    Ok((tree.parents().iter().map(|&x| x as i64).collect(), value))
}

/// alpha* over a family's generated rows, as `specsim optimal --family … --format json` prints
/// it (one object per configuration and (n, mode)); `out` writes `optimal.csv` and
/// `optimal.json` too.
#[pyfunction]
#[pyo3(signature = (family, sigma, lambda_, bits, t_target, t_draft, zipf, vocab, rounds, seed, drafts, modes, skip_impossible, out, sigma_dist=None, lambda_dist=None))]
#[allow(clippy::too_many_arguments)]
fn optimal_study(
    py: Python<'_>,
    family: &str,
    sigma: Option<Vec<f64>>,
    lambda_: Option<Vec<f64>>,
    bits: Option<Vec<u32>>,
    t_target: Option<Vec<f64>>,
    t_draft: Option<Vec<f64>>,
    zipf: Option<Vec<f64>>,
    vocab: Option<usize>,
    rounds: Option<u64>,
    seed: Option<u64>,
    drafts: Vec<usize>,
    modes: Vec<String>,
    skip_impossible: bool,
    out: Option<PathBuf>,
    sigma_dist: Option<Vec<String>>,
    lambda_dist: Option<Vec<String>>,
) -> PyResult<String> {
    use specsim::reference::optimal::DraftMode;
    if let Some(&bad) = drafts.iter().find(|&&n| n == 0) {
        return Err(config(format!(
            "drafts: '{bad}' is not a positive integer (expected a list such as 1,2,4,8)"
        )));
    }
    let modes: Vec<DraftMode> = modes.iter().map(|m| parse(m)).collect::<PyResult<_>>()?;
    // `specsim optimal --family`'s defaults: V = 2048, 1000 rounds, seed 7.
    let (vocab, rounds, seed) = (
        vocab.or(Some(2048)),
        rounds.or(Some(1000)),
        seed.or(Some(7)),
    );
    let opts = family_options(
        family,
        sigma,
        lambda_,
        bits,
        t_target,
        t_draft,
        zipf,
        vocab,
        rounds,
        seed,
        (sigma_dist, lambda_dist),
    )?;
    let rows = py
        .detach(|| -> specsim::Result<_> {
            let cfgs = specsim::study::optimal::optimal_configs(&opts)?;
            let rows = specsim::study::optimal::optimal_study(
                &cfgs,
                &drafts,
                &modes,
                skip_impossible,
                |_| {},
            )?;
            if let Some(dir) = &out {
                specsim::study::optimal::write_optimal_files(dir, &rows)?;
            }
            Ok(rows)
        })
        .map_err(err)?;
    serde_json::to_string(&rows).map_err(|e| invalid(e.to_string()))
}

/// `specsim study --k`'s parser: `1..16`, `1,2,4,8`, `1..4,8`.
#[pyfunction]
fn _parse_k(s: &str) -> PyResult<Vec<usize>> {
    specsim::study::options::parse_k_list(s).map_err(err)
}

/// The data addresses the engine read in the last `verify_batch` call: [draft, target].
#[pyfunction]
fn _last_addresses() -> Vec<usize> {
    LAST_ADDRESSES.lock().map(|a| a.clone()).unwrap_or_default()
}

fn json_to_py<'py>(py: Python<'py>, v: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    use pyo3::IntoPyObjectExt;
    Ok(match v {
        serde_json::Value::Null => py.None().into_bound(py),
        serde_json::Value::Bool(b) => b.into_bound_py_any(py)?,
        serde_json::Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u.into_bound_py_any(py)?,
            (_, Some(i)) => i.into_bound_py_any(py)?,
            _ => n.as_f64().unwrap_or(f64::NAN).into_bound_py_any(py)?,
        },
        serde_json::Value::String(s) => s.into_bound_py_any(py)?,
        serde_json::Value::Array(a) => {
            let l = PyList::empty(py);
            for x in a {
                l.append(json_to_py(py, x)?)?;
            }
            l.into_any()
        }
        serde_json::Value::Object(o) => {
            let d = PyDict::new(py);
            for (k, x) in o {
                d.set_item(k, json_to_py(py, x)?)?;
            }
            d.into_any()
        }
    })
}

/// A study: the configurations of `specsim study` for these options, run on one engine; returns
/// the rows of `results.csv` as dicts (and writes the files when `out` is given). With `shard`
/// (I, N): runs that shard only and returns its shard file's JSON text (written to `out` too).
#[pyfunction]
#[pyo3(signature = (family, k, sigma, lambda_, bits, rates, t_target, t_draft, zipf, batch, vocab, rounds, seed, recovery, rule, tree, engine, cost_ratio, out, progress, allow_unnormalized, shard=None, design=false, nodes=None, cost_profile=None, batch_sizes=None, context=None, sigma_dist=None, lambda_dist=None, stop=None, k_max=None))]
#[allow(clippy::too_many_arguments)]
fn study<'py>(
    py: Python<'py>,
    family: &str,
    k: Option<Vec<usize>>,
    sigma: Option<Vec<f64>>,
    lambda_: Option<Vec<f64>>,
    bits: Option<Vec<u32>>,
    rates: Option<Vec<f64>>,
    t_target: Option<Vec<f64>>,
    t_draft: Option<Vec<f64>>,
    zipf: Option<Vec<f64>>,
    batch: Option<PathBuf>,
    vocab: Option<usize>,
    rounds: Option<u64>,
    seed: Option<u64>,
    recovery: &str,
    rule: Option<Vec<String>>,
    tree: Option<Vec<String>>,
    engine: &str,
    cost_ratio: Option<Vec<f64>>,
    out: Option<PathBuf>,
    progress: Bound<'py, PyAny>,
    allow_unnormalized: bool,
    shard: Option<(u64, u64)>,
    design: bool,
    nodes: Option<Vec<usize>>,
    cost_profile: Option<PathBuf>,
    batch_sizes: Option<Vec<u64>>,
    context: Option<f64>,
    sigma_dist: Option<Vec<String>>,
    lambda_dist: Option<Vec<String>>,
    stop: Option<Vec<String>>,
    k_max: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    // `progress`: a callable `(done, total, label)` (the package's tqdm bar), or a flag for the
    // library's own progress on stderr (a bar on a terminal, a line every 10 s otherwise).
    let callback: Option<Py<PyAny>> = progress.is_callable().then(|| progress.clone().unbind());
    let shown = callback.is_none() && progress.is_truthy()?;
    let d = StudyOptions::default();
    let rules = match rule {
        Some(list) => Some(
            list.iter()
                .map(|r| parse::<Rule>(r))
                .collect::<PyResult<Vec<Rule>>>()?,
        ),
        None => None,
    };
    let opts = StudyOptions {
        family: parse::<FamilyKind>(family)?,
        k: k.map(check_k).transpose().map_err(err)?,
        sigma: sigma.unwrap_or(d.sigma),
        lambda: lambda_.unwrap_or(d.lambda),
        bits: bits.unwrap_or(d.bits),
        rates: rates.unwrap_or(d.rates),
        t_target: t_target.unwrap_or(d.t_target),
        t_draft: t_draft.unwrap_or(d.t_draft),
        zipf: zipf.unwrap_or(d.zipf),
        batch,
        vocab: vocab.or(d.vocab),
        rounds: rounds.or(d.rounds),
        seed: seed.or(d.seed),
        recovery: recovery_mode(recovery)?,
        rules,
        trees: tree.unwrap_or_default(),
        allow_unnormalized,
        design,
        nodes,
        sigma_dist: spreads("sigma_dist", sigma_dist)?,
        lambda_dist: spreads("lambda_dist", lambda_dist)?,
        stop: stop
            .unwrap_or_default()
            .iter()
            .map(|s| parse::<specsim::reference::adaptive::Policy>(s))
            .collect::<PyResult<_>>()?,
        k_max,
    };
    let costs = costs_of(
        cost_ratio.unwrap_or_else(|| vec![0.05, 0.2]),
        cost_profile,
        batch_sizes.unwrap_or_default(),
        context,
    )?;
    let mut plan = py.detach(|| opts.plan()).map_err(err)?;
    plan.set_stop_costs(&costs);
    let choice = engine_choice(engine)?;
    if let Some((index, count)) = shard {
        use specsim::study::shard as sh;
        if count == 0 || index >= count || count > sh::MAX_SHARDS {
            return Err(err(specsim::Error::Config(format!(
                "shard: ({index}, {count}) is not (I, N) with 0 <= I < N <= {}",
                sh::MAX_SHARDS
            ))));
        }
        let total = sh::shard_rounds(&plan, index, count);
        let text = py
            .detach(|| -> specsim::Result<String> {
                with_engine(choice, |engine| {
                    let mut bar = specsim::progress::Progress::new("study shard", total, !shown);
                    let mut done = 0u64;
                    let mut last: Option<std::time::Instant> = None;
                    let file =
                        sh::run_shard(&opts, &costs, (index, count), engine, &mut |label, n| {
                            bar.set_message(label);
                            bar.inc(n);
                            done += n;
                            // The callable, at most every 0.1 s (as an unsharded study's).
                            let now = std::time::Instant::now();
                            let due = last.is_none_or(|t| {
                                now.duration_since(t) >= std::time::Duration::from_millis(100)
                            });
                            if let Some(cb) = &callback
                                && (due || done == total)
                            {
                                last = Some(now);
                                Python::attach(|py| {
                                    if let Err(e) = cb.call1(py, (done, total, label)) {
                                        e.print(py);
                                    }
                                });
                            }
                        })?;
                    bar.finish();
                    let bytes = sh::to_bytes(&file)?;
                    if let Some(out) = &out {
                        sh::write_shard(&sh::shard_path(out, index, count), &file)?;
                    }
                    Ok(String::from_utf8_lossy(&bytes).into_owned())
                })
            })
            .map_err(err)?;
        return Ok(pyo3::types::PyString::new(py, &text).into_any());
    }
    let total = plan.rounds();
    let results = py
        .detach(|| -> specsim::Result<_> {
            with_engine(choice, |engine| {
                let mut bar = specsim::progress::Progress::new("study", total, !shown);
                let (mut done, mut label, mut last) = (0u64, String::new(), None);
                let mut tell = |done: u64, label: &str, force: bool| {
                    let now = std::time::Instant::now();
                    let due = last.is_none_or(|t: std::time::Instant| {
                        now.duration_since(t) >= std::time::Duration::from_millis(100)
                    });
                    if let Some(cb) = &callback
                        && (due || force)
                    {
                        last = Some(now);
                        // A failing callback must not stop the study; Python prints it.
                        Python::attach(|py| {
                            if let Err(e) = cb.call1(py, (done, total, label)) {
                                e.print(py);
                            }
                        });
                    }
                };
                let results = run_plan(plan, engine, &mut |p| match p {
                    Progress::Config(l) => {
                        bar.set_message(l);
                        label = l.to_string();
                        tell(done, &label, true);
                    }
                    Progress::Rounds(n) => {
                        bar.inc(n);
                        done += n;
                        tell(done, &label, false);
                    }
                })?;
                tell(done, &label, true);
                bar.finish();
                if let Some(dir) = &out {
                    report::write_files(dir, &results, &costs)?;
                }
                Ok(results)
            })
        })
        .map_err(err)?;
    Ok(rows_to_py(py, &results, &costs)?.into_any())
}

/// `sigma_dist=` / `lambda_dist=`: the laws, parsed as the command line's.
fn spreads(name: &str, laws: Option<Vec<String>>) -> PyResult<Vec<specsim::workload::Spread>> {
    laws.unwrap_or_default()
        .iter()
        .map(|s| {
            s.parse()
                .map_err(|e: specsim::Error| err(specsim::Error::Config(format!("{name}: {e}"))))
        })
        .collect()
}

/// A stopping policy's exact values on one round (SPEC §11), as JSON.
#[pyfunction]
#[pyo3(signature = (draft, target, policy, cost_ratio))]
fn adaptive_exact(
    draft: Vec<Vec<f64>>,
    target: Vec<Vec<f64>>,
    policy: &str,
    cost_ratio: f64,
) -> PyResult<String> {
    use specsim::reference::adaptive;
    let policy: adaptive::Policy = parse(policy)?;
    let r = adaptive::adaptive_exact(&draft, &target, policy, cost_ratio).map_err(err)?;
    serde_json::to_string(&r).map_err(|e| err(specsim::Error::Config(e.to_string())))
}

/// The Bellman bound on one round under Leviathan's cost ratio (SPEC §11), as JSON.
#[pyfunction]
#[pyo3(signature = (draft, target, cost_ratio))]
fn bellman_bound(draft: Vec<Vec<f64>>, target: Vec<Vec<f64>>, cost_ratio: f64) -> PyResult<String> {
    let r =
        specsim::reference::adaptive::bellman_bound(&draft, &target, cost_ratio).map_err(err)?;
    // JSON has no infinity: a threshold that is never reached is null.
    let mut v = serde_json::to_value(&r).map_err(|e| err(specsim::Error::Config(e.to_string())))?;
    v["thresholds"] = serde_json::json!(
        r.thresholds
            .iter()
            .map(|t| t.is_finite().then_some(*t))
            .collect::<Vec<_>>()
    );
    Ok(v.to_string())
}

/// A study's cost settings from Python's arguments, checked as the command line's.
fn costs_of(
    ratios: Vec<f64>,
    profile: Option<PathBuf>,
    batches: Vec<u64>,
    context: Option<f64>,
) -> PyResult<specsim::cost::Costs> {
    use specsim::cost::{Cost, Costs, Profile};
    let profile = match profile {
        Some(p) => Some(Cost::Profile {
            profile: Box::new(Profile::open(&p).map_err(err)?),
            context,
        }),
        None if context.is_some() => {
            return Err(err(specsim::Error::Config(
                "context reads a latency profile: give cost_profile=".into(),
            )));
        }
        None => None,
    };
    let costs = Costs {
        ratios,
        profile,
        batches,
    };
    costs.check().map_err(err)?;
    Ok(costs)
}

/// `specsim cost --format json`: a study's rows (its directory or results.json) under a latency
/// profile at batch sizes, as JSON text.
#[pyfunction]
#[pyo3(signature = (profile, batches, from_study, context=None, out=None))]
fn cost_best(
    py: Python<'_>,
    profile: PathBuf,
    batches: Vec<u64>,
    from_study: PathBuf,
    context: Option<f64>,
    out: Option<PathBuf>,
) -> PyResult<String> {
    use specsim::study::report::cost::{cost_doc, study_rows, write_cost_files};
    let costs = costs_of(Vec::new(), Some(profile), batches, context)?;
    py.detach(|| -> specsim::Result<String> {
        let cost = costs.profile.as_ref().expect("given");
        let rows = study_rows(&from_study)?;
        if let Some(dir) = &out {
            write_cost_files(dir, &rows, cost, &costs.batches)?;
        }
        serde_json::to_string(&cost_doc(&rows, cost, &costs.batches))
            .map_err(|e| specsim::Error::Config(format!("cost: {e}")))
    })
    .map_err(err)
}

/// The rows of `results.csv` as dicts.
fn rows_to_py<'py>(
    py: Python<'py>,
    results: &report::Results,
    costs: &specsim::cost::Costs,
) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for row in report::rows(results, costs) {
        let d = PyDict::new(py);
        for (key, value) in &row {
            d.set_item(key, json_to_py(py, value)?)?;
        }
        list.append(d)?;
    }
    Ok(list)
}

/// Merges shard files' JSON texts (`names` for messages) into the study's rows (and its files
/// when `out` is given), as `specsim merge`.
#[pyfunction]
#[pyo3(signature = (texts, names, out))]
fn merge<'py>(
    py: Python<'py>,
    texts: Vec<String>,
    names: Vec<String>,
    out: Option<PathBuf>,
) -> PyResult<Bound<'py, PyList>> {
    use specsim::study::shard as sh;
    let (results, costs) = py
        .detach(|| -> specsim::Result<_> {
            let mut shards = Vec::new();
            for (text, name) in texts.iter().zip(&names) {
                shards.push((name.clone(), sh::from_bytes(text.as_bytes(), name)?));
            }
            let (results, costs) = sh::merge(&shards)?;
            if let Some(dir) = &out {
                report::write_files(dir, &results, &costs)?;
            }
            Ok((results, costs))
        })
        .map_err(err)?;
    rows_to_py(py, &results, &costs)
}

/// One round under a compatibility profile (SPEC §14): the round as JSON text (the round file's
/// keys, plus `final_coins` or `exp_noise`; a tree rule's round with `parents`), the output JSON
/// of `specsim round --compat P --rule R`.
#[pyfunction]
#[pyo3(signature = (text, profile, rule = "token"))]
fn compat_round(py: Python<'_>, text: String, profile: &str, rule: &str) -> PyResult<String> {
    let profile: specsim::compat::Profile = parse(profile)?;
    let rule: Rule = parse(rule)?;
    py.detach(|| specsim::compat::json::decide_json_rule(&text, profile, rule))
        .map_err(err)
}

/// A tree batch under a compatibility profile and tree rule: int64 `parents` `[n]` or `[N, n]`,
/// int64 tokens and float32 coins `[N, n]`, float32 target rows `[N, n, V]`, optional
/// `final_coins` `[N]` (C order), on `engine` (`cpu`: the reference; `gpu` or `auto`: the tree
/// kernel with the profile's step where there is a GPU, the same answers); returns (tokens
/// `[N, D + 1]` int32 padded with -1, accepted_nodes `[N, D]`, num_accepted `[N]`), D the
/// batch's depth.
#[pyfunction]
#[pyo3(signature = (parents, target, tokens, coins, final_coins, profile, rule, engine = "cpu"))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn compat_tree_batch<'py>(
    py: Python<'py>,
    parents: PyReadonlyArrayDyn<'py, i64>,
    target: PyReadonlyArrayDyn<'py, f32>,
    tokens: PyReadonlyArrayDyn<'py, i64>,
    coins: PyReadonlyArrayDyn<'py, f32>,
    final_coins: Option<PyReadonlyArrayDyn<'py, f32>>,
    profile: &str,
    rule: &str,
    engine: &str,
) -> PyResult<(
    Bound<'py, PyArrayDyn<i32>>,
    Bound<'py, PyArrayDyn<i32>>,
    Bound<'py, PyArrayDyn<i32>>,
)> {
    let profile: specsim::compat::Profile = parse(profile)?;
    let rule: Rule = parse(rule)?;
    let choice = engine_choice(engine)?;
    let (ps, ts, ks, cs) = (
        parents.shape(),
        target.shape(),
        tokens.shape(),
        coins.shape(),
    );
    if ts.len() != 3 || ks.len() != 2 || cs.len() != 2 {
        return Err(config(
            "compat tree batch: target [N, n, V], tokens and coins [N, n], parents [n] or [N, n]",
        ));
    }
    let (n, nn, v) = (ts[0], ts[1], ts[2]);
    if ks != [n, nn] || cs != [n, nn] || !(ps == [nn] || ps == [n, nn]) || nn == 0 || v == 0 {
        return Err(config(format!(
            "compat tree batch: shapes {ps:?}, {ts:?}, {ks:?}, {cs:?} are not parents [n] or [N, n], target [N, n, V], tokens and coins [N, n] with n, V >= 1"
        )));
    }
    if final_coins.as_ref().is_some_and(|f| f.shape() != [n]) {
        return Err(config(format!("final_coins: expected shape [{n}]")));
    }
    let fc = final_coins
        .as_ref()
        .map(|f| contiguous("final_coins", f))
        .transpose()?;
    let batch = specsim::compat::TreeBatchRef {
        n,
        nodes: nn,
        v,
        parents: contiguous("parents", &parents)?,
        tokens: contiguous("tokens", &tokens)?,
        coins: contiguous("coins", &coins)?,
        target: contiguous("target", &target)?,
        final_coins: fc,
    };
    let outs = py
        .detach(|| with_engine(choice, |e| e.compat_tree(&batch, profile, rule)))
        .map_err(err)?;
    // The batch's depth (of its one tree when it has no rounds).
    let depth = match outs.first() {
        Some(o) => o.nodes.len(),
        None if ps.len() == 1 => {
            specsim::topology::Tree::from_parents(contiguous("parents", &parents)?)
                .map_err(err)?
                .depth()
        }
        None => 0,
    };
    let toks: Vec<i32> = outs.iter().flat_map(|o| o.tokens.iter().copied()).collect();
    let nodes: Vec<i32> = outs.iter().flat_map(|o| o.nodes.iter().copied()).collect();
    let acc: Vec<i32> = outs.iter().map(|o| o.num_accepted as i32).collect();
    let shape = |a: Vec<i32>, s: &[usize]| i32_array(py, a, s);
    Ok((
        shape(toks, &[n, depth + 1])?,
        shape(nodes, &[n, depth])?,
        shape(acc, &[n])?,
    ))
}

/// A numpy array's values, refused unless C-contiguous.
fn contiguous<'a, T: numpy::Element>(
    name: &str,
    a: &'a PyReadonlyArrayDyn<'_, T>,
) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| config(format!("{name}: not a C-contiguous array")))
}

/// An int32 numpy array of the given shape.
fn i32_array<'py>(
    py: Python<'py>,
    a: Vec<i32>,
    s: &[usize],
) -> PyResult<Bound<'py, PyArrayDyn<i32>>> {
    a.into_pyarray(py)
        .reshape(s.to_vec())
        .map_err(|e| config(e.to_string()))
}

/// A batch under a compatibility profile: float32 rows `[N, K, V]`, `[N, K + 1, V]`, int64
/// tokens and float32 coins `[N, K]`, optional `final_coins` `[N]` or `exp_noise` `[N, V]` (C
/// order), on `engine` (`cpu`: the reference; `gpu` or `auto`: the GPU kernel where there is
/// one, the same answers); returns (tokens `[N, K + 1]` int32 padded with -1, num_accepted
/// `[N]`, num_passed `[N]`). Refuses the batch at its first refused round, naming the round.
#[pyfunction]
#[pyo3(signature = (draft, target, tokens, coins, final_coins, exp_noise, profile, engine = "cpu"))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn compat_batch<'py>(
    py: Python<'py>,
    draft: PyReadonlyArrayDyn<'py, f32>,
    target: PyReadonlyArrayDyn<'py, f32>,
    tokens: PyReadonlyArrayDyn<'py, i64>,
    coins: PyReadonlyArrayDyn<'py, f32>,
    final_coins: Option<PyReadonlyArrayDyn<'py, f32>>,
    exp_noise: Option<PyReadonlyArrayDyn<'py, f32>>,
    profile: &str,
    engine: &str,
) -> PyResult<(
    Bound<'py, PyArrayDyn<i32>>,
    Bound<'py, PyArrayDyn<i32>>,
    Bound<'py, PyArrayDyn<i32>>,
)> {
    let profile: specsim::compat::Profile = parse(profile)?;
    let choice = engine_choice(engine)?;
    let (ds, ts, ks, cs) = (draft.shape(), target.shape(), tokens.shape(), coins.shape());
    if ds.len() != 3 || ts.len() != 3 || ks.len() != 2 || cs.len() != 2 {
        return Err(config(
            "compat batch: draft [N, K, V], target [N, K + 1, V], tokens and coins [N, K]",
        ));
    }
    let (n, k, v) = (ds[0], ds[1], ds[2]);
    if ts != [n, k + 1, v] || ks != [n, k] || cs != [n, k] || k == 0 || v == 0 {
        return Err(config(format!(
            "compat batch: shapes {ds:?}, {ts:?}, {ks:?}, {cs:?} are not [N, K, V], [N, K + 1, V], [N, K], [N, K] with K, V >= 1"
        )));
    }
    if final_coins.as_ref().is_some_and(|f| f.shape() != [n]) {
        return Err(config(format!("final_coins: expected shape [{n}]")));
    }
    if exp_noise.as_ref().is_some_and(|e| e.shape() != [n, v]) {
        return Err(config(format!("exp_noise: expected shape [{n}, {v}]")));
    }
    let d = contiguous("draft", &draft)?;
    let t = contiguous("target", &target)?;
    let c = contiguous("coins", &coins)?;
    let tok = contiguous("tokens", &tokens)?;
    let fc = final_coins
        .as_ref()
        .map(|f| contiguous("final_coins", f))
        .transpose()?;
    let en = exp_noise
        .as_ref()
        .map(|e| contiguous("exp_noise", e))
        .transpose()?;
    let batch = specsim::compat::BatchRef {
        n,
        k,
        v,
        draft: d,
        target: t,
        tokens: tok,
        coins: c,
        final_coins: fc,
        exp_noise: en,
    };
    let outs = py
        .detach(|| with_engine(choice, |e| e.compat_chain(&batch, profile)))
        .map_err(err)?;
    let toks: Vec<i32> = outs.iter().flat_map(|o| o.tokens.iter().copied()).collect();
    let acc: Vec<i32> = outs.iter().map(|o| o.num_accepted as i32).collect();
    let passed: Vec<i32> = outs.iter().map(|o| o.num_passed as i32).collect();
    let shape = |a: Vec<i32>, s: &[usize]| i32_array(py, a, s);
    Ok((
        shape(toks, &[n, k + 1])?,
        shape(acc, &[n])?,
        shape(passed, &[n])?,
    ))
}

/// A profile's golden cases (`specsim conform`) as JSON text.
#[pyfunction]
fn conform_cases(py: Python<'_>, profile: &str, rule: &str) -> PyResult<String> {
    let profile: specsim::compat::Profile = parse(profile)?;
    let rule: Rule = parse(rule)?;
    profile.check_rule(rule).map_err(err)?;
    if rule == Rule::Token {
        let cases = py
            .detach(|| specsim::compat::golden::cases(profile))
            .map_err(err)?;
        return serde_json::to_string(&cases).map_err(|e| config(e.to_string()));
    }
    let cases = py
        .detach(|| specsim::compat::golden_tree::tree_cases(profile, rule))
        .map_err(err)?;
    serde_json::to_string(&cases).map_err(|e| config(e.to_string()))
}

#[pymodule]
fn _specsim(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("NativeError", m.py().get_type::<NativeError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // The rules, from the library's registry (`specsim::rule`).
    m.add("CHAIN_RULES", Rule::CHAIN.map(Rule::name).to_vec())?;
    m.add("TREE_RULES", Rule::TREE.map(Rule::name).to_vec())?;
    let lossy: Vec<&str> = Rule::ALL
        .into_iter()
        .filter(|r| r.is_lossy())
        .map(Rule::name)
        .collect();
    m.add("LOSSY_RULES", lossy)?;
    let default_tree: Vec<&str> = Rule::default_tree().into_iter().map(Rule::name).collect();
    m.add("DEFAULT_TREE_RULES", default_tree)?;
    m.add_function(wrap_pyfunction!(tree, m)?)?;
    m.add_function(wrap_pyfunction!(optimal, m)?)?;
    m.add_function(wrap_pyfunction!(optimal_study, m)?)?;
    m.add_function(wrap_pyfunction!(positional_acceptance, m)?)?;
    m.add_function(wrap_pyfunction!(tree_expectation, m)?)?;
    m.add_function(wrap_pyfunction!(sequoia_tree, m)?)?;
    m.add_function(wrap_pyfunction!(eagle2_tree, m)?)?;
    m.add_function(wrap_pyfunction!(family_tree, m)?)?;
    m.add_function(wrap_pyfunction!(distortion, m)?)?;
    m.add_function(wrap_pyfunction!(distortion_study, m)?)?;
    m.add_function(wrap_pyfunction!(summary, m)?)?;
    m.add_function(wrap_pyfunction!(tree_from, m)?)?;
    m.add_function(wrap_pyfunction!(speculative_decode, m)?)?;
    m.add_function(wrap_pyfunction!(verify_batch, m)?)?;
    m.add_function(wrap_pyfunction!(study, m)?)?;
    m.add_function(wrap_pyfunction!(merge, m)?)?;
    m.add_function(wrap_pyfunction!(cost_best, m)?)?;
    m.add_function(wrap_pyfunction!(adaptive_exact, m)?)?;
    m.add_function(wrap_pyfunction!(compat_round, m)?)?;
    m.add_function(wrap_pyfunction!(compat_batch, m)?)?;
    m.add_function(wrap_pyfunction!(compat_tree_batch, m)?)?;
    m.add_function(wrap_pyfunction!(conform_cases, m)?)?;
    m.add_function(wrap_pyfunction!(bellman_bound, m)?)?;
    m.add_function(wrap_pyfunction!(_last_addresses, m)?)?;
    m.add_function(wrap_pyfunction!(_parse_k, m)?)?;
    Ok(())
}
