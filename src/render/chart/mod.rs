//! Charts: recovery time, snapshot growth, convergence after incidents, tasks by state.
//!
//! Each kind has a data module that computes plain numbers from an [`crate::replay::analysis::Analysis`]
//! (also printed as a table or JSON by `chart --format`), and a drawing that turns them into an
//! SVG or PNG with plotters.
//!
//! Rendering rules, so that a chart is byte-identical on any machine:
//! - no system fonts: DejaVu Sans ships in `assets/fonts/` and is registered under the only
//!   family name the drawings use ([`FAMILY`]); text layout uses its metrics;
//! - no "now", no hash-map order, no temp-dir paths: titles name the input by file name only,
//!   times come from the data, all collections are ordered;
//! - numbers in labels are formatted with fixed decimals by our own formatters.

pub mod convergence;
pub mod recovery;
pub mod snapshots;
pub mod tasks;

pub(crate) use crate::error::{Error, Result};
pub(crate) use plotters::coord::Shift;
pub(crate) use plotters::element::DashedPathElement;
pub(crate) use plotters::prelude::*;
pub(crate) use plotters::style::text_anchor::{HPos, Pos, VPos};
pub(crate) use std::path::Path;

/// DejaVu Sans 2.37 (Bitstream Vera licence, see `assets/fonts/LICENSE-DejaVu.txt`).
pub static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// The one font family every drawing names.
pub const FAMILY: &str = "sans-serif";

/// Default image size.
pub const SIZE: (u32, u32) = (1280, 720);

/// Register the shipped font (idempotent).
pub fn register_font() -> Result<()> {
    static DONE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok()
            && plotters::style::register_font(FAMILY, FontStyle::Bold, FONT).is_ok()
    });
    if ok { Ok(()) } else { Err(Error::Usage("the shipped chart font does not load".into())) }
}

/// Result of a drawing step.
pub type DrawResult = std::result::Result<(), String>;

/// Turn any drawing error into text.
pub fn de<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Something that can be drawn.
pub trait Chart {
    /// Image size in pixels.
    fn size(&self) -> (u32, u32) {
        SIZE
    }
    /// Draw onto a blank area of [`Chart::size`].
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult;
}

/// Image formats, chosen by the output file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// `.svg`
    Svg,
    /// `.png`
    Png,
}

impl ImageFormat {
    /// From a file name.
    pub fn from_path(p: &Path) -> Result<ImageFormat> {
        match p.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref() {
            Some("svg") => Ok(ImageFormat::Svg),
            Some("png") => Ok(ImageFormat::Png),
            _ => Err(Error::Usage(format!("{}: the output must end in .svg or .png", p.display()))),
        }
    }
}

/// The smallest canvas the drawings lay out on: their titles, legends and labels are sized for
/// it. A smaller image is this layout scaled down, so that nothing is cut or overflows.
pub const MIN_LAYOUT: (u32, u32) = (1280, 720);

/// The canvas an image of `size` is drawn on: the size itself, or, when it is smaller than
/// [`MIN_LAYOUT`] in either direction, the size scaled up (same aspect ratio) until it is not.
pub fn layout_size((w, h): (u32, u32)) -> (u32, u32) {
    let k = (MIN_LAYOUT.0 as f64 / w.max(1) as f64).max(MIN_LAYOUT.1 as f64 / h.max(1) as f64);
    if k <= 1.0 { (w, h) } else { ((w as f64 * k).round() as u32, (h as f64 * k).round() as u32) }
}

/// Render to an SVG document of [`Chart::size`], drawn on its [`layout_size`] (the `viewBox`).
pub fn svg(c: &impl Chart) -> Result<String> {
    register_font()?;
    let (w, h) = c.size();
    let (lw, lh) = layout_size((w, h));
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, (lw, lh)).into_drawing_area();
        c.draw(&root).map_err(|e| Error::Usage(format!("drawing failed: {e}")))?;
        root.present().map_err(|e| Error::Usage(format!("drawing failed: {e:?}")))?;
    }
    if (lw, lh) != (w, h) {
        s = s.replacen(
            &format!("<svg width=\"{lw}\" height=\"{lh}\""),
            &format!("<svg width=\"{w}\" height=\"{h}\""),
            1,
        );
    }
    Ok(s)
}

