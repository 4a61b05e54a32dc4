//! Inline SVG plots (plotters), every axis labelled with its unit.
//!
//! Charts are drawn to strings and embedded in the HTML page, so a report is one file that
//! opens from disk with no network. The root `<svg>` gets `width="100%"` so the page reads on
//! a phone as well as on a laptop.

use plotters::prelude::*;

use crate::histogram::LatencyHistogram;

/// Size of every chart's plotting area in SVG pixels (width, height); the legend, when there
/// is one, is a strip below it (see [`Chart::size`]).
pub const SIZE: (u32, u32) = (860, 360);

/// The plotting area of a small multiple (see [`Chart::small`]): two fit side by side on a
/// page at about their own size, so their labels stay as large as a full chart's.
pub const SMALL: (u32, u32) = (540, 300);

/// Height of one row of the legend strip.
const LEGEND_ROW: u32 = 22;
/// Where the legend's first item starts (under the plot, past the y-axis labels).
const LEGEND_LEFT: i32 = 80;
/// Stroke of the box around the legend strip (tests find the legend by it).
pub const LEGEND_BORDER: RGBColor = RGBColor(200, 200, 201);

/// Stroke of a legend swatch: wider than any series, so tests tell swatches from data.
pub const SWATCH_WIDTH: u32 = 5;

/// One legend entry: its text, colour and whether its line is dashed.
#[derive(Debug, Clone)]
struct LegendItem {
    name: String,
    color: RGBColor,
    dashed: bool,
}

/// The width a legend item takes: swatch, gap, text (about 7 px a character at 13 px).
fn item_width(name: &str) -> i32 {
    34 + (name.chars().count() as i32) * 7 + 18
}

/// Colours in series order, used the same way in every chart of a page.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Line {
    /// Legend text.
    pub name: String,
    /// Palette index.
    pub color: usize,
    /// (x, y) points.
    pub points: Vec<(f64, f64)>,
    /// Draw each point as a dot of this radius (px) instead of joining them (a scatter).
    pub dots: Option<u32>,
}

/// A horizontal reference line (an SLO target).
#[derive(Debug, Clone)]
pub struct Rule {
    /// Legend text.
    pub name: String,
    /// The value to draw the line at, in the chart's y unit.
    pub y: f64,
}

/// What to draw.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Title above the plot.
    pub title: String,
    /// X axis label with unit.
    pub x_label: String,
    /// Y axis label with unit.
    pub y_label: String,
    /// Horizontal reference lines (an SLO, a limit) drawn over the series.
    pub lines: Vec<Line>,
    /// Reference lines.
    pub rules: Vec<Rule>,
    /// Vertical reference lines (`y` holds the x position): a knee, a chosen value.
    pub marks: Vec<Rule>,
    /// Formats x tick labels.
    pub x_format: fn(&f64) -> String,
    /// X ticks wanted.
    pub x_ticks: usize,
    /// Draw lines as steps (for per-second counts).
    pub steps: bool,
    /// A fixed x range; by default the data's.
    pub x_range: Option<(f64, f64)>,
    /// The y values are counts: no fractional tick labels.
    pub whole_y: bool,
    /// A fixed y range; by default from 0 to just above the largest value.
    pub y_range: Option<(f64, f64)>,
    /// The plotting area's size in pixels ([`SIZE`], or [`SMALL`] for a small multiple).
    pub dims: (u32, u32),
}

/// Ticks asked of a log10 axis: a tenth of a decade apart, so that 1, 2 and 5 of every decade
/// fall on one (10^0.3 = 1.995, 10^0.7 = 5.012); [`log_ticks`] labels only those.
pub const LOG_TICKS: usize = 40;

/// Tick labels of a log10 axis at 1, 2 and 5 of each decade ("20" at 1.3); the other ticks get
/// no label, so the axis never reads 6.3, 158, 251.
pub fn log_ticks(x: &f64) -> String {
    let v = 10f64.powf(*x);
    let decade = 10f64.powf(v.log10().floor());
    let nice = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * decade)
        .find(|n| (v - n).abs() <= n * 0.02);
    match nice {
        Some(n) if n >= 1.0 => format!("{n:.0}"),
        Some(n) => format!("{n}"),
        None => String::new(),
    }
}

