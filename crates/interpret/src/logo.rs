//! Sequence logos (SVG and PNG): at each position the letters stacked by probability, the
//! stack as high as the position's information content in bits. Letters are drawn as filled
//! outlines (block letters), so logos need no font; the axis text in PNGs uses DejaVu Sans,
//! embedded (data/fonts).

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::InterpretError;

const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../../data/fonts/DejaVuSans.ttf");
        plotters::style::register_font(FONT, FontStyle::Normal, bytes)
            .unwrap_or_else(|_| panic!("the embedded font is a valid TrueType file"));
    });
}

/// Letter colours: A green, C blue, G orange, T red.
const COLOURS: [RGBColor; 4] = [
    RGBColor(16, 150, 72),
    RGBColor(37, 92, 153),
    RGBColor(247, 179, 43),
    RGBColor(214, 40, 57),
];

/// Outlines of a letter in the unit square, (x, y) with y up; filled in order, a `true` flag
/// marking a hole (drawn in the background colour over the letter's own box).
fn glyph(letter: usize) -> Vec<(bool, Vec<(f64, f64)>)> {
    let arc = |r_out: f64, r_in: f64, from: f64, to: f64| -> Vec<(f64, f64)> {
        let steps = 12;
        let at = |r: f64, a: f64| (0.5 + r * a.cos(), 0.5 + r * 1.0 * a.sin());
        let mut pts: Vec<(f64, f64)> = (0..=steps)
            .map(|i| at(r_out, from + (to - from) * i as f64 / steps as f64))
            .collect();
        pts.extend(
            (0..=steps)
                .rev()
                .map(|i| at(r_in, from + (to - from) * i as f64 / steps as f64)),
        );
        pts
    };
    let deg = std::f64::consts::PI / 180.0;
    match letter {
        0 => vec![
            (
                false,
                vec![
                    (0.0, 0.0),
                    (0.4, 1.0),
                    (0.6, 1.0),
                    (1.0, 0.0),
                    (0.78, 0.0),
                    (0.68, 0.28),
                    (0.32, 0.28),
                    (0.22, 0.0),
                ],
            ),
            (true, vec![(0.38, 0.44), (0.5, 0.78), (0.62, 0.44)]),
        ],
        1 => vec![(false, arc(0.5, 0.3, 45.0 * deg, 315.0 * deg))],
        2 => vec![
            (false, arc(0.5, 0.3, 45.0 * deg, 360.0 * deg)),
            (
                false,
                vec![(0.55, 0.4), (1.0, 0.4), (1.0, 0.55), (0.55, 0.55)],
            ),
        ],
        _ => vec![
            (
                false,
                vec![(0.0, 0.82), (1.0, 0.82), (1.0, 1.0), (0.0, 1.0)],
            ),
            (
                false,
                vec![(0.4, 0.0), (0.6, 0.0), (0.6, 0.82), (0.4, 0.82)],
            ),
        ],
    }
}

struct Logo<'a> {
    title: &'a str,
    pfm: &'a [[f64; 4]],
    background: [f64; 4],
}

impl Logo<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), Box<dyn std::error::Error>>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let w = self.pfm.len();
        let ymax = (0..4)
            .map(|k| (1.0 / self.background[k]).log2())
            .fold(2.0f64, f64::max);
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, (FONT, 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(44)
            .build_cartesian_2d(0.5..w as f64 + 0.5, 0.0..ymax)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(w.min(30))
            .x_label_formatter(&|x| format!("{}", x.round() as i64))
            .x_desc("position")
            .y_desc("bits")
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 15))
            .draw()?;
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
                let (x0, x1) = (p as f64 + 0.55, p as f64 + 1.45);
                let place = |(gx, gy): (f64, f64)| (x0 + gx * (x1 - x0), y0 + gy * h);
                for (hole, outline) in glyph(k) {
                    let pts: Vec<(f64, f64)> = outline.into_iter().map(place).collect();
                    let colour = if hole { WHITE } else { COLOURS[k] };
                    chart.draw_series(std::iter::once(Polygon::new(pts, colour.filled())))?;
                }
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
            .map_err(|e| InterpretError::Usage(format!("drawing the logo of {title}: {e}")))?;
        root.present()
            .map_err(|e| InterpretError::Usage(format!("drawing the logo of {title}: {e}")))?;
    }
    Ok(s)
}

/// Draws `<stem>.svg` and `<stem>.png` (each under a temporary name until complete).
pub fn draw(
    stem: &Path,
    title: &str,
    pfm: &[[f64; 4]],
    background: [f64; 4],
) -> Result<Vec<PathBuf>, InterpretError> {
    let (logo, size) = Logo::new(title, pfm, background);
    let path = |ext: &str, tmp: bool| {
        let mut s = stem.as_os_str().to_owned();
        s.push(if tmp {
            format!(".tmp.{ext}")
        } else {
            format!(".{ext}")
        });
        PathBuf::from(s)
    };
    let fail = |p: &Path, e: String| {
        let _ = std::fs::remove_file(p);
        InterpretError::Usage(format!("{}: drawing the logo: {e}", p.display()))
    };
    let (svg_tmp, png_tmp) = (path("svg", true), path("png", true));
    {
        let root = SVGBackend::new(&svg_tmp, size).into_drawing_area();
        logo.draw(&root)
            .map_err(|e| fail(&svg_tmp, e.to_string()))?;
        root.present().map_err(|e| fail(&svg_tmp, e.to_string()))?;
    }
    {
        let root = BitMapBackend::new(&png_tmp, size).into_drawing_area();
        logo.draw(&root)
            .map_err(|e| fail(&png_tmp, e.to_string()))?;
        root.present().map_err(|e| fail(&png_tmp, e.to_string()))?;
    }
    let mut out = Vec::new();
    for (tmp, ext) in [(svg_tmp, "svg"), (png_tmp, "png")] {
        let dst = path(ext, false);
        std::fs::rename(&tmp, &dst).map_err(|e| InterpretError::Io(dst.clone(), e))?;
        out.push(dst);
    }
    Ok(out)
}