/// Scale an RGB bitmap down by averaging the source pixels each target pixel covers.
pub fn downscale(src: &[u8], (sw, sh): (u32, u32), (w, h): (u32, u32)) -> Vec<u8> {
    let mut out = vec![255u8; (w as usize) * (h as usize) * 3];
    let span = |i: u32, n: u32, sn: u32| {
        let a = (i as u64 * sn as u64 / n as u64) as u32;
        let b = (((i as u64 + 1) * sn as u64).div_ceil(n as u64) as u32).clamp(a + 1, sn.max(1));
        (a, b)
    };
    for y in 0..h {
        let (y0, y1) = span(y, h, sh);
        for x in 0..w {
            let (x0, x1) = span(x, w, sw);
            let mut acc = [0u64; 3];
            let mut n = 0u64;
            for sy in y0..y1 {
                for sx in x0..x1 {
                    let i = ((sy as usize) * (sw as usize) + sx as usize) * 3;
                    if let Some(p) = src.get(i..i + 3) {
                        acc[0] += p[0] as u64;
                        acc[1] += p[1] as u64;
                        acc[2] += p[2] as u64;
                        n += 1;
                    }
                }
            }
            let o = ((y as usize) * (w as usize) + x as usize) * 3;
            for k in 0..3 {
                if let Some(v) = (acc[k] + n / 2).checked_div(n) {
                    out[o + k] = v as u8;
                }
            }
        }
    }
    out
}

/// Render to a file: SVG or PNG by extension. The file is written only when drawing succeeded.
pub fn write(c: &impl Chart, path: &Path) -> Result<()> {
    let io = |e: std::io::Error| Error::Io { path: path.to_path_buf(), source: e };
    match ImageFormat::from_path(path)? {
        ImageFormat::Svg => {
            let s = svg(c)?;
            std::fs::write(path, s).map_err(io)
        }
        ImageFormat::Png => {
            register_font()?;
            let (w, h) = c.size();
            let (lw, lh) = layout_size((w, h));
            let mut buf = vec![0u8; (lw * lh * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut buf, (lw, lh)).into_drawing_area();
                c.draw(&root).map_err(|e| Error::Usage(format!("drawing failed: {e}")))?;
                root.present().map_err(|e| Error::Usage(format!("drawing failed: {e:?}")))?;
            }
            if (lw, lh) != (w, h) {
                buf = downscale(&buf, (lw, lh), (w, h));
            }
            std::fs::write(path, png_encode(&buf, w, h)).map_err(io)
        }
    }
}

/// Minimal PNG encoder (RGB, 8 bit, zlib via flate2): keeps the bitmap path free of the file
/// handling inside plotters and gives byte-identical files for identical pixels.
pub fn png_encode(rgb: &[u8], w: u32, h: u32) -> Vec<u8> {
    use std::io::Write;
    let mut raw = Vec::with_capacity(rgb.len() + h as usize);
    for row in rgb.chunks(w as usize * 3) {
        raw.push(0);
        raw.extend_from_slice(row);
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = z.write_all(&raw);
    let idat = z.finish().unwrap_or_default();
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut c = Vec::with_capacity(4 + data.len());
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        out.extend_from_slice(&c);
        out.extend_from_slice(&crc32_ieee(&c).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &idat);
    chunk(b"IEND", &[]);
    out
}

fn crc32_ieee(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

pub use crate::input::source::input_name;

/// Titles of several inputs.
pub fn inputs_label(names: &[String]) -> String {
    match names.len() {
        0 => String::new(),
        1 => names[0].clone(),
        2 | 3 => names.join(", "),
        n => format!("{}, {} and {} more", names[0], names[1], n - 2),
    }
}

/// A font size plotters' bitmap text puts on one baseline: an even number of pixels. Its
/// glyph placement (`size / 2 + top`, truncated toward zero) rounds glyphs that reach above
/// the middle of the line and glyphs that stay below it in opposite directions at odd sizes,
/// which lifts a decimal point or a colon off the baseline in PNGs (`13·0KiB`). Odd sizes are
/// taken down to the even size below.
pub fn even_size(size: f64) -> f64 {
    ((size / 2.0).floor() * 2.0).max(2.0)
}

/// Text style in the shipped font (size: see [`even_size`]).
pub fn font(size: f64) -> TextStyle<'static> {
    (FAMILY, even_size(size)).into_font().color(&BLACK)
}

/// Bold text style in the shipped font (size: see [`even_size`]).
pub fn bold(size: f64) -> TextStyle<'static> {
    (FAMILY, even_size(size)).into_font().style(FontStyle::Bold).color(&BLACK)
}

