//! Figures of saturation mutagenesis (SVG and PNG): for one sequence and one target, a 4 x L
//! heat map of the effect of each substitution (blue: the mutant lowers the logit, red: it
//! raises it, white at the reference base) above an importance logo, where each position
//! shows its reference base as high as the negative mean effect of mutating it (above the
//! axis when mutations lower the prediction, below when they raise it).
//!
//! Letters are the filled outlines of the interpret stage's sequence logos
//! (`ferrosea_plot::draw_letter`), so figures need no font for them; the axis text uses DejaVu
//! Sans, embedded (data/fonts), as the other stages' plots.

use std::path::{Path, PathBuf};

use ferrosea_plot::{DrawResult, Figure, PlotError, FONT};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::AnalyzeError;

/// The column of a base (4 for anything but A, C, G, T).
fn code(b: u8) -> usize {
    match b.to_ascii_uppercase() {
        b'A' => 0,
        b'C' => 1,
        b'G' => 2,
        b'T' => 3,
        _ => 4,
    }
}

/// The importance of each position: minus the mean effect of its substitutions (the three
/// other bases; all four where the reference is not A, C, G or T). `effect` is `[L, 4]`.
///
/// # Examples
///
/// ```
/// use ferrosea_analyze::plot::importance;
/// // Mutating the A lowers the logit by 3, 0 and 3 on average -2; the C is neutral.
/// let effect = [0.0, -3.0, 0.0, -3.0, 0.0, 0.0, 0.0, 0.0];
/// assert_eq!(importance(b"AC", &effect), vec![2.0, 0.0]);
/// ```
pub fn importance(seq: &[u8], effect: &[f32]) -> Vec<f64> {
    seq.iter()
        .enumerate()
        .map(|(i, &b)| {
            let r = code(b);
            let e = &effect[4 * i..4 * i + 4];
            let (sum, n) = (0..4)
                .filter(|&k| k != r)
                .fold((0.0, 0.0), |(s, n), k| (s + e[k] as f64, n + 1.0));
            -sum / n
        })
        .collect()
}

/// The colour of an effect `v` on a scale of `max` (blue - white - red).
fn heat(v: f32, max: f64) -> RGBColor {
    let x = (v as f64 / max).clamp(-1.0, 1.0);
    let mix = |a: u8, b: u8, t: f64| (a as f64 + (b as f64 - a as f64) * t).round() as u8;
    let (white, red, blue) = ((255, 255, 255), (178, 24, 43), (33, 102, 172));
    let to = if x >= 0.0 { red } else { blue };
    let t = x.abs();
    RGBColor(
        mix(white.0, to.0, t),
        mix(white.1, to.1, t),
        mix(white.2, to.2, t),
    )
}

struct Mutagenesis<'a> {
    title: &'a str,
    seq: &'a [u8],
    effect: &'a [f32],
}

impl Figure for Mutagenesis<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let l = self.seq.len();
        let root = root.titled(self.title, (FONT, 18))?;
        let (top, bottom) = root.split_vertically(root.dim_in_pixel().1 / 2);
        let max = self
            .effect
            .iter()
            .fold(1e-6f64, |m, v| m.max(v.abs() as f64));
        let mut heatmap = ChartBuilder::on(&top)
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..l as f64, -0.5..3.5)?;
        heatmap
            .configure_mesh()
            .disable_mesh()
            .x_labels(10)
            .x_label_formatter(&|x| format!("{}", x.round() as i64))
            .y_labels(4)
            .y_label_formatter(&|y: &f64| {
                // Row k of A, C, G, T is centred at y = 3 - k (A on top).
                let k = 3 - y.round() as i64;
                usize::try_from(k)
                    .ok()
                    .and_then(|k| ["A", "C", "G", "T"].get(k))
                    .unwrap_or(&"")
                    .to_string()
            })
            .y_desc(format!("effect (|max| {max:.3})"))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 12))
            .draw()?;
        heatmap.draw_series((0..l).flat_map(|i| {
            (0..4).map(move |k| {
                let y = 3.0 - k as f64; // A on top
                Rectangle::new(
                    [(i as f64, y - 0.5), (i as f64 + 1.0, y + 0.5)],
                    heat(self.effect[4 * i + k], max).filled(),
                )
            })
        }))?;
        let imp = importance(self.seq, self.effect);
        let letters: Vec<Option<usize>> = self
            .seq
            .iter()
            .map(|&b| Some(code(b)).filter(|&k| k < 4))
            .collect();
        ferrosea_plot::importance_logo(&bottom, &letters, &imp, "-mean effect")?;
        Ok(())
    }
}

/// Draws `<stem>.svg` and `<stem>.png` for one sequence and one target: `seq` has `L`
/// bases, `effect` is `[L, 4]` (logit differences). Each file is written under a temporary
/// name and renamed when complete; returns the paths.
pub fn draw(
    stem: &Path,
    title: &str,
    seq: &[u8],
    effect: &[f32],
) -> Result<Vec<PathBuf>, AnalyzeError> {
    let fig = Mutagenesis { title, seq, effect };
    let size = ((120 + 2 * seq.len()).clamp(600, 4200) as u32, 460u32);
    ferrosea_plot::svg_and_png(stem, size, &fig).map_err(|e| match e {
        PlotError::Draw(p, e) => {
            AnalyzeError::Usage(format!("{}: drawing the figure: {e}", p.display()))
        }
        PlotError::Rename(p, e) => AnalyzeError::Io(p, e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heat_is_white_at_zero_and_saturates() {
        assert_eq!(heat(0.0, 1.0), RGBColor(255, 255, 255));
        assert_eq!(heat(5.0, 1.0), RGBColor(178, 24, 43));
        assert_eq!(heat(-1.0, 1.0), RGBColor(33, 102, 172));
    }

    #[test]
    fn importance_of_an_unknown_base_averages_four() {
        let effect = [1.0, 2.0, 3.0, 6.0];
        assert_eq!(importance(b"N", &effect), vec![-3.0]);
    }
}
