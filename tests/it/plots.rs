//! Every plot kind a study writes, rendered and read back as SVG: the legend's panel lies
//! outside the data area, simulated curves carry their 99% band polygons, the speedup plot names
//! its best K, and a tree plot's category names stay apart (turned a quarter turn) for any number
//! of configurations.

use crate::common::specsim;

struct Svg {
    text: String,
}

/// `[x0, y0, x1, y1]` of a rect.
type Rect = [f64; 4];

impl Svg {
    fn open(path: &std::path::Path) -> Svg {
        Svg {
            text: std::fs::read_to_string(path).unwrap(),
        }
    }

    fn doc(&self) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(&self.text).unwrap()
    }

    /// The rects drawn with this stroke.
    fn rects(&self, stroke: &str) -> Vec<Rect> {
        let doc = self.doc();
        doc.descendants()
            .filter(|n| n.has_tag_name("rect") && n.attribute("stroke") == Some(stroke))
            .map(|n| {
                let f = |a: &str| n.attribute(a).unwrap().parse::<f64>().unwrap();
                [f("x"), f("y"), f("x") + f("width"), f("y") + f("height")]
            })
            .collect()
    }

    fn count(&self, tag: &str) -> usize {
        self.doc()
            .descendants()
            .filter(|n| n.has_tag_name(tag))
            .count()
    }

    fn texts(&self) -> Vec<(String, Option<String>, f64)> {
        let doc = self.doc();
        doc.descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(|n| {
                let x = n.attribute("x").and_then(|x| x.parse().ok()).unwrap_or(0.0);
                let t = n.text().unwrap_or("").trim().to_string();
                (t, n.attribute("transform").map(str::to_string), x)
            })
            .collect()
    }
}

fn overlap(a: Rect, b: Rect) -> bool {
    a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

/// The legend (stroke #555555) and the data area (stroke #222222) exist once each and do not
/// overlap; every data marker lies inside the data area.
fn check_layout(svg: &Svg, what: &str) {
    let legend = svg.rects("#555555");
    let data = svg.rects("#222222");
    assert_eq!(
        (legend.len(), data.len()),
        (1, 1),
        "{what}: {legend:?} {data:?}"
    );
    assert!(
        !overlap(legend[0], data[0]),
        "{what}: legend {legend:?} over data {data:?}"
    );
    let doc = svg.doc();
    for c in doc.descendants().filter(|n| n.has_tag_name("circle")) {
        let (x, y) = (
            c.attribute("cx").unwrap().parse::<f64>().unwrap(),
            c.attribute("cy").unwrap().parse::<f64>().unwrap(),
        );
        let in_legend = x >= legend[0][0] && x <= legend[0][2];
        let d = data[0];
        assert!(
            in_legend || (x >= d[0] - 1.0 && x <= d[2] + 1.0 && y >= d[1] - 1.0 && y <= d[3] + 1.0),
            "{what}: a marker at ({x}, {y}) outside the data area {d:?}"
        );
    }
}

#[test]
fn every_plot_kind_keeps_its_legend_off_the_data_and_shows_bands() {
    let dir = tempfile::tempdir().unwrap();
    let chain = dir.path().join("chain");
    let o = specsim(&[
        "study",
        "--engine",
        "cpu",
        "--quiet",
        "--k",
        "1..5",
        "--sigma",
        "0.5,1",
        "--vocab",
        "200",
        "--rounds",
        "2000",
        "--rule",
        "token,block",
        "--cost-ratio",
        "0.05,0.2",
        "--out",
        chain.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    for name in ["mean_generated.svg", "per_position.svg", "speedup.svg"] {
        let svg = Svg::open(&chain.join(name));
        check_layout(&svg, name);
        // A band per simulated curve: 4 results (2 sigmas x 2 rules) in mean generated, 2
        // configurations in per position, 4 x 2 cost ratios in speedup.
        let want = match name {
            "mean_generated.svg" => 4,
            "per_position.svg" => 2,
            _ => 8,
        };
        assert!(
            svg.count("polygon") >= want,
            "{name}: {} bands",
            svg.count("polygon")
        );
        let texts = svg.texts();
        assert!(
            texts
                .iter()
                .any(|(t, _, _)| t.contains("logit-noise") && t.contains("V = 200")),
            "{name}: the title names the workload"
        );
    }
    let speedup = Svg::open(&chain.join("speedup.svg"));
    let best: Vec<_> = speedup
        .texts()
        .into_iter()
        .filter(|(t, _, _)| t.starts_with("best K = "))
        .collect();
    assert_eq!(best.len(), 8, "one best K per curve: {best:?}");

    // Trees over two workloads: eight categories with long names, turned and apart.
    let tree = dir.path().join("tree");
    let o = specsim(&[
        "study",
        "--engine",
        "cpu",
        "--quiet",
        "--tree",
        "kary:2,2",
        "--tree",
        "chain:3",
        "--tree",
        "eagle:[[0],[1],[0,0]]",
        "--sigma",
        "0.5,1",
        "--vocab",
        "64",
        "--rounds",
        "300",
        "--out",
        tree.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let svg = Svg::open(&tree.join("mean_generated.svg"));
    check_layout(&svg, "tree mean_generated.svg");
    let names: Vec<_> = svg
        .texts()
        .into_iter()
        .filter(|(t, _, _)| t.contains(" | logit-noise"))
        .collect();
    assert!(names.len() >= 6, "{names:?}");
    assert!(
        names
            .iter()
            .all(|(_, tr, _)| tr.as_deref().is_some_and(|t| t.starts_with("rotate(90")))
    );
    let mut xs: Vec<f64> = names.iter().map(|n| n.2).collect();
    xs.sort_by(f64::total_cmp);
    assert!(
        xs.windows(2).all(|w| w[1] - w[0] >= 14.0),
        "category names too close: {xs:?}"
    );
}