/// Draw a title and subtitle lines at the top; returns the area below them.
pub fn header<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &[String],
) -> std::result::Result<DrawingArea<DB, Shift>, String> {
    root.fill(&WHITE).map_err(de)?;
    let h = 40 + 20 * subtitle.len() as u32;
    let (top, rest) = root.split_vertically(h);
    top.draw(&Text::new(title.to_string(), (16, 10), bold(24.0))).map_err(de)?;
    for (i, s) in subtitle.iter().enumerate() {
        top.draw(&Text::new(s.clone(), (16, 40 + 20 * i as i32), font(15.0).color(&RGBColor(70, 70, 70))))
            .map_err(de)?;
    }
    Ok(rest)
}

/// A clock time (UTC) `secs` after `t0`.
pub fn hms(t0: jiff::Timestamp, secs: f64) -> String {
    let t = t0.checked_add(jiff::SignedDuration::from_millis((secs * 1000.0).round() as i64)).unwrap_or(t0);
    t.strftime("%H:%M:%S").to_string()
}

/// A wall-clock time axis from `t0`: clock times, and the date as well on every label when the
/// axis crosses midnight (UTC), so that `00:00:10` cannot read as before `23:59:50`.
#[derive(Debug, Clone, Copy)]
pub struct TimeAxis {
    t0: jiff::Timestamp,
    /// The axis spans more than one UTC day.
    pub dated: bool,
}

impl TimeAxis {
    /// The axis for `x0..x1` seconds after `t0`.
    pub fn new(t0: jiff::Timestamp, x0: f64, x1: f64) -> TimeAxis {
        let day = |secs: f64| {
            let t = t0.checked_add(jiff::SignedDuration::from_millis((secs * 1000.0).round() as i64)).unwrap_or(t0);
            t.strftime("%Y-%m-%d").to_string()
        };
        TimeAxis { t0, dated: day(x0.max(0.0)) != day(x1) }
    }

    /// The label of a tick `secs` after `t0`: `23:59:50`, or `Nov 28 00:00:10` on a dated axis.
    pub fn label(&self, secs: f64) -> String {
        if self.dated {
            let t = self
                .t0
                .checked_add(jiff::SignedDuration::from_millis((secs * 1000.0).round() as i64))
                .unwrap_or(self.t0);
            t.strftime("%b %d %H:%M:%S").to_string()
        } else {
            hms(self.t0, secs)
        }
    }

    /// How many ticks fit (dated labels are twice as wide).
    pub fn ticks(&self) -> usize {
        if self.dated { 5 } else { 8 }
    }

    /// The axis' description.
    pub fn desc(&self) -> &'static str {
        if self.dated { "wall-clock time (UTC; the axis crosses midnight)" } else { "wall-clock time (UTC)" }
    }
}

/// A time range in a subtitle: `2026-11-27 11:22:16 UTC to 11:40:00 UTC`, with the end's date as
/// well when it is another day.
pub fn time_range(a: jiff::Timestamp, b: jiff::Timestamp) -> String {
    if a.strftime("%Y-%m-%d").to_string() == b.strftime("%Y-%m-%d").to_string() {
        format!("{} to {}", ymdhms(a), b.strftime("%H:%M:%S UTC"))
    } else {
        format!("{} to {}", ymdhms(a), ymdhms(b))
    }
}

