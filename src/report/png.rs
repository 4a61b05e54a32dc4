//! PNG export of a report's charts (`--png`), for slides and READMEs: each chart's SVG drawn
//! by resvg at twice its size, text set in a sans-serif font found on the system.
//!
//! A PNG without its axis labels would mislead, so when the system has no font the export
//! fails with a clear error instead of writing unlabelled pictures.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use resvg::{tiny_skia, usvg};

use super::plots::Chart;

/// Pixels per SVG pixel.
const SCALE: f32 = 2.0;

/// Sans-serif families tried, in order, for the charts' `sans-serif` text.
const SANS: [&str; 6] = [
    "DejaVu Sans",
    "Liberation Sans",
    "Arial",
    "Helvetica",
    "Noto Sans",
    "FreeSans",
];

/// Why the export failed.
#[derive(Debug, thiserror::Error)]
pub enum PngError {
    /// No font on the system to set the labels in.
    #[error("no fonts found on this system to draw the chart labels (install, for example, fonts-dejavu-core)")]
    NoFonts,
    /// A chart's SVG did not parse (a bug).
    #[error("chart {0:?} did not parse as SVG: {1}")]
    Svg(String, String),
    /// Encoding or writing failed.
    #[error("could not write {0}: {1}")]
    Write(PathBuf, String),
}

/// The system's fonts, with `sans-serif` mapped to one that exists.
pub fn system_fonts() -> Result<Arc<usvg::fontdb::Database>, PngError> {
    let mut db = usvg::fontdb::Database::new();
    db.load_system_fonts();
    with_sans_serif(db)
}

fn with_sans_serif(mut db: usvg::fontdb::Database) -> Result<Arc<usvg::fontdb::Database>, PngError> {
    let families: Vec<String> = db
        .faces()
        .flat_map(|f| f.families.iter().map(|(name, _)| name.clone()))
        .collect();
    let sans = SANS
        .iter()
        .find(|want| families.iter().any(|have| have == *want))
        .map(|s| s.to_string())
        .or_else(|| families.first().cloned())
        .ok_or(PngError::NoFonts)?;
    db.set_sans_serif_family(sans);
    Ok(Arc::new(db))
}

/// One chart as PNG bytes.
pub fn render(chart: &Chart, fonts: &Arc<usvg::fontdb::Database>) -> Result<Vec<u8>, PngError> {
    let options = usvg::Options {
        fontdb: fonts.clone(),
        ..usvg::Options::default()
    };
    let tree =
        usvg::Tree::from_str(&chart.svg(), &options).map_err(|e| PngError::Svg(chart.title.clone(), e.to_string()))?;
    let size = chart.size();
    let (w, h) = (size.0 as f32 * SCALE, size.1 as f32 * SCALE);
    let mut pixmap = tiny_skia::Pixmap::new(w as u32, h as u32).expect("chart size is not zero");
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(SCALE, SCALE),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| PngError::Svg(chart.title.clone(), e.to_string()))
}

/// A file name from a chart's title: `03-service-time-by-percentile.png`.
fn file_name(index: usize, title: &str) -> String {
    let slug: String = title
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let slug: Vec<&str> = slug.split('-').filter(|w| !w.is_empty()).collect();
    format!("{:02}-{}.png", index + 1, slug.join("-"))
}

/// Writes every chart as `dir/NN-title.png`; returns the paths written.
pub fn write_all(charts: &[Chart], dir: &Path) -> Result<Vec<PathBuf>, PngError> {
    let fonts = system_fonts()?;
    std::fs::create_dir_all(dir).map_err(|e| PngError::Write(dir.to_path_buf(), e.to_string()))?;
    let mut written = Vec::new();
    for (i, chart) in charts.iter().enumerate() {
        let path = dir.join(file_name(i, &chart.title));
        let bytes = render(chart, &fonts)?;
        crate::out_file::write(&path, &bytes).map_err(|e| PngError::Write(path.clone(), e.to_string()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(title: &str) -> Chart {
        Chart::new(title, "time since start (s)", "requests").line("a", 0, vec![(0.0, 1.0), (10.0, 5.0)])
    }

    fn dark_pixels(png: &[u8]) -> (u32, u32, usize) {
        let pixmap = tiny_skia::Pixmap::decode_png(png).unwrap();
        let dark = pixmap
            .pixels()
            .iter()
            .filter(|p| p.red() < 128 && p.green() < 128 && p.blue() < 128)
            .count();
        (pixmap.width(), pixmap.height(), dark)
    }

    #[test]
    fn charts_render_at_twice_their_size_with_their_text() {
        let Ok(fonts) = system_fonts() else {
            eprintln!("no system fonts: PNG rendering not checked");
            return;
        };
        let (w, h, plain) = dark_pixels(&render(&chart(""), &fonts).unwrap());
        // The plot is 860×360 and its legend strip one 22 px row plus a 10 px margin.
        assert_eq!(chart("").size(), (860, 392));
        assert_eq!((w, h), (1720, 784));
        // A long title adds dark pixels: the text was set in a font, not dropped.
        let (_, _, titled) = dark_pixels(&render(&chart("Requests per second, a long title"), &fonts).unwrap());
        assert!(titled > plain + 1000, "{titled} vs {plain}");
    }

    #[test]
    fn no_fonts_is_an_error_not_an_unlabelled_picture() {
        let empty = usvg::fontdb::Database::new();
        assert!(matches!(with_sans_serif(empty), Err(PngError::NoFonts)));
    }

    #[test]
    fn file_names_come_from_titles() {
        assert_eq!(
            file_name(2, "Service time by percentile"),
            "03-service-time-by-percentile.png"
        );
        assert_eq!(
            file_name(9, "429s, other errors and retries per second (mean over 5 s bins)"),
            "10-429s-other-errors-and-retries-per-second-mean-over-5-s-bins.png"
        );
    }
}
