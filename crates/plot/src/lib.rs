//! Plot support shared by the ferrosea stages (evaluate's figures, interpret's sequence logos,
//! analyze's mutagenesis figures): the embedded font, the base colours, the letters of
//! sequence logos, and a figure's SVG and PNG files.
//!
//! Text in PNGs is drawn with DejaVu Sans, embedded in the binary (`data/fonts/`, Bitstream
//! Vera licence), so plots need no fonts or fontconfig on the machine: call [`register_font`]
//! before drawing and name the font [`FONT`]. Logo letters are filled outlines (block
//! letters, [`glyph`]), drawn by [`draw_letter`], so logos need no font at all. A [`Figure`]
//! is written as SVG and PNG by [`svg_and_png`], each file under a temporary name until it is
//! complete.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

/// The font family of all text in the plots (DejaVu Sans once [`register_font`] has run).
pub const FONT: &str = "sans-serif";

/// Registers the embedded DejaVu Sans as [`FONT`] (once per process; later calls do nothing).
pub fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../../data/fonts/DejaVuSans.ttf");
        plotters::style::register_font(FONT, FontStyle::Normal, bytes)
            .unwrap_or_else(|_| panic!("the embedded font is a valid TrueType file"));
    });
}

/// Base colours, indexed A, C, G, T: A green, C blue, G orange, T red (the usual logo colours).
pub const COLOURS: [RGBColor; 4] = [
    RGBColor(16, 150, 72),
    RGBColor(37, 92, 153),
    RGBColor(247, 179, 43),
    RGBColor(214, 40, 57),
];

/// Outlines of a letter (0 A, 1 C, 2 G, 3 and above T) in the unit square, (x, y) with y up;
/// filled in order, a `true` flag marking a hole (drawn in the background colour over the
/// letter's own box).
pub fn glyph(letter: usize) -> Vec<(bool, Vec<(f64, f64)>)> {
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

/// The filled outlines of `letter` (as in [`glyph`]) scaled to the box from `x0` to `x1` and
/// from `y0` to `y0 + h`: in [`COLOURS`], holes in white (the plots' background). A negative
/// `h` puts the letter below `y0`, still upright (it fills `y0 + h` to `y0`).
pub fn letter_polygons(
    letter: usize,
    (x0, x1): (f64, f64),
    y0: f64,
    h: f64,
) -> Vec<Polygon<(f64, f64)>> {
    let (y0, h) = if h >= 0.0 { (y0, h) } else { (y0 + h, -h) };
    let place = |(gx, gy): (f64, f64)| (x0 + gx * (x1 - x0), y0 + gy * h);
    glyph(letter)
        .into_iter()
        .map(|(hole, outline)| {
            let pts: Vec<(f64, f64)> = outline.into_iter().map(place).collect();
            let colour = if hole { WHITE } else { COLOURS[letter.min(3)] };
            Polygon::new(pts, colour.filled())
        })
        .collect()
}

/// Draws `letter` on `chart` in the box from `x0` to `x1` and from `y0` to `y0 + h` (below
/// `y0`, upright, when `h` is negative): see [`letter_polygons`].
pub fn draw_letter<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    letter: usize,
    x: (f64, f64),
    y0: f64,
    h: f64,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    for polygon in letter_polygons(letter, x, y0, h) {
        chart.draw_series(std::iter::once(polygon))?;
    }
    Ok(())
}