/// A time as `2026-11-27 11:22:16 UTC`.
pub fn ymdhms(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Seconds since `t0` (fractional).
pub fn secs_since(t0: jiff::Timestamp, t: jiff::Timestamp) -> f64 {
    let d = t.duration_since(t0);
    d.as_secs_f64()
}

/// A unit for a byte axis: (divisor, name).
pub fn byte_unit(max: f64) -> (f64, &'static str) {
    if max >= 1024.0 * 1024.0 * 1.5 {
        (1024.0 * 1024.0, "MiB")
    } else if max >= 1536.0 {
        (1024.0, "KiB")
    } else {
        (1.0, "bytes")
    }
}

/// A unit for a seconds axis: (multiplier, name).
pub fn seconds_unit(max: f64) -> (f64, &'static str) {
    if max >= 1.0 {
        (1.0, "s")
    } else if max >= 1e-3 {
        (1e3, "ms")
    } else {
        (1e6, "µs")
    }
}

/// Fixed formatting of a tick value: as few decimals as the step needs.
pub fn tick(v: f64, span: f64) -> String {
    let d = if span >= 20.0 {
        0
    } else if span >= 2.0 {
        1
    } else if span >= 0.2 {
        2
    } else {
        3
    };
    let s = format!("{v:.d$}");
    if s == "-0" || s.starts_with("-0.") && s.trim_start_matches(['-', '0', '.']).is_empty() {
        s.trim_start_matches('-').to_string()
    } else {
        s
    }
}

/// A duration in words: `420 µs`, `350 ms`, `4.2 s`, `3 min 12 s`; in the unit
/// [`seconds_unit`] picks for an axis whose top is this duration, so that a subtitle and its
/// axis agree.
pub fn duration_text(secs: f64) -> String {
    if secs < 1e-3 {
        format!("{:.0} µs", secs * 1e6)
    } else if secs < 1.0 {
        format!("{:.0} ms", secs * 1000.0)
    } else if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        let m = (secs / 60.0).floor();
        format!("{m:.0} min {:.0} s", secs - m * 60.0)
    }
}

/// Tableau-10 colours.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(78, 121, 167),
    RGBColor(242, 142, 43),
    RGBColor(89, 161, 79),
    RGBColor(225, 87, 89),
    RGBColor(118, 183, 178),
    RGBColor(237, 201, 72),
    RGBColor(176, 122, 161),
    RGBColor(255, 157, 167),
    RGBColor(156, 117, 95),
    RGBColor(186, 176, 172),
];

/// Grey for grid lines and marks.
pub const MARK_GREY: RGBColor = RGBColor(150, 150, 150);
/// Red for elections and failures.
pub const ALERT_RED: RGBColor = RGBColor(200, 30, 30);

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy)]
pub enum Mark {
    /// A filled box.
    Box(RGBColor),
    /// A solid line.
    Line(RGBColor),
    /// A dashed line.
    Dashed(RGBColor),
    /// Nothing (a note).
    None,
}

/// Draw a legend as a column of entries on a panel of its own.
pub fn legend_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    items: &[(String, Mark)],
) -> DrawResult {
    area.draw(&Text::new(title.to_string(), (8, 24), bold(15.0))).map_err(de)?;
    for (i, (label, mark)) in items.iter().enumerate() {
        let y = 52 + 22 * i as i32;
        match mark {
            Mark::Box(c) => area.draw(&Rectangle::new([(8, y - 7), (28, y + 7)], c.filled())).map_err(de)?,
            Mark::Line(c) => area.draw(&PathElement::new(vec![(8, y), (28, y)], c.stroke_width(3))).map_err(de)?,
            Mark::Dashed(c) => {
                area.draw(&DashedPathElement::new(vec![(8, y), (28, y)], 5, 3, c.stroke_width(2))).map_err(de)?
            }
            Mark::None => {}
        }
        area.draw(&Text::new(label.clone(), (36, y), font(13.0).pos(Pos::new(HPos::Left, VPos::Center))))
            .map_err(de)?;
    }
    Ok(())
}

