//! Sequence logos (SVG and PNG): at each position the letters stacked by probability, the
//! stack as high as the position's information content in bits. Letters are drawn as filled
//! outlines (block letters, `ferrosea_plot::glyph`), so logos need no font; the axis text in
//! PNGs uses DejaVu Sans, embedded (data/fonts, `ferrosea_plot::register_font`).

use std::path::{Path, PathBuf};

use ferrosea_plot::{draw_letter, register_font, DrawResult, Figure, PlotError, FONT};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::InterpretError;

/// The axes of a logo of `w` positions (1 to w) on `root`, with its title, the y range,
/// the y axis' name and the room for its labels.
fn logo_chart<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    title: &str,
    w: usize,
    (y, y_desc, y_area): (std::ops::Range<f64>, &str, u32),
) -> Result<
    ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    Box<dyn std::error::Error>,
>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(y_area)
        .build_cartesian_2d(0.5..w as f64 + 0.5, y)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(w.min(30))
        .x_label_formatter(&|x| format!("{}", x.round() as i64))
        .x_desc("position")
        .y_desc(y_desc)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 15))
        .draw()?;
    Ok(chart)
}

struct Logo<'a> {
    title: &'a str,
    pfm: &'a [[f64; 4]],
    background: [f64; 4],
}

impl Figure for Logo<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let w = self.pfm.len();
        let ymax = (0..4)
            .map(|k| (1.0 / self.background[k]).log2())
            .fold(2.0f64, f64::max);
        let mut chart = logo_chart(root, self.title, w, (0.0..ymax, "bits", 44))?;
        for (p, col) in self.pfm.iter().enumerate() {
            let ic: f64 = (0..4)
                .filter(|&k| col[k] > 0.0)
                .map(|k| col[k] * (col[k] / self.background[k]).log2())
                .sum::<f64>()
                .max(0.0);
            let mut order = [0usize, 1, 2, 3];
            order.sort_by(|&a, &b| col[a].total_cmp(&col[b])); // smallest at the bottom
            let mut y0 = 0.0;
            for &k in &order {
                let h = col[k] * ic;
                if h <= 1e-3 {
                    continue;
                }
                draw_letter(&mut chart, k, (p as f64 + 0.55, p as f64 + 1.45), y0, h)?;
                y0 += h;
            }
        }
        Ok(())
    }
}

impl<'a> Logo<'a> {
    /// The logo and its size in pixels (wider with more columns); makes the font ready.
    fn new(title: &'a str, pfm: &'a [[f64; 4]], background: [f64; 4]) -> (Logo<'a>, (u32, u32)) {
        register_font();
        let size = ((60 + 34 * pfm.len()) as u32, 300u32);
        (
            Logo {
                title,
                pfm,
                background,
            },
            size,
        )
    }
}

/// The logo as an SVG document in a string (for pages that embed it).
pub fn svg_string(
    title: &str,
    pfm: &[[f64; 4]],
    background: [f64; 4],
) -> Result<String, InterpretError> {
    let (logo, size) = Logo::new(title, pfm, background);
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, size).into_drawing_area();
        logo.draw(&root)
            .map_err(|e| InterpretError::Draw(format!("drawing the logo of {title}: {e}")))?;
        root.present()
            .map_err(|e| InterpretError::Draw(format!("drawing the logo of {title}: {e}")))?;
    }
    Ok(s)
}

/// A contribution-weight matrix's logo: at each position the four letters as high as their
/// mean contributions, stacked above the axis (positive ones, the largest on top) and below
/// it (negative ones).
struct Cwm<'a> {
    title: &'a str,
    cwm: &'a [[f64; 4]],
}

