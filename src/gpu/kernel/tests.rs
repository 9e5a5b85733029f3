//! Naga checks of the kernel table against the WGSL: params offsets, bindings, the twin rule and
//! the registry's order.

use super::table::{CHAIN_BINDINGS, CHAIN_BINDINGS_SURVIVALS};
use super::*;
use crate::rule::Rule;

fn module(def: &KernelDef) -> naga::Module {
    let module = naga::front::wgsl::parse_str(def.source)
        .unwrap_or_else(|e| panic!("{}: {}", def.stem, e.emit_to_string(def.source)));
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::empty(),
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("{}: {}", def.stem, e.emit_to_string(def.source)));
    module
}

/// Every kernel's params struct has the Rust struct's members at the Rust struct's offsets,
/// and the same size.
#[test]
fn params_structs_match_the_wgsl_layout() {
    for def in &KERNELS {
        let m = module(def);
        let (name, size) = def.params;
        let (_, ty) = m
            .types
            .iter()
            .find(|(_, t)| t.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{}: no struct {name}", def.stem));
        let naga::TypeInner::Struct { members, span } = &ty.inner else {
            panic!("{}: {name} is not a struct", def.stem);
        };
        let wgsl: Vec<(&str, usize)> = members
            .iter()
            .map(|mb| (mb.name.as_deref().unwrap_or("?"), mb.offset as usize))
            .collect();
        assert_eq!(wgsl, (def.params_layout)(), "{}: {name}", def.stem);
        assert_eq!(*span as usize, size, "{}: size of {name}", def.stem);
    }
}

/// Every kernel declares exactly the bindings of its list, with the same access: binding 0
/// uniform, read-only storage where the list says `BufReadOnly`; and its entry point exists.
#[test]
fn bindings_match_the_wgsl() {
    for def in &KERNELS {
        let m = module(def);
        assert!(
            m.entry_points.iter().any(|e| e.name == def.entry),
            "{}: no entry point {}",
            def.stem,
            def.entry
        );
        let mut seen: Vec<(u32, Binding)> = m
            .global_variables
            .iter()
            .filter_map(|(_, g)| {
                let b = g.binding.as_ref()?;
                assert_eq!(b.group, 0, "{}: group", def.stem);
                let kind = match g.space {
                    naga::AddressSpace::Uniform => Binding::Uniform,
                    naga::AddressSpace::Storage { access } => {
                        if access.contains(naga::StorageAccess::STORE) {
                            Binding::Buffer
                        } else {
                            Binding::BufReadOnly
                        }
                    }
                    s => panic!("{}: binding {} in {s:?}", def.stem, b.binding),
                };
                Some((b.binding, kind))
            })
            .collect();
        seen.sort_by_key(|&(b, _)| b);
        let want: Vec<(u32, Binding)> = def
            .bindings
            .iter()
            .enumerate()
            .map(|(i, &b)| (i as u32, b))
            .collect();
        assert_eq!(seen, want, "{}", def.stem);
    }
}

/// The chain kernels are the registry's, in its order (with the per-position output of a rule
/// that studies measure at every K), and so are the tree rules' steps.
#[test]
fn the_registry_orders_the_kernels_and_the_tree_codes() {
    for (i, rule) in Rule::CHAIN.into_iter().enumerate() {
        assert_eq!(KernelId::chain(rule), Some(KernelId(i)));
        assert!(KERNELS[i].bindings.starts_with(&CHAIN_BINDINGS), "{rule}");
        // A rule studied at every K reads its survivals from its kernel's binding 7.
        if matches!(crate::study::per_k::per_k(rule), Ok(Some(_))) {
            assert_eq!(KERNELS[i].bindings, &CHAIN_BINDINGS_SURVIVALS, "{rule}");
        }
    }
    assert_eq!(KERNELS[KernelId::VERIFY_TREE.0].entry, "verify_tree");
    assert_eq!(KERNELS[KernelId::GENERATE.0].entry, "generate");
    assert_eq!(KERNELS[KernelId::RATES_ROUND.0].entry, "rates_round");
    // The tree kernel's dispatcher calls each tree rule's step in the registry's order, so
    // a rule's index in `Rule::TREE` is its code (`H_RULE`).
    let tree = KERNELS[KernelId::VERIFY_TREE.0].source;
    let dispatcher = &tree[tree.find("fn tree_step(").expect("the dispatcher")..];
    let mut last = 0;
    for rule in Rule::TREE {
        assert_eq!(KernelId::chain(rule), None);
        let stem = crate::rule::match_rule!(rule,
            chain R => unreachable!(),
            tree T => <T as crate::rule::TreeRule>::STEM,
        );
        let call = format!("return tree_step_{stem}(");
        let at = dispatcher
            .find(&call)
            .unwrap_or_else(|| panic!("no {call}"));
        assert!(at > last, "{rule}: out of the registry's order");
        last = at;
        assert!(
            tree.contains(&format!("fn tree_step_{stem}(")),
            "{rule}: no step"
        );
    }
}

/// Every top-level `shaders/X.wgsl` is a kernel of the table and has its CPU twin
/// `src/cpu/X.rs`; every file under `shaders/shared/` is included by some kernel.
#[test]
fn every_shader_is_a_kernel_with_a_cpu_twin() {
    let root = env!("CARGO_MANIFEST_DIR");
    for entry in std::fs::read_dir(format!("{root}/shaders")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            continue;
        }
        let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
        assert!(
            KERNELS.iter().any(|d| d.stem == stem),
            "shaders/{stem}.wgsl is in no kernel"
        );
        let twin = |p: &str| std::path::Path::new(&format!("{root}/src/cpu/{p}")).exists();
        assert!(
            twin(&format!("{stem}.rs")) || twin(&format!("{stem}/mod.rs")),
            "shaders/{stem}.wgsl has no CPU twin src/cpu/{stem}.rs"
        );
    }
    // Each tree rule's step: in the tree kernel, with its CPU twin src/cpu/tree/STEM.rs.
    let tree = KERNELS[KernelId::VERIFY_TREE.0].source;
    for entry in std::fs::read_dir(format!("{root}/shaders/tree")).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            tree.contains(&text),
            "shaders/tree/{stem}.wgsl is not in the tree kernel"
        );
        assert!(
            std::path::Path::new(&format!("{root}/src/cpu/tree/{stem}.rs")).exists(),
            "shaders/tree/{stem}.wgsl has no CPU twin src/cpu/tree/{stem}.rs"
        );
    }
    for entry in std::fs::read_dir(format!("{root}/shaders/shared")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            KERNELS.iter().any(|d| d.source.contains(&text)),
            "{} is included by no kernel",
            path.display()
        );
    }
}