/// Draw a legend as rows of entries across a strip (under a plot). Entries flow left to
/// right and wrap; a `Mark::None` entry starts a row of its own (for notes such as the
/// calibration).
pub fn legend_strip<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    left: i32,
    items: &[(String, Mark)],
) -> DrawResult {
    let width = area.dim_in_pixel().0 as i32;
    let (mut x, mut y) = (left, 12);
    let style = font(13.0).pos(Pos::new(HPos::Left, VPos::Center));
    for (label, mark) in items {
        let w = 36 + area.estimate_text_size(label, &style).map(|s| s.0 as i32).unwrap_or(8 * label.len() as i32) + 24;
        let own_row = matches!(mark, Mark::None);
        if x > left && (x + w > width || own_row) {
            x = left;
            y += 22;
        }
        match mark {
            Mark::Box(c) => area.draw(&Rectangle::new([(x, y - 7), (x + 20, y + 7)], c.filled())).map_err(de)?,
            Mark::Line(c) => area.draw(&PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3))).map_err(de)?,
            Mark::Dashed(c) => {
                area.draw(&DashedPathElement::new(vec![(x, y), (x + 20, y)], 5, 3, c.stroke_width(2))).map_err(de)?
            }
            Mark::None => {}
        }
        let tx = if own_row { x } else { x + 28 };
        area.draw(&Text::new(label.clone(), (tx, y), style.clone())).map_err(de)?;
        x += w;
        if own_row {
            x = left;
            y += 22;
        }
    }
    Ok(())
}

/// A colour blended with white (`a` = 1 gives the colour itself).
pub fn tint(c: RGBColor, a: f64) -> RGBColor {
    let m = |v: u8| (255.0 - (255.0 - v as f64) * a).round() as u8;
    RGBColor(m(c.0), m(c.1), m(c.2))
}

/// Drop repeated points and the middle points of straight horizontal or vertical runs: the
/// bitmap backend draws thick polylines with odd joins at repeated points.
pub fn simplify(pts: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(pts.len());
    for p in pts {
        if out.last() == Some(&p) {
            continue;
        }
        if out.len() >= 2 {
            let (a, b) = (out[out.len() - 2], out[out.len() - 1]);
            let same_y = a.1 == b.1 && b.1 == p.1;
            let same_x = a.0 == b.0 && b.0 == p.0;
            if same_y && a.0 <= b.0 && b.0 <= p.0 || same_x && (a.1 <= b.1) == (b.1 <= p.1) {
                out.pop();
            }
        }
        out.push(p);
    }
    out
}

