//! The report's figures, each as SVG and PNG (plotters).
//!
//! Text in PNGs is drawn with DejaVu Sans, embedded in the binary (`data/fonts/`, Bitstream Vera
//! licence), so plots need no fonts or fontconfig on the machine. Every file is drawn under
//! `NAME.tmp.EXT` and renamed when complete.

use std::path::{Path, PathBuf};

use ferrosea_plot::{DrawResult, Figure, PlotError, FONT};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::EvaluateError;

/// One curve of a figure.
#[derive(Clone, Debug)]
pub struct Curve {
    /// Legend text.
    pub label: String,
    /// (x, y) points in drawing order.
    pub points: Vec<(f64, f64)>,
}

/// One category's values in a distribution figure.
#[derive(Clone, Debug)]
pub struct Group {
    /// Category name.
    pub name: String,
    /// The values (AUCs of its targets).
    pub values: Vec<f64>,
}

/// A point of a comparison scatter plot.
#[derive(Clone, Debug)]
pub struct Pair {
    /// Reference value (x).
    pub reference: f64,
    /// Our value (y).
    pub ours: f64,
    /// Category (colour).
    pub category: String,
}

const SIZE: (u32, u32) = (900, 700);

fn colour(i: usize) -> RGBColor {
    const PALETTE: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    PALETTE[i % PALETTE.len()]
}

/// Draws one figure twice, `<stem>.svg` and `<stem>.png`.
fn both(stem: &Path, size: (u32, u32), fig: &impl Figure) -> Result<Vec<PathBuf>, EvaluateError> {
    ferrosea_plot::svg_and_png(stem, size, fig).map_err(|e| match e {
        PlotError::Draw(p, e) => EvaluateError::Plot(p, e),
        PlotError::Rename(p, e) => EvaluateError::Io(p, e),
    })
}

/// At most `max` points of a curve, evenly spread along it, first and last kept: a curve
/// over 455,000 thresholds draws the same at 2,000 points.
pub fn thin(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max || max < 2 {
        return points.to_vec();
    }
    let step = (points.len() - 1) as f64 / (max - 1) as f64;
    (0..max)
        .map(|i| points[((i as f64 * step).round() as usize).min(points.len() - 1)])
        .collect()
}

/// Curves on the unit square: ROC (with the chance diagonal) or precision-recall.
pub fn curves(
    stem: &Path,
    title: &str,
    (x_label, y_label): (&str, &str),
    curves: &[Curve],
    diagonal: bool,
) -> Result<Vec<PathBuf>, EvaluateError> {
    both(
        stem,
        SIZE,
        &Curves(title, (x_label, y_label), curves, diagonal),
    )
}

struct Curves<'a>(&'a str, (&'a str, &'a str), &'a [Curve], bool);

impl Figure for Curves<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let Curves(title, (x_label, y_label), curves, diagonal) = *self;
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 24))
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 18))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        if diagonal {
            chart.draw_series(LineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                ShapeStyle::from(&BLACK.mix(0.4)).stroke_width(1),
            ))?;
        }
        for (i, c) in curves.iter().enumerate() {
            let style = ShapeStyle::from(&colour(i)).stroke_width(2);
            chart
                .draw_series(LineSeries::new(c.points.iter().copied(), style))?
                .label(c.label.clone())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
        }
        chart
            .configure_series_labels()
            .position(if diagonal {
                SeriesLabelPosition::LowerRight
            } else {
                SeriesLabelPosition::UpperRight
            })
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()?;
        Ok(())
    }
}

/// Per-category distributions of two metrics side by side: each target a dot, with the
/// category's median and quartiles as a box.
pub fn distributions(
    stem: &Path,
    title: &str,
    panels: [(&str, &[Group]); 2],
) -> Result<Vec<PathBuf>, EvaluateError> {
    both(stem, (1200, 650), &Distributions(title, panels))
}

struct Distributions<'a>(&'a str, [(&'a str, &'a [Group]); 2]);