/// Tick labels of a count axis: whole numbers only (plotters may place ticks at 0.2, 0.4 …).
fn whole(x: &f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        String::new()
    }
}

fn plain(x: &f64) -> String {
    if x.abs() >= 100.0 || x.fract() == 0.0 {
        format!("{x:.0}")
    } else if x.abs() >= 0.1 {
        format!("{x:.2}")
    } else {
        // Small values (a cost in dollars) keep two significant digits.
        let digits = (1.0 - x.abs().log10().floor()).clamp(2.0, 8.0) as usize;
        format!("{x:.digits$}")
    }
}

impl Chart {
    /// A chart with plain number ticks.
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Chart {
        Chart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            lines: Vec::new(),
            rules: Vec::new(),
            marks: Vec::new(),
            x_format: plain,
            x_ticks: 10,
            steps: false,
            x_range: None,
            whole_y: false,
            y_range: None,
            dims: SIZE,
        }
    }

    /// The same chart drawn for a grid of small multiples: a smaller area at the same font
    /// sizes, so the page does not scale its labels down to a few pixels.
    pub fn small(mut self) -> Chart {
        self.dims = SMALL;
        self
    }

    /// Draws each point as a step lasting `width` on the x axis (a bin of a time series),
    /// the last one included.
    pub fn bins(mut self, width: f64) -> Chart {
        self.steps = true;
        for line in &mut self.lines {
            if let Some(&(x, y)) = line.points.last() {
                line.points.push((x + width, y));
            }
        }
        self
    }

    /// The same chart with its x axis (seconds) in hours: a day's run reads 0 to 24, not 0 to
    /// 86,400.
    pub fn in_hours(mut self) -> Chart {
        for line in &mut self.lines {
            for p in &mut line.points {
                p.0 /= 3600.0;
            }
        }
        for m in &mut self.marks {
            m.y /= 3600.0;
        }
        self.x_range = self.x_range.map(|(a, b)| (a / 3600.0, b / 3600.0));
        self.x_label = self.x_label.replace("(s)", "(h)");
        self
    }

    /// Marks the y values as counts (whole-number tick labels only).
    pub fn whole(mut self) -> Chart {
        self.whole_y = true;
        self
    }

    /// Adds a line.
    pub fn line(mut self, name: &str, color: usize, points: Vec<(f64, f64)>) -> Chart {
        self.lines.push(Line {
            name: name.into(),
            color,
            points,
            dots: None,
        });
        self
    }

    /// Adds points drawn as dots of `radius` px, not joined (a scatter of plans, say).
    pub fn dots(mut self, name: &str, color: usize, radius: u32, points: Vec<(f64, f64)>) -> Chart {
        self.lines.push(Line {
            name: name.into(),
            color,
            points,
            dots: Some(radius),
        });
        self
    }

    /// The legend's entries: every named line (solid), then the reference rules and marks
    /// (dashed), in drawing order.
    fn legend_items(&self) -> Vec<LegendItem> {
        let mut items: Vec<LegendItem> = self
            .lines
            .iter()
            .filter(|l| !l.name.is_empty())
            .map(|l| LegendItem {
                name: l.name.clone(),
                color: PALETTE[l.color % PALETTE.len()],
                dashed: false,
            })
            .collect();
        items.extend(self.rules.iter().map(|r| LegendItem {
            name: r.name.clone(),
            color: RULE_COLOR,
            dashed: true,
        }));
        items.extend(self.marks.iter().enumerate().map(|(i, m)| LegendItem {
            name: m.name.clone(),
            color: mark_color(i),
            dashed: true,
        }));
        items
    }

    /// Each legend item's row and x position, flowing left to right under the plot.
    fn legend_layout(&self) -> Vec<(LegendItem, u32, i32)> {
        let mut out = Vec::new();
        let (mut row, mut x) = (0u32, LEGEND_LEFT);
        for item in self.legend_items() {
            let w = item_width(&item.name);
            if x > LEGEND_LEFT && x + w > self.dims.0 as i32 - 12 {
                row += 1;
                x = LEGEND_LEFT;
            }
            out.push((item, row, x));
            x += w;
        }
        out
    }

    /// The whole chart's size: the plotting area and, below it, one legend row per line of
    /// entries (none without named series).
    pub fn size(&self) -> (u32, u32) {
        let rows = self.legend_layout().last().map_or(0, |(_, row, _)| row + 1);
        let legend = if rows == 0 { 0 } else { rows * LEGEND_ROW + 10 };
        (self.dims.0, self.dims.1 + legend)
    }

    /// Renders to an SVG of [`Chart::size`] (an empty chart with a note when there is nothing
    /// to draw).
    pub fn svg(&self) -> String {
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, self.size()).into_drawing_area();
            let _ = self.draw(&root);
            let _ = root.present();
        }
        out
    }

    /// Renders to an SVG that fills the width of its container, for a page.
    pub fn inline_svg(&self) -> String {
        responsive(self.svg(), self.size())
    }

    /// Draws the legend strip: a box under the plot with a swatch and a name per entry, dashed
    /// swatches for dashed lines. Nothing of the data is drawn there.
    fn draw_legend(
        &self,
        area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    ) -> Result<(), Box<dyn std::error::Error + '_>> {
        let layout = self.legend_layout();
        let Some(rows) = layout.last().map(|(_, r, _)| r + 1) else {
            return Ok(());
        };
        let bottom = (rows * LEGEND_ROW + 4) as i32;
        area.draw(&Rectangle::new(
            [(LEGEND_LEFT - 8, 2), (self.dims.0 as i32 - 8, bottom)],
            LEGEND_BORDER.stroke_width(1),
        ))?;
        for (item, row, x) in layout {
            let y = (row * LEGEND_ROW) as i32 + 14;
            let style = item.color.stroke_width(SWATCH_WIDTH);
            if item.dashed {
                for k in 0..3 {
                    area.draw(&PathElement::new(vec![(x + k * 9, y), (x + k * 9 + 5, y)], style))?;
                }
            } else {
                area.draw(&PathElement::new(vec![(x, y), (x + 24, y)], style))?;
            }
            area.draw(&Text::new(
                item.name.clone(),
                (x + 32, y - 7),
                ("sans-serif", 13).into_font().color(&RGBColor(40, 40, 40)),
            ))?;
        }
        Ok(())
    }

    fn draw(
        &self,
        page: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    ) -> Result<(), Box<dyn std::error::Error + '_>> {
        page.fill(&WHITE)?;
        let (root, legend) = page.split_vertically(self.dims.1);
        self.draw_legend(&legend)?;
        let root = &root;
        let all = self.lines.iter().flat_map(|l| l.points.iter());
        let (mut x0, mut x1, mut y1) = (f64::MAX, f64::MIN, 0.0f64);
        for &(x, y) in all {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
        for r in &self.rules {
            y1 = y1.max(r.y);
        }
        if let Some(range) = self.x_range {
            (x0, x1) = range;
        }
        if x0 > x1 {
            (x0, x1) = (0.0, 1.0);
        }
        if x1 <= x0 {
            x1 = x0 + 1.0;
        }
        let y1 = if y1 <= 0.0 { 1.0 } else { y1 * 1.08 };
        let (y0, y1) = self.y_range.unwrap_or((0.0, y1));
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 18))
            .margin(12)
            .margin_right(30)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_labels(self.x_ticks)
            .y_labels(8)
            .x_label_formatter(&self.x_format)
            .y_label_formatter(if self.whole_y { &whole } else { &plain })
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        if self.lines.iter().all(|l| l.points.is_empty()) {
            root.draw(&Text::new(
                "no data",
                (self.dims.0 as i32 / 2 - 30, self.dims.1 as i32 / 2),
                ("sans-serif", 16).into_font().color(&RGBColor(120, 120, 120)),
            ))?;
        }
        // Drawn in order: series, then the reference lines over them, then marks. Each series
        // keeps its colour in every chart of a page; the legend is in its own strip below.
        // A line drawn earlier is wider, so one that a later line covers (offered and attempts
        // sent are equal without retries) still shows as its border.
        let n = self.lines.len();
        for (i, l) in self.lines.iter().enumerate() {
            let color = PALETTE[l.color % PALETTE.len()];
            let points: Vec<(f64, f64)> = if self.steps { steps(&l.points) } else { l.points.clone() };
            if let Some(r) = l.dots {
                chart.draw_series(points.iter().map(|&p| Circle::new(p, r, color.filled())))?;
                continue;
            }
            let width = 2 + (n - 1 - i).min(2) as u32;
            chart.draw_series(LineSeries::new(points, color.stroke_width(width)))?;
        }
        for r in &self.rules {
            let style = RULE_COLOR.stroke_width(2);
            chart.draw_series(DashedLineSeries::new(vec![(x0, r.y), (x1, r.y)], 6, 4, style))?;
        }
        for (i, m) in self.marks.iter().enumerate() {
            let style = mark_color(i).stroke_width(2);
            chart.draw_series(DashedLineSeries::new(vec![(m.y, y0), (m.y, y1)], 4, 4, style))?;
        }
        Ok(())
    }
}

