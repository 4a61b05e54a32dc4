//! The HTML pages as a reader sees them: every page (report, compare, plan) rendered in
//! headless Chromium, no character that the installed fonts cannot draw (an empty box), and no
//! chart legend over a series.

use std::path::{Path, PathBuf};

use crate::support::{root, stampede};

/// The three pages, written into `dir`: a run's report, a comparison of seven strategies and
/// a plan.
fn pages(dir: &Path) -> Vec<PathBuf> {
    let scenario = |name: &str| root().join("scenarios").join(name).to_str().unwrap().to_string();
    let runs: [(&str, Vec<String>); 3] = [
        (
            "report.html",
            vec![
                "run".into(),
                scenario("quickstart.toml"),
                "--target".into(),
                "sim".into(),
                "--quiet".into(),
            ],
        ),
        (
            "compare.html",
            vec![
                "compare".into(),
                scenario("retry-compare.toml"),
                "--duration".into(),
                "2m".into(),
            ],
        ),
        (
            "plan.html",
            vec![
                "plan".into(),
                scenario("plan-quota.toml"),
                "--duration".into(),
                "2m".into(),
                "--no-probe".into(),
                "--no-growth".into(),
            ],
        ),
    ];
    runs.into_iter()
        .map(|(file, mut args)| {
            let out = dir.join(file.trim_end_matches(".html"));
            args.extend(["--out".into(), out.to_str().unwrap().to_string()]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let r = stampede(&args);
            assert!(r.code == 0 || r.code == 1, "{args:?}: {}", r.stderr);
            out.join(file)
        })
        .collect()
}

/// Whether a tool runs; in CI its absence is a failure (.ci/run installs it).
fn have(tool: &str, arg: &str) -> bool {
    let ok = std::process::Command::new(tool)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok || std::env::var_os("CI").is_none(),
        "CI is set but {tool} is missing: .ci/run installs it"
    );
    ok
}

#[test]
fn chromium_renders_every_page() {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"].into_iter().find(|c| {
        std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    }) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but no Chromium is on PATH: .ci/run installs it (apt-get install chromium)"
        );
        eprintln!("chromium_renders_every_page: no Chromium on PATH, skipped outside CI");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for page in pages(dir.path()) {
        for width in [420, 1400] {
            let png = dir.path().join(format!("shot-{width}.png"));
            let status = std::process::Command::new(chromium)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--hide-scrollbars",
                ])
                .arg(format!("--window-size={width},3000"))
                .arg(format!("--user-data-dir={}", dir.path().join("profile").display()))
                .arg(format!("--screenshot={}", png.display()))
                .arg(format!("file://{}", page.display()))
                .output()
                .expect("chromium runs");
            assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
            // A page of text, tables and plots is far from blank (a blank 420×3000 PNG
            // compresses to a few kilobytes).
            let bytes = std::fs::metadata(&png).unwrap().len();
            assert!(
                bytes > 50_000,
                "{} at {width} px: screenshot is {bytes} bytes",
                page.display()
            );
        }
    }
}

/// Every character outside ASCII in the pages is drawn by some installed font (`fc-list
/// :charset=`), so none shows as an empty box — the emoji the plan page once used did.
#[test]
fn pages_use_no_character_the_fonts_lack() {
    let dir = tempfile::tempdir().unwrap();
    let mut chars: Vec<char> = pages(dir.path())
        .iter()
        .flat_map(|p| std::fs::read_to_string(p).unwrap().chars().collect::<Vec<_>>())
        .filter(|c| !c.is_ascii())
        .collect();
    chars.sort_unstable();
    chars.dedup();
    // Emoji never: their glyphs come from colour fonts few machines have.
    let emoji: Vec<&char> = chars
        .iter()
        .filter(|c| ('\u{2600}'..='\u{27BF}').contains(*c) || **c >= '\u{1F000}')
        .collect();
    assert!(emoji.is_empty(), "{emoji:?}");
    if !have("fc-list", "--version") {
        eprintln!("no fc-list: font coverage not checked outside CI");
        return;
    }
    for c in chars {
        let o = std::process::Command::new("fc-list")
            .arg(format!(":charset={:x}", c as u32))
            .arg("family")
            .output()
            .unwrap();
        assert!(
            !o.stdout.is_empty(),
            "no installed font draws {c:?} (U+{:04X})",
            c as u32
        );
    }
}

/// The points of every `<polyline>` in an SVG, with its stroke width.
fn polylines(svg: &str) -> Vec<(String, Vec<(f64, f64)>)> {
    svg.split("<polyline")
        .skip(1)
        .map(|p| {
            let attr = |name: &str| {
                p.split(&format!("{name}=\""))
                    .nth(1)
                    .and_then(|r| r.split('"').next())
                    .unwrap_or("")
                    .to_string()
            };
            let points = attr("points")
                .split_whitespace()
                .filter_map(|xy| {
                    xy.split_once(',')
                        .and_then(|(x, y)| Some((x.parse().ok()?, y.parse().ok()?)))
                })
                .collect();
            (attr("stroke-width"), points)
        })
        .collect()
}

/// No chart's legend box holds a point of a series, a reference line or a mark: legends are
/// drawn in a strip of their own, and the SVG coordinates show it.
#[test]
fn no_legend_covers_a_series() {
    let dir = tempfile::tempdir().unwrap();
    let mut legends = 0;
    for page in pages(dir.path()) {
        let html = std::fs::read_to_string(&page).unwrap();
        for svg in html.split("<svg").skip(1) {
            let svg = svg.split("</svg>").next().unwrap();
            let Some(rect) = svg.split("<rect").find(|r| r.contains("stroke=\"#C8C8C9\"")) else {
                continue;
            };
            legends += 1;
            let num = |name: &str| -> f64 {
                rect.split(&format!(" {name}=\""))
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap()
            };
            let (x, y, w, h) = (num("x"), num("y"), num("width"), num("height"));
            for (width, points) in polylines(svg) {
                // Swatches belong in the legend; everything else must stay out.
                if width == stampede::report::plots::SWATCH_WIDTH.to_string() {
                    continue;
                }
                for (px, py) in points {
                    assert!(
                        !(px >= x && px <= x + w && py >= y && py <= y + h),
                        "{}: a series point ({px}, {py}) is inside the legend box ({x}, {y}, {w}×{h})",
                        page.display()
                    );
                }
            }
        }
    }
    // Every page has charts with legends: the check ran on them.
    assert!(legends >= 10, "only {legends} legends found");
}
