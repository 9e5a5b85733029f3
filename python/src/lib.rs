//! `specsim._specsim`: the Rust side of the Python package. The public API, its docstrings and
//! the normalisation of array arguments (dtype, contiguity) are in `py/specsim/__init__.py`;
//! this module reads the arrays it is given in place (no copy) and releases the GIL while the
//! engines work.

use std::path::PathBuf;
use std::sync::Mutex;

use numpy::{IntoPyArray, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use specsim::batch::{ChainView, Floats, Ints, Rounds, Validation, check_batch_shapes};
use specsim::engine::{Engine, EngineChoice, select};
use specsim::gpu::GpuContext;
use specsim::round::RoundOptions;
use specsim::rule::{Recovery, RecoveryMode, Rule};
use specsim::study::options::{FamilyKind, StudyOptions, check_cost_ratios, check_k};
use specsim::study::report;
use specsim::study::run::{Progress, run_configs};

create_exception!(
    _specsim,
    SpecsimError,
    PyValueError,
    "A refused input or a failure, with the command line's message."
);

fn err(e: specsim::Error) -> PyErr {
    SpecsimError::new_err(e.to_string())
}

fn borrowed(name: &str, e: impl std::fmt::Display) -> PyErr {
    config(format!("{name}: the array is being written elsewhere: {e}"))
}

fn config(msg: impl Into<String>) -> PyErr {
    SpecsimError::new_err(msg.into())
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

/// One round, decided by the f64 reference; returns the command line's `round` JSON as a dict.
#[pyfunction]
#[pyo3(signature = (draft_probs, target_probs, draft_tokens, random_coins, rule, allow_unnormalized, plain_decode))]
#[allow(clippy::too_many_arguments)]
fn speculative_decode<'py>(
    py: Python<'py>,
    draft_probs: Vec<Vec<f64>>,
    target_probs: Vec<Vec<f64>>,
    draft_tokens: Vec<i64>,
    random_coins: Vec<f64>,
    rule: &str,
    allow_unnormalized: bool,
    plain_decode: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let rule: Rule = parse(rule)?;
    let opts = RoundOptions {
        allow_unnormalized,
        allow_empty_draft: plain_decode,
    };
    let r = specsim::speculative_decode_rule(
        &draft_probs,
        &target_probs,
        &draft_tokens,
        &random_coins,
        rule,
        &opts,
    )
    .map_err(err)?;
    let d = PyDict::new(py);
    d.set_item("accepted_tokens", r.accepted_tokens)?;
    d.set_item("num_generated", r.num_generated)?;
    d.set_item("acceptance_rate", r.acceptance_rate)?;
    Ok(d)
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
        Err(config(format!(
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
        let contiguous = || config(format!("{name}: the array is not C-contiguous and aligned"));
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
        Err(config(format!(
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
        let contiguous = || config(format!("{name}: the array is not C-contiguous and aligned"));
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

/// A batch on one engine; returns (tokens [N, K+1] i32, num_accepted i32, num_generated i32).
#[pyfunction]
#[pyo3(signature = (draft_probs, target_probs, draft_tokens, random_coins, rule, engine, recovery, seed, validate, allow_unnormalized, plain_decode))]
#[allow(clippy::too_many_arguments)]
fn verify_batch<'py>(
    py: Python<'py>,
    draft_probs: &Bound<'py, PyAny>,
    target_probs: &Bound<'py, PyAny>,
    draft_tokens: &Bound<'py, PyAny>,
    random_coins: &Bound<'py, PyAny>,
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
    let (ds, ts, toks, cs) = (d.shape(), t.shape(), tok.shape(), c.shape());
    let (n, k, v) = check_batch_shapes(
        ("draft_probs", &ds),
        ("target_probs", &ts),
        ("draft_tokens", &toks),
        ("random_coins", &cs),
    )
    .map_err(err)?;
    let view = ChainView {
        n,
        k,
        v,
        draft: d.floats("draft_probs")?,
        target: t.floats("target_probs")?,
        tokens: tok.ints("draft_tokens")?,
        coins: c.floats("random_coins")?,
    };
    if let Ok(mut a) = LAST_ADDRESSES.lock() {
        *a = vec![address(&view.draft), address(&view.target)];
    }
    // Tokens and coins are copied (N·K values): the engines index rows with the tokens, which
    // another Python thread could change while the GIL is released. The probability arrays are
    // read in place; they must not be written during the call (as numpy's own ufuncs assume).
    let own_tokens: Vec<i64> = (0..n * k).map(|i| view.tokens.get(i)).collect();
    let (coins32, coins64): (Vec<f32>, Vec<f64>) = match view.coins {
        Floats::F32(_) => (
            (0..n * k).map(|i| view.coins.get_f32(i)).collect(),
            Vec::new(),
        ),
        Floats::F64(_) => (
            Vec::new(),
            (0..n * k).map(|i| view.coins.get_f64(i)).collect(),
        ),
    };
    let view = ChainView {
        tokens: Ints::I64(bytemuck::cast_slice(&own_tokens)),
        coins: match view.coins {
            Floats::F32(_) => Floats::F32(bytemuck::cast_slice(&coins32)),
            Floats::F64(_) => Floats::F64(bytemuck::cast_slice(&coins64)),
        },
        ..view
    };
    let res = py
        .detach(|| -> specsim::Result<_> {
            let rounds = Rounds::chain(&view);
            rounds.validate(&opts, mode, rule)?;
            with_engine(choice, |engine| engine.run(&rounds, rule, rec))
        })
        .map_err(err)?;
    let out = PyDict::new(py);
    let tokens = res.tokens.clone().into_pyarray(py).reshape([n, k + 1])?;
    let acc: Vec<i32> = res.num_accepted.iter().map(|&a| a as i32).collect();
    let generated: Vec<i32> = res.num_accepted.iter().map(|&a| a as i32 + 1).collect();
    out.set_item("tokens", tokens)?;
    out.set_item("num_accepted", acc.into_pyarray(py))?;
    out.set_item("num_generated", generated.into_pyarray(py))?;
    Ok(out)
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
/// the rows of `results.csv` as dicts (and writes the files when `out` is given).
#[pyfunction]
#[pyo3(signature = (family, k, sigma, lambda_, bits, rates, t_target, t_draft, zipf, batch, vocab, rounds, seed, recovery, rule, engine, cost_ratio, out, progress, allow_unnormalized))]
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
    rule: Vec<String>,
    engine: &str,
    cost_ratio: Option<Vec<f64>>,
    out: Option<PathBuf>,
    progress: bool,
    allow_unnormalized: bool,
) -> PyResult<Bound<'py, PyList>> {
    let d = StudyOptions::default();
    let rules = rule
        .iter()
        .map(|r| parse::<Rule>(r))
        .collect::<PyResult<Vec<Rule>>>()?;
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
        vocab,
        rounds,
        seed,
        recovery: recovery_mode(recovery)?,
        rules,
        allow_unnormalized,
    };
    let cost_ratio = cost_ratio.unwrap_or_else(|| vec![0.05, 0.2]);
    check_cost_ratios(&cost_ratio).map_err(err)?;
    let cfgs = opts
        .configs(&(1..=8).collect::<Vec<_>>(), 2048, 10_000, 7)
        .map_err(err)?;
    let choice = engine_choice(engine)?;
    let total: u64 = cfgs.iter().map(|c| c.rounds).sum();
    let results = py
        .detach(|| -> specsim::Result<_> {
            with_engine(choice, |engine| {
                let bar = if progress {
                    indicatif::ProgressBar::new(total)
                } else {
                    indicatif::ProgressBar::hidden()
                };
                let results = run_configs(cfgs, engine, &mut |p| match p {
                    Progress::Config(label) => bar.set_message(label.to_string()),
                    Progress::Rounds(n) => bar.inc(n),
                })?;
                bar.finish_and_clear();
                if let Some(dir) = &out {
                    report::write_files(dir, &results, &cost_ratio)?;
                }
                Ok(results)
            })
        })
        .map_err(err)?;
    let list = PyList::empty(py);
    for row in report::rows(&results, &cost_ratio) {
        let d = PyDict::new(py);
        for (key, value) in &row {
            d.set_item(key, json_to_py(py, value)?)?;
        }
        list.append(d)?;
    }
    Ok(list)
}

#[pymodule]
fn _specsim(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("SpecsimError", m.py().get_type::<SpecsimError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // The chain rules, from the library's registry (`specsim::rule`).
    m.add("CHAIN_RULES", Rule::CHAIN.map(Rule::name).to_vec())?;
    m.add_function(wrap_pyfunction!(speculative_decode, m)?)?;
    m.add_function(wrap_pyfunction!(verify_batch, m)?)?;
    m.add_function(wrap_pyfunction!(study, m)?)?;
    m.add_function(wrap_pyfunction!(_last_addresses, m)?)?;
    m.add_function(wrap_pyfunction!(_parse_k, m)?)?;
    Ok(())
}