/// The colour of reference rules (an SLO, a quota).
const RULE_COLOR: RGBColor = RGBColor(30, 30, 30);

/// The colour of the `i`th vertical mark (a knee), apart from the first series' colours.
fn mark_color(i: usize) -> RGBColor {
    PALETTE[(i + 5) % PALETTE.len()]
}

fn steps(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2);
    for (i, &(x, y)) in points.iter().enumerate() {
        if i > 0 {
            out.push((x, points[i - 1].1));
        }
        out.push((x, y));
    }
    out
}

fn responsive(svg: String, (w, h): (u32, u32)) -> String {
    svg.replacen(
        &format!("<svg width=\"{w}\" height=\"{h}\""),
        "<svg width=\"100%\" preserveAspectRatio=\"xMidYMid meet\"",
        1,
    )
}

/// x position of a percentile on a log "nines" axis: 0% → 0, 90% → 1, 99% → 2, 99.9% → 3.
pub fn nines(percentile: f64) -> f64 {
    -(1.0 - (percentile / 100.0).min(0.999_999)).log10()
}

fn percentile_label(x: &f64) -> String {
    // Only whole nines are labelled (90%, 99%, …): a tick between them would read 68.3772%.
    if (x - x.round()).abs() > 1e-6 {
        return String::new();
    }
    let p = 100.0 * (1.0 - 10f64.powf(-x));
    if p < 1.0 {
        "0%".into()
    } else {
        let s = format!("{p:.4}");
        format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// Milliseconds up to 10 s, seconds beyond: (unit, divisor of milliseconds).
fn latency_unit(top_ms: f64) -> (&'static str, f64) {
    if top_ms > 10_000.0 {
        ("s", 1000.0)
    } else {
        ("ms", 1.0)
    }
}

/// The furthest right a spectrum's x axis goes: four nines (99.99%).
pub const SPECTRUM_NINES: f64 = 4.0;

/// The HDR-style percentile spectrum of several histograms (log "nines" axis to the percentile
/// their samples reach, at most 99.99%), each
/// given with its palette colour; later ones are drawn on top.
pub fn spectrum(title: &str, histograms: &[(String, usize, &LatencyHistogram)], slo_ms: &[(String, f64)]) -> Chart {
    let top = histograms
        .iter()
        .filter_map(|(_, _, h)| h.quantile_ms(1.0))
        .fold(0.0, f64::max);
    let (unit, scale) = latency_unit(top);
    let mut chart = Chart::new(title, "percentile (log scale of nines)", &format!("latency ({unit})"));
    chart.x_format = percentile_label;
    chart.x_ticks = 5;
    // Each line goes as far as its samples reach: n samples say nothing past the percentile
    // 1 - 1/n (120 answers: 99.2%), whatever the histogram returns there. The axis runs to the
    // furthest line (at least 90%, at most 99.99%), so spectra of equal runs line up.
    let reach = |h: &LatencyHistogram| (h.count().max(1) as f64).log10().min(SPECTRUM_NINES);
    let furthest = histograms.iter().map(|(_, _, h)| reach(h)).fold(1.0, f64::max);
    chart.x_range = Some((0.0, furthest));
    for (name, color, h) in histograms {
        let points = h
            .spectrum()
            .into_iter()
            .map(|(p, v)| (nines(p), v / scale))
            .filter(|(x, _)| *x <= reach(h) + 1e-9)
            .collect();
        chart = chart.line(name, *color, points);
    }
    chart.rules = slo_ms
        .iter()
        .map(|(n, y)| Rule {
            name: n.clone(),
            y: *y / scale,
        })
        .collect();
    chart
}

/// A latency histogram as bars drawn with steps.
pub fn histogram(title: &str, h: &LatencyHistogram) -> Chart {
    let buckets = h.buckets(60);
    let (unit, scale) = latency_unit(buckets.last().map_or(0.0, |b| b.0));
    let width = buckets.get(1).map_or(1.0, |b| b.0);
    let mut points: Vec<(f64, f64)> = buckets.iter().map(|&(x, c)| (x / scale, c as f64)).collect();
    if let Some(&(x, _)) = buckets.last() {
        points.push(((x + width) / scale, 0.0));
    }
    let mut chart = Chart::new(title, &format!("latency ({unit})"), "requests").line("", 0, points);
    chart.steps = true;
    chart
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn tick_labels_keep_small_values_readable() {
        assert_eq!(plain(&250.0), "250");
        assert_eq!(plain(&2.5), "2.50");
        assert_eq!(plain(&0.12), "0.12");
        assert_eq!(plain(&0.0025), "0.0025");
        assert_eq!(plain(&0.05), "0.050");
    }

    #[test]
    fn log_ticks_label_one_two_five_only() {
        let label = |v: f64| log_ticks(&v.log10());
        assert_eq!(label(20.0), "20");
        assert_eq!(label(10f64.powf(0.7)), "5");
        assert_eq!(label(100.0), "100");
        assert_eq!(label(6.3), "");
        assert_eq!(label(158.0), "");
        assert_eq!(label(251.0), "");
        // Ticks a tenth of a decade apart land on 1, 2 and 5 of each decade.
        let labelled: Vec<String> = (0..=20)
            .map(|i| log_ticks(&(f64::from(i) / 10.0)))
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(labelled, ["1", "2", "5", "10", "20", "50", "100"]);
    }

    #[test]
    fn nines_axis_maps_percentiles() {
        assert!((nines(90.0) - 1.0).abs() < 1e-9);
        assert!((nines(99.9) - 3.0).abs() < 1e-9);
        assert_eq!(percentile_label(&2.0), "99%");
        assert_eq!(percentile_label(&4.0), "99.99%");
        assert_eq!(percentile_label(&0.5), "");
    }

    #[test]
    fn a_spectrum_goes_as_far_as_its_samples() {
        let mut h = LatencyHistogram::default();
        for i in 1..=120u64 {
            h.record(std::time::Duration::from_millis(i * 10));
        }
        let chart = spectrum("t", &[("run".into(), 0, &h)], &[]);
        // 120 samples reach 1 - 1/120 = 99.17%: log10(120) = 2.08 nines, not 4.
        let (_, right) = chart.x_range.unwrap();
        assert!((right - 120f64.log10()).abs() < 1e-9, "{right}");
        assert!(chart.lines[0].points.iter().all(|(x, _)| *x <= right + 1e-9));
    }

    #[test]
    fn charts_are_self_contained_svg() {
        let mut h = LatencyHistogram::default();
        for ms in 1..500u64 {
            h.record(Duration::from_millis(ms));
        }
        let svg = spectrum("latency", &[("e2e".into(), 0, &h)], &[("SLO p95".into(), 400.0)]).inline_svg();
        assert!(svg.starts_with("<svg width=\"100%\""), "{}", &svg[..80]);
        // 499 samples reach 99.8%: the axis ends there, labelled to 99%, not on to 99.9%.
        assert!(svg.contains("latency (ms)") && svg.contains("99%") && !svg.contains("99.9%"));
        assert!(!svg.contains("http://") || svg.matches("http://").all(|_| svg.contains("xmlns")));
        let empty = Chart::new("t", "x (s)", "y").line("a", 0, vec![]).svg();
        assert!(empty.contains("no data"));
    }
}
