//! Trees as EAGLE builds them: `--tree eagle:LIST` and the converters against a line-by-line port
//! of EAGLE's `generate_tree_buffers` (tests/data/make_eagle_golden.py) on the published
//! `mc_sim_7b_63` lists and random ones: the parent array, the attention mask, the depths and the
//! `retrieve_indices` rows in EAGLE's order; and every form reading back.

use serde_json::Value;
use specsim::topology::Tree;
use specsim::topology::shape::TreeShape;

use crate::common::data;

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

#[test]
fn eagle_lists_match_eagles_own_buffers() {
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(data("eagle_tree_buffers.json")).unwrap())
            .unwrap();
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let spec = format!("eagle:{}", case["choices"]);
        let t = spec.parse::<TreeShape>().unwrap().tree;
        let parents: Vec<i64> = t.parents().iter().map(|&p| p as i64).collect();
        assert_eq!(parents, ints(&case["parents"]), "{name}: parents");
        let mask: Vec<Vec<i64>> = case["attention_mask"]
            .as_array()
            .unwrap()
            .iter()
            .map(ints)
            .collect();
        let ours: Vec<Vec<i64>> = t
            .attention_mask()
            .iter()
            .map(|r| r.iter().map(|&x| x as i64).collect())
            .collect();
        assert_eq!(ours, mask, "{name}: attention mask");
        let depths: Vec<i64> = (0..t.len()).map(|u| t.depth_of(u) as i64).collect();
        assert_eq!(depths, ints(&case["position_ids"]), "{name}: depths");
        let rows: Vec<Vec<i64>> = case["retrieve_indices"]
            .as_array()
            .unwrap()
            .iter()
            .map(ints)
            .collect();
        assert_eq!(t.retrieve_indices(), rows, "{name}: retrieve_indices");
        // A tree built from EAGLE's list is in EAGLE's order: its choice list reads back to it.
        assert!(t.in_eagle_order(), "{name}");
        assert_eq!(Tree::from_choices(&t.choices()).unwrap(), t, "{name}");
    }
    // The published list: 63 drafted nodes, widths 1, 10, 28, 23, 2.
    let m = "eagle:mc_sim_7b_63".parse::<TreeShape>().unwrap().tree;
    assert_eq!(m.widths(), [1, 10, 28, 23, 2]);
    let medusa = format!("eagle:{}", doc["cases"][0]["choices"]);
    assert_eq!(m, medusa.parse::<TreeShape>().unwrap().tree);
}