impl Figure for Cwm<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let w = self.cwm.len();
        let up = |c: &[f64; 4]| c.iter().filter(|v| **v > 0.0).sum::<f64>();
        let down = |c: &[f64; 4]| c.iter().filter(|v| **v < 0.0).sum::<f64>();
        let hi = self.cwm.iter().map(up).fold(0.0, f64::max);
        let lo = self.cwm.iter().map(down).fold(0.0, f64::min);
        let pad = ((hi - lo) * 0.05).max(1e-9);
        let mut chart = logo_chart(
            root,
            self.title,
            w,
            (lo - pad..hi + pad, "contribution", 60),
        )?;
        for (p, col) in self.cwm.iter().enumerate() {
            let mut order = [0usize, 1, 2, 3];
            order.sort_by(|&a, &b| col[a].abs().total_cmp(&col[b].abs()));
            let (mut above, mut below) = (0.0, 0.0);
            let x = (p as f64 + 0.55, p as f64 + 1.45);
            for &k in &order {
                let h = col[k];
                if h.abs() <= 1e-9 * (hi - lo).max(1e-12) {
                    continue;
                }
                if h > 0.0 {
                    draw_letter(&mut chart, k, x, above, h)?;
                    above += h;
                } else {
                    draw_letter(&mut chart, k, x, below, h)?;
                    below += h;
                }
            }
        }
        Ok(())
    }
}

/// The CWM logo as an SVG document in a string (for pages that embed it).
pub fn cwm_svg_string(title: &str, cwm: &[[f64; 4]]) -> Result<String, InterpretError> {
    register_font();
    let size = ((60 + 34 * cwm.len()) as u32, 300u32);
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, size).into_drawing_area();
        Cwm { title, cwm }
            .draw(&root)
            .map_err(|e| InterpretError::Draw(format!("drawing the logo of {title}: {e}")))?;
        root.present()
            .map_err(|e| InterpretError::Draw(format!("drawing the logo of {title}: {e}")))?;
    }
    Ok(s)
}

/// Draws `<stem>.svg` and `<stem>.png` of a CWM logo (each under a temporary name until
/// complete).
pub fn draw_cwm(
    stem: &Path,
    title: &str,
    cwm: &[[f64; 4]],
) -> Result<Vec<PathBuf>, InterpretError> {
    register_font();
    let size = ((60 + 34 * cwm.len()) as u32, 300u32);
    ferrosea_plot::svg_and_png(stem, size, &Cwm { title, cwm }).map_err(|e| match e {
        PlotError::Draw(p, e) => {
            InterpretError::Draw(format!("{}: drawing the logo: {e}", p.display()))
        }
        PlotError::Rename(p, e) => InterpretError::Io(p, e),
    })
}

/// A contribution logo: each position's base as high as its contribution.
struct Contributions<'a> {
    title: &'a str,
    letters: &'a [Option<usize>],
    heights: &'a [f64],
}

impl Figure for Contributions<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let root = root.titled(self.title, (FONT, 16))?;
        ferrosea_plot::importance_logo(&root, self.letters, self.heights, "contribution")
    }
}

/// Draws `<stem>.svg` and `<stem>.png` of a contribution logo (attributions): the base at
/// each position (`None`: unknown, a grey bar) as high as `heights` (below the axis when
/// negative). Each under a temporary name until complete.
pub fn draw_contributions(
    stem: &Path,
    title: &str,
    letters: &[Option<usize>],
    heights: &[f64],
) -> Result<Vec<PathBuf>, InterpretError> {
    register_font();
    let fig = Contributions {
        title,
        letters,
        heights,
    };
    let size = ((120 + 4 * heights.len()).clamp(600, 4200) as u32, 260u32);
    ferrosea_plot::svg_and_png(stem, size, &fig).map_err(|e| match e {
        PlotError::Draw(p, e) => {
            InterpretError::Draw(format!("{}: drawing the logo: {e}", p.display()))
        }
        PlotError::Rename(p, e) => InterpretError::Io(p, e),
    })
}

/// Draws `<stem>.svg` and `<stem>.png` (each under a temporary name until complete).
pub fn draw(
    stem: &Path,
    title: &str,
    pfm: &[[f64; 4]],
    background: [f64; 4],
) -> Result<Vec<PathBuf>, InterpretError> {
    let (logo, size) = Logo::new(title, pfm, background);
    ferrosea_plot::svg_and_png(stem, size, &logo).map_err(|e| match e {
        PlotError::Draw(p, e) => {
            InterpretError::Draw(format!("{}: drawing the logo: {e}", p.display()))
        }
        PlotError::Rename(p, e) => InterpretError::Io(p, e),
    })
}