/// An importance logo on `area`: at position i, letter `letters[i]` (0..4 for A, C, G, T;
/// `None`: a grey bar, an unknown base) as high as `heights[i]`, above the axis when
/// positive and below it (still upright) when negative, with `y_desc` on the y axis. Saturation
/// mutagenesis shows its importance this way, attributions their contributions.
pub fn importance_logo<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    letters: &[Option<usize>],
    heights: &[f64],
    y_desc: &str,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let l = heights.len();
    let lo = heights.iter().fold(0.0f64, |m, &v| m.min(v));
    let hi = heights.iter().fold(0.0f64, |m, &v| m.max(v));
    let pad = ((hi - lo) * 0.05).max(1e-6);
    let mut logo = ChartBuilder::on(area)
        .margin(8)
        .x_label_area_size(32)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..l as f64, lo - pad..hi + pad)?;
    logo.configure_mesh()
        .disable_mesh()
        .x_labels(10)
        .x_label_formatter(&|x| format!("{}", x.round() as i64))
        .x_desc("position")
        .y_desc(y_desc)
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 12))
        .draw()?;
    for (i, &h) in heights.iter().enumerate() {
        if h.abs() < 1e-9 {
            continue;
        }
        let (x0, w) = (i as f64 + 0.05, 0.9);
        match letters.get(i).copied().flatten() {
            None => {
                logo.draw_series(std::iter::once(Rectangle::new(
                    [(x0, 0.0), (x0 + w, h)],
                    RGBColor(150, 150, 150).filled(),
                )))?;
            }
            // The letter fills [0, h] (below the axis when h < 0, still upright).
            Some(k) => draw_letter(&mut logo, k, (x0, x0 + w), 0.0, h)?,
        }
    }
    Ok(())
}

/// The result of drawing a figure.
pub type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// A figure that can be drawn on any backend (once as SVG, once as PNG).
///
/// ```
/// use ferrosea_plot::{importance_logo, svg_and_png, DrawResult, Figure};
/// use plotters::coord::Shift;
/// use plotters::prelude::{DrawingArea, DrawingBackend};
///
/// /// A logo of the letters A, C, G, T at heights 1, -0.5, 0.25, 2.
/// struct Acgt;
///
/// impl Figure for Acgt {
///     fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
///     where
///         DB::ErrorType: 'static,
///     {
///         root.fill(&plotters::style::WHITE)?;
///         importance_logo(root, &[Some(0), Some(1), Some(2), Some(3)], &[1.0, -0.5, 0.25, 2.0], "score")
///     }
/// }
///
/// let dir = std::env::temp_dir().join(format!("ferrosea-plot-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let written = svg_and_png(&dir.join("acgt"), (400, 200), &Acgt)?;
/// assert_eq!(written, [dir.join("acgt.svg"), dir.join("acgt.png")]);
/// // Only the finished files are left: no temporary names.
/// assert_eq!(std::fs::read_dir(&dir)?.count(), 2);
/// assert!(std::fs::read_to_string(&written[0])?.starts_with("<svg"));
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Figure {
    /// Draws the whole figure on `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

/// Why [`svg_and_png`] failed.
#[derive(Debug)]
pub enum PlotError {
    /// Drawing or writing the file at this temporary path failed (the file is removed): the
    /// message.
    Draw(PathBuf, String),
    /// Renaming the complete file to this path failed.
    Rename(PathBuf, std::io::Error),
}

impl std::fmt::Display for PlotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlotError::Draw(p, e) => write!(f, "{}: drawing the figure: {e}", p.display()),
            PlotError::Rename(p, e) => write!(f, "{}: {e}", p.display()),
        }
    }
}

impl std::error::Error for PlotError {}

