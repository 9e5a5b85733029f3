// Nothing to build. Present so that Cargo.toml's [build-dependencies] take part in feature
// resolution: they make this crate's proc macros the ones `pip install ./python` builds, so the
// Python package reuses this crate's compiled dependencies (python/.cargo/config.toml).
fn main() {
    println!("cargo::rerun-if-changed=build.rs");
}
