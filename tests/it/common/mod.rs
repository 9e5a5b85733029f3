//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard, OnceLock};

use specsim::gpu::{GpuConfig, GpuContext};

static GPU: OnceLock<Option<Mutex<GpuContext>>> = OnceLock::new();

/// Exclusive use of the shared GPU context. A test may change its chunking knobs (`config`);
/// they are the defaults when the guard is taken and again when it is dropped, so no test sees
/// another's settings.
pub struct Gpu(MutexGuard<'static, GpuContext>);

impl Deref for Gpu {
    type Target = GpuContext;
    fn deref(&self) -> &GpuContext {
        &self.0
    }
}

impl DerefMut for Gpu {
    fn deref_mut(&mut self) -> &mut GpuContext {
        &mut self.0
    }
}

impl Drop for Gpu {
    fn drop(&mut self) {
        self.0.config = GpuConfig::default();
    }
}

/// The one GPU context shared by every GPU test of a test binary, or `None` (with a loud
/// message) when no adapter exists. With `SPECSIM_REQUIRE_GPU` set, a missing adapter fails.
pub fn gpu() -> Option<Gpu> {
    let slot = GPU.get_or_init(|| match GpuContext::new() {
        Ok(g) => Some(Mutex::new(g)),
        Err(e) => {
            if std::env::var_os("SPECSIM_REQUIRE_GPU").is_some_and(|v| !v.is_empty() && v != "0") {
                panic!("SPECSIM_REQUIRE_GPU is set but no GPU is usable: {e}");
            }
            eprintln!(
                "\n!!!!!!!!!!\n!!! SKIPPING GPU TESTS: no GPU adapter ({e}).\n!!! Install Mesa's lavapipe (mesa-vulkan-drivers libvulkan1) or set SPECSIM_REQUIRE_GPU=1 to make this a failure.\n!!!!!!!!!!\n"
            );
            None
        }
    });
    slot.as_ref().map(|m| {
        let mut g = m.lock().unwrap_or_else(|p| p.into_inner());
        g.config = GpuConfig::default();
        Gpu(g)
    })
}

/// Hands an engine to a callback (or nothing, when the engine is unavailable).
pub type EngineSource = fn(&mut dyn FnMut(&mut dyn specsim::engine::Engine));

/// Runs `f` once on an engine handed out by `with` (not at all when `with` has none, e.g. no
/// GPU): the body of every per-engine test.
pub fn with_engine(with: EngineSource, f: impl FnOnce(&mut dyn specsim::engine::Engine)) {
    let mut f = Some(f);
    with(&mut |e| (f.take().expect("called once"))(e));
}

/// Expands a test-module macro `$tests!(name, with)` once per engine (cubecl's `testgen_*!`):
/// the CPU engine on all threads, on one thread, and the shared GPU when one exists.
#[macro_export]
macro_rules! for_each_engine {
    ($tests:ident) => {
        $tests!(cpu, |f| f(&mut specsim::cpu::CpuEngine::default()));
        $tests!(cpu_one_thread, |f| f(&mut specsim::cpu::CpuEngine {
            threads: Some(1),
            ..Default::default()
        }));
        $tests!(gpu, |f| {
            if let Some(mut g) = common::gpu() {
                f(&mut *g);
            }
        });
    };
}

pub const BIN: &str = env!("CARGO_BIN_EXE_specsim");

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the real binary with no standard input.
pub fn specsim(args: &[&str]) -> Out {
    specsim_stdin(args, None)
}

/// Runs the real binary, writing `stdin` (if any) to its standard input.
pub fn specsim_stdin(args: &[&str], stdin: Option<&str>) -> Out {
    specsim_with(args, stdin, &[])
}

/// Runs the real binary with extra environment variables (and no standard input).
pub fn specsim_env(args: &[&str], env: &[(&str, &str)]) -> Out {
    specsim_with(args, None, env)
}

fn specsim_with(args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Out {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn specsim");
    {
        let mut pipe = child.stdin.take().expect("stdin");
        if let Some(s) = stdin {
            // A process that refuses its input may exit before reading all of it: a closed pipe
            // is its answer, which the caller checks; any other write error is the test's.
            match pipe.write_all(s.as_bytes()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("write stdin: {e}"),
                _ => {}
            }
        }
    }
    let o = child.wait_with_output().expect("wait for specsim");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// A refusal: non-zero exit, nothing on stdout, no panic, and every needle in the message.
pub fn assert_refused(o: &Out, what: &str, needles: &[&str]) {
    assert_ne!(o.code, 0, "{what}: exit code");
    assert!(o.stdout.is_empty(), "{what}: stdout {:?}", o.stdout);
    assert!(!o.stderr.contains("panicked"), "{what}: {}", o.stderr);
    for n in needles {
        assert!(
            o.stderr.contains(n),
            "{what}: stderr {:?} lacks {n:?}",
            o.stderr
        );
    }
}

/// A JSON list of numbers, or of rows of numbers, as f32 values (flattened).
pub fn f32s(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|x| match x.as_array() {
            Some(row) => row.iter().map(|y| y.as_f64().unwrap() as f32).collect(),
            None => vec![x.as_f64().unwrap() as f32],
        })
        .collect()
}

pub fn data(path: &str) -> String {
    format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// The tree rules' golden cases (tests/data/make_tree_golden.py).
pub fn tree_golden() -> serde_json::Value {
    // The lossless rules' cases (make_tree_golden.py) and the lossy rules' (SPEC §13,
    // make_lossy_tree_golden.py), in one document of the same layout.
    let mut doc = golden("golden_tree.json.gz");
    let lossy = golden("golden_lossy_tree.json.gz");
    for key in ["cases", "expectations"] {
        let more = lossy[key].as_array().expect("a list").clone();
        doc[key].as_array_mut().expect("a list").extend(more);
    }
    doc
}

/// A gzipped JSON file of `tests/data/`.
pub fn golden(name: &str) -> serde_json::Value {
    use std::io::Read;
    let gz = std::fs::read(data(name)).expect("golden data");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .expect("gzip");
    serde_json::from_str(&text).expect("json")
}

/// An `.npz` archive read as numpy reads it (the tests' own reader: members by name).
pub struct Npz(zip::ZipArchive<std::fs::File>);

impl Npz {
    /// Opens an archive.
    pub fn open(path: impl AsRef<std::path::Path>) -> Npz {
        Npz(zip::ZipArchive::new(std::fs::File::open(path).expect("open npz")).expect("a zip"))
    }

    /// Member `name` (without `.npy`): its shape and its int32 values.
    pub fn i32s(&mut self, name: &str) -> (Vec<u64>, Vec<i32>) {
        use std::io::Read;
        let mut bytes = Vec::new();
        self.0
            .by_name(&format!("{name}.npy"))
            .expect("member")
            .read_to_end(&mut bytes)
            .expect("read member");
        let npy = npyz::NpyFile::new(&bytes[..]).expect("npy");
        let shape = npy.shape().to_vec();
        (shape, npy.into_vec::<i32>().expect("int32"))
    }
}