fn quantile(sorted: &[f64], q: f64) -> f64 {
    // Linear interpolation between closest ranks (numpy's default).
    let h = (sorted.len() - 1) as f64 * q;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

impl Figure for Distributions<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let Distributions(title, panels) = self;
        root.fill(&WHITE)?;
        let root = root.titled(title, (FONT, 24))?;
        let halves = root.split_evenly((1, 2));
        for (area, (metric, groups)) in halves.iter().zip(panels.iter()) {
            let values: Vec<f64> = groups
                .iter()
                .flat_map(|g| g.values.iter().copied())
                .collect();
            let lo = values.iter().copied().fold(1.0f64, f64::min);
            let lo = ((lo * 10.0).floor() / 10.0).clamp(0.0, 0.9);
            let n = groups.len().max(1);
            let mut chart = ChartBuilder::on(area)
                .margin(20)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(0.0..n as f64, lo..1.0)?;
            let names: Vec<String> = groups
                .iter()
                .map(|g| format!("{} ({})", g.name, g.values.len()))
                .collect();
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(n * 2 + 1)
                .x_label_formatter(&|x| {
                    let i = x.floor() as usize;
                    if (x - i as f64 - 0.5).abs() < 1e-6 && i < names.len() {
                        names[i].clone()
                    } else {
                        String::new()
                    }
                })
                .y_desc(*metric)
                .label_style((FONT, 15))
                .axis_desc_style((FONT, 18))
                .draw()?;
            for (i, g) in groups.iter().enumerate() {
                if g.values.is_empty() {
                    continue;
                }
                let c = colour(i);
                let mut sorted = g.values.clone();
                sorted.sort_by(f64::total_cmp);
                let (q1, med, q3) = (
                    quantile(&sorted, 0.25),
                    quantile(&sorted, 0.5),
                    quantile(&sorted, 0.75),
                );
                let x = i as f64;
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x + 0.2, q1), (x + 0.8, q3)],
                    c.mix(0.15).filled(),
                )))?;
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x + 0.2, q1), (x + 0.8, q3)],
                    ShapeStyle::from(&c).stroke_width(1),
                )))?;
                chart.draw_series(LineSeries::new(
                    [(x + 0.2, med), (x + 0.8, med)],
                    ShapeStyle::from(&c).stroke_width(3),
                ))?;
                // Dots spread deterministically across the box's width.
                chart.draw_series(g.values.iter().enumerate().map(|(k, &v)| {
                    let jitter = ((k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) as f64
                        / (1u64 << 24) as f64;
                    Circle::new((x + 0.25 + 0.5 * jitter, v), 2, c.mix(0.7).filled())
                }))?;
            }
        }
        Ok(())
    }
}

/// Ours against a reference, one dot per target coloured by category, with the diagonal.
pub fn scatter(
    stem: &Path,
    title: &str,
    (x_label, y_label): (&str, &str),
    pairs: &[Pair],
) -> Result<Vec<PathBuf>, EvaluateError> {
    both(stem, (800, 800), &Scatter(title, (x_label, y_label), pairs))
}

struct Scatter<'a>(&'a str, (&'a str, &'a str), &'a [Pair]);

impl Figure for Scatter<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let Scatter(title, (x_label, y_label), pairs) = *self;
        root.fill(&WHITE)?;
        let lo = pairs
            .iter()
            .flat_map(|p| [p.reference, p.ours])
            .fold(1.0f64, f64::min);
        let lo = ((lo * 10.0).floor() / 10.0).clamp(0.0, 0.9);
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 24))
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(60)
            .build_cartesian_2d(lo..1.0, lo..1.0)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 18))
            .draw()?;
        chart.draw_series(LineSeries::new(
            [(lo, lo), (1.0, 1.0)],
            ShapeStyle::from(&BLACK.mix(0.4)).stroke_width(1),
        ))?;
        let mut categories: Vec<&str> = pairs.iter().map(|p| p.category.as_str()).collect();
        categories.sort();
        categories.dedup();
        for (i, cat) in categories.iter().enumerate() {
            let c = colour(i);
            let n = pairs.iter().filter(|p| p.category == *cat).count();
            chart
                .draw_series(
                    pairs
                        .iter()
                        .filter(|p| p.category == *cat)
                        .map(|p| Circle::new((p.reference, p.ours), 3, c.mix(0.7).filled())),
                )?
                .label(format!("{cat} ({n})"))
                .legend(move |(x, y)| Circle::new((x + 10, y), 4, c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_the_ends() {
        let pts: Vec<(f64, f64)> = (0..10_001).map(|i| (i as f64, 0.0)).collect();
        let t = thin(&pts, 101);
        assert_eq!(t.len(), 101);
        assert_eq!((t[0].0, t[100].0, t[50].0), (0.0, 10_000.0, 5_000.0));
        assert_eq!(thin(&pts[..5], 101).len(), 5);
    }

    #[test]
    fn draws_svg_and_png() {
        let dir = tempfile::tempdir().unwrap();
        let c = Curve {
            label: "K562|CTCF (AUC 0.912)".into(),
            points: vec![(0.0, 0.0), (0.1, 0.7), (1.0, 1.0)],
        };
        let files = curves(&dir.path().join("roc"), "ROC", ("FPR", "TPR"), &[c], true).unwrap();
        let svg = std::fs::read_to_string(&files[0]).unwrap();
        assert!(svg.contains("K562|CTCF (AUC 0.912)") && svg.contains("FPR"));
        let png = std::fs::read(&files[1]).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let groups = [Group {
            name: "TF".into(),
            values: vec![0.7, 0.8, 0.95],
        }];
        let files = distributions(
            &dir.path().join("dist"),
            "AUCs",
            [("ROC AUC", &groups), ("PR AUC", &groups)],
        )
        .unwrap();
        assert!(std::fs::read_to_string(&files[0])
            .unwrap()
            .contains("TF (3)"));
        let pairs = [Pair {
            reference: 0.9,
            ours: 0.92,
            category: "DNase".into(),
        }];
        scatter(&dir.path().join("s"), "vs", ("paper", "ours"), &pairs).unwrap();
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["dist.png", "dist.svg", "roc.png", "roc.svg", "s.png", "s.svg"]
        );
    }
}