/// Draws `fig` as `<stem>.svg` and `<stem>.png` of `size` pixels (registering the font
/// first), each under `<stem>.tmp.EXT` until complete and then renamed; returns the two paths,
/// SVG first.
pub fn svg_and_png(
    stem: &Path,
    size: (u32, u32),
    fig: &impl Figure,
) -> Result<Vec<PathBuf>, PlotError> {
    register_font();
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
        PlotError::Draw(p.to_path_buf(), e)
    };
    let (svg_tmp, png_tmp) = (path("svg", true), path("png", true));
    {
        let root = SVGBackend::new(&svg_tmp, size).into_drawing_area();
        fig.draw(&root).map_err(|e| fail(&svg_tmp, e.to_string()))?;
        root.present().map_err(|e| fail(&svg_tmp, e.to_string()))?;
    }
    {
        let root = BitMapBackend::new(&png_tmp, size).into_drawing_area();
        fig.draw(&root).map_err(|e| fail(&png_tmp, e.to_string()))?;
        root.present().map_err(|e| fail(&png_tmp, e.to_string()))?;
    }
    let mut out = Vec::new();
    for (tmp, ext) in [(svg_tmp, "svg"), (png_tmp, "png")] {
        let dst = path(ext, false);
        std::fs::rename(&tmp, &dst).map_err(|e| PlotError::Rename(dst.clone(), e))?;
        out.push(dst);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::element::PointCollection;

    #[test]
    fn outlines_lie_in_the_unit_square() {
        for k in 0..4 {
            let outlines = glyph(k);
            assert!(outlines.iter().any(|(hole, _)| !hole), "letter {k}");
            for (_, pts) in outlines {
                assert!(pts.len() >= 3);
                assert!(pts.iter().all(|&(x, y)| (-1e-9..=1.0 + 1e-9).contains(&x)
                    && (-1e-9..=1.0 + 1e-9).contains(&y)));
            }
        }
    }

    /// The corners of the polygons of `letter` in the box 0..1 by `y0`..`y0 + h`.
    fn corners(letter: usize, y0: f64, h: f64) -> Vec<Vec<(f64, f64)>> {
        letter_polygons(letter, (0.0, 1.0), y0, h)
            .iter()
            .map(|p| p.point_iter().to_vec())
            .collect()
    }

    #[test]
    fn letters_below_the_axis_are_upright() {
        // The T: its bar at the top of its box (0.82..1 of its height), then its stem.
        let ys = |pts: &Vec<(f64, f64)>| pts.iter().map(|p| p.1).collect::<Vec<_>>();
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(a, b)| (a - b).abs() < 1e-12);
        let above = corners(3, 1.0, 2.0);
        assert!(close(&ys(&above[0]), &[2.64, 2.64, 3.0, 3.0]), "{above:?}");
        assert!(close(&ys(&above[1]), &[1.0, 1.0, 2.64, 2.64]), "{above:?}");
        let below = corners(3, 1.0, -2.0);
        assert!(close(&ys(&below[0]), &[0.64, 0.64, 1.0, 1.0]), "{below:?}");
        assert!(
            close(&ys(&below[1]), &[-1.0, -1.0, 0.64, 0.64]),
            "{below:?}"
        );
        assert_eq!(
            below[0].iter().map(|p| p.0).collect::<Vec<_>>(),
            [0.0, 1.0, 1.0, 0.0]
        );
    }

    #[test]
    fn draws_a_letter_and_its_hole() {
        let mut s = String::new();
        {
            let root = SVGBackend::with_string(&mut s, (100, 100)).into_drawing_area();
            let mut chart = ChartBuilder::on(&root)
                .build_cartesian_2d(0.0..1.0, -1.0..1.0)
                .unwrap();
            draw_letter(&mut chart, 0, (0.0, 1.0), 0.0, -1.0).unwrap();
            root.present().unwrap();
        }
        assert_eq!(s.matches("<polygon").count(), 2, "{s}");
        assert!(s.contains("#109648") && s.contains("#FFFFFF"), "{s}");
    }

    struct Square;

    impl Figure for Square {
        fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
        where
            DB::ErrorType: 'static,
        {
            root.fill(&WHITE)?;
            let mut chart = ChartBuilder::on(root)
                .caption("A", (FONT, 12))
                .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
            draw_letter(&mut chart, 0, (0.1, 0.9), 0.1, 0.8)?;
            Ok(())
        }
    }

    #[test]
    fn writes_svg_and_png_and_no_temporary_files() {
        let dir = std::env::temp_dir().join(format!("ferrosea-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let files = svg_and_png(&dir.join("a"), (60, 60), &Square).unwrap();
        assert_eq!(files, [dir.join("a.svg"), dir.join("a.png")]);
        assert!(std::fs::read_to_string(&files[0])
            .unwrap()
            .contains("<polygon"));
        assert_eq!(&std::fs::read(&files[1]).unwrap()[1..4], b"PNG");
        let mut left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["a.png", "a.svg"]);
        let e = svg_and_png(&dir.join("missing/a"), (60, 60), &Square).unwrap_err();
        assert!(matches!(&e, PlotError::Draw(p, _) if p == &dir.join("missing/a.tmp.svg")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_font_registers_once() {
        register_font();
        register_font();
    }
}