/// Walk the committed, live entries in index order through the replay engine, from the earliest
/// point the log can be read (see [`crate::replay::engine::Start::Earliest`]). Visitors read only
/// `Step::Base` and the committed `Step::Action`s. Returns what the replay found on the way.
pub fn walk_committed(
    a: &crate::replay::analysis::Analysis,
    visit: impl FnMut(crate::analyses::history::Step<'_>) + Send,
) -> Vec<crate::error::Finding> {
    crate::analyses::history::walk(a, false, visit)
}

/// Round a float for JSON (fixed precision, no `0.30000000000000004`).
pub fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_words_agree_with_the_axis_unit() {
        for (secs, want) in
            [(0.00042, "420 µs"), (0.0031, "3 ms"), (0.35, "350 ms"), (4.2, "4.2 s"), (192.0, "3 min 12 s")]
        {
            let text = duration_text(secs);
            assert_eq!(text, want);
            let unit = seconds_unit(secs).1;
            assert!(secs >= 60.0 || text.ends_with(unit), "{text} under a {unit} axis");
        }
    }

    /// Lowest row with ink of `t` drawn at (5, 5) in a bitmap.
    fn lowest_ink_row(t: &str, style: TextStyle<'static>) -> Option<u32> {
        let (w, h) = (60u32, 40u32);
        let mut buf = vec![255u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
            root.draw(&Text::new(t.to_string(), (5, 5), style)).ok()?;
            root.present().ok()?;
        }
        (0..h).rev().find(|y| (0..w).any(|x| buf[((y * w + x) * 3) as usize] < 160))
    }

    #[test]
    fn decimal_points_sit_on_the_baseline_in_bitmaps() {
        register_font().unwrap();
        for sz in [11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 18.0] {
            for style in [font(sz), bold(sz)] {
                let x = lowest_ink_row("x", style.clone());
                for c in [".", ":", ","] {
                    let d = lowest_ink_row(c, style.clone());
                    assert!(x.is_some() && d >= x, "size {sz}: {c:?} ends at row {d:?}, x at {x:?}");
                }
            }
        }
    }

    #[test]
    fn small_images_are_the_standard_layout_scaled_down() {
        assert_eq!(layout_size((1280, 720)), (1280, 720));
        assert_eq!(layout_size((1920, 1080)), (1920, 1080));
        assert_eq!(layout_size((640, 360)), (1280, 720));
        assert_eq!(layout_size((400, 300)), (1280, 960));
        assert_eq!(layout_size((800, 720)), (1280, 1152));
        // A 2x2 checker of black and white averages to grey; sizes hold.
        let src = [0u8, 0, 0, 255, 255, 255, 255, 255, 255, 0, 0, 0];
        assert_eq!(downscale(&src, (2, 2), (1, 1)), vec![128, 128, 128]);
        assert_eq!(downscale(&vec![7u8; 1280 * 720 * 3], (1280, 720), (640, 360)).len(), 640 * 360 * 3);
    }

    #[test]
    fn png_header_and_crc() {
        assert_eq!(crc32_ieee(b"123456789"), 0xCBF4_3926);
        let p = png_encode(&[255, 0, 0], 1, 1);
        assert!(p.starts_with(b"\x89PNG\r\n\x1a\n"));
    }

    #[test]
    fn simplify_keeps_the_shape() {
        let v = simplify(vec![(0.0, 1.0), (0.0, 1.0), (1.0, 1.0), (2.0, 1.0), (2.0, 0.0), (2.0, -1.0), (3.0, -1.0)]);
        assert_eq!(v, vec![(0.0, 1.0), (2.0, 1.0), (2.0, -1.0), (3.0, -1.0)]);
    }

    #[test]
    fn a_time_axis_that_crosses_midnight_shows_the_date() {
        let t0: jiff::Timestamp = "2026-11-27T23:59:30Z".parse().unwrap();
        let same = TimeAxis::new(t0, 0.0, 25.0);
        assert!(!same.dated);
        assert_eq!(same.label(20.0), "23:59:50");
        assert_eq!(same.ticks(), 8);
        let over = TimeAxis::new(t0, -1.0, 60.0);
        assert!(over.dated);
        assert_eq!(over.label(20.0), "Nov 27 23:59:50");
        assert_eq!(over.label(40.0), "Nov 28 00:00:10");
        assert!(over.desc().contains("midnight"));
        let end: jiff::Timestamp = "2026-11-28T00:00:30Z".parse().unwrap();
        assert_eq!(time_range(t0, end), "2026-11-27 23:59:30 UTC to 2026-11-28 00:00:30 UTC");
        let end: jiff::Timestamp = "2026-11-27T23:59:59Z".parse().unwrap();
        assert_eq!(time_range(t0, end), "2026-11-27 23:59:30 UTC to 23:59:59 UTC");
    }

    #[test]
    fn ticks_are_fixed() {
        assert_eq!(tick(0.30000000000000004, 1.0), "0.30");
        assert_eq!(tick(-0.0001, 1.0), "0.00");
        assert_eq!(tick(1500.0, 3000.0), "1500");
    }
}
