//! Charts of a run, drawn with plotters as SVG (for browsers and documents) and PNG (for
//! everything else), beside the other files of the run directory.
//!
//! - `write_plots` reads `metrics.jsonl` and draws one line chart per split and metric name
//!   (`plots/train_loss.svg`, `plots/test_accuracy.png`), step on the x axis, one line per node.
//!   Values logged without a step (those of `evaluate` nodes) and the `timing` split are left out:
//!   they have no course over steps to draw.
//! - `write_table_chart` draws a results table as a grouped bar chart: one group per row, one bar
//!   per column.
//!
//! Text is drawn with DejaVu Sans, embedded from `runtime/assets/` (its licence is beside it), so
//! charts look the same on every machine and no system font library is needed.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::backend::{BitMapBackend, DrawingBackend, SVGBackend};
use plotters::chart::{ChartBuilder, ChartContext, SeriesLabelPosition};
use plotters::coord::CoordTranslate;
use plotters::coord::Shift;
use plotters::drawing::{DrawingArea, DrawingAreaErrorKind, IntoDrawingArea};
use plotters::element::{PathElement, Rectangle, Text};
use plotters::series::LineSeries;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, Color, FontStyle, IntoFont, RGBColor, BLACK, WHITE};
use serde::Deserialize;

use crate::table::Table;

/// The font every chart's text is drawn with, registered under plotters' `sans-serif` family.
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// The size of every chart, in pixels (PNG) or user units (SVG).
const SIZE: (u32, u32) = (900, 540);

/// Line and bar colours, in order: Tableau 10, distinct and readable on white.
const COLORS: [RGBColor; 10] = [
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

/// What drawing on a backend ends with: plotters' error for that backend, turned into a
/// `PlotError` naming the file by `render`.
type Drawn<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// The most series a metric chart names in its legend.
const LEGEND_MOST: usize = 40;

/// Grid lines between the labelled ones.
const LIGHT_GRID: RGBColor = RGBColor(235, 235, 235);

/// Why a chart could not be written.
#[derive(Debug)]
pub enum PlotError {
    /// A file the charts are drawn from could not be read.
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The directory for the charts could not be created.
    CreateDir {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Drawing, encoding or writing one chart failed; `message` is plotters' error.
    Draw { path: PathBuf, message: String },
    /// The embedded font did not load: a bug in exp.
    Internal { message: String },
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlotError::Read { path, error } => {
                write!(f, "cannot read `{}`: {error}", path.display())
            }
            PlotError::CreateDir { path, error } => {
                write!(f, "cannot create `{}`: {error}", path.display())
            }
            PlotError::Draw { path, message } => {
                write!(f, "cannot draw `{}`: {message}", path.display())
            }
            PlotError::Internal { message } => write!(
                f,
                "{message}; this is a bug in exp, please report it with the command that failed"
            ),
        }
    }
}

impl std::error::Error for PlotError {}

/// One line of `metrics.jsonl`, as far as charts need it. A value that was not finite is
/// written as `null` by serde_json, hence the `Option`.
#[derive(Deserialize)]
struct MetricLine {
    node: String,
    step: Option<u64>,
    split: String,
    name: String,
    value: Option<f64>,
}

/// One node's values of one metric, in the order they were logged.
struct Series {
    node: String,
    points: Vec<(u64, f64)>,
}

/// One chart's series while the log is read, with where each node's is: a sweep of 30,000 runs
/// has as many series in one chart, and looking for a node's among them one by one took a
/// quarter of a 100,000-node cached rerun.
#[derive(Default)]
struct Gathered {
    series: Vec<Series>,
    of_node: HashMap<String, usize>,
}

impl Gathered {
    /// Adds a point to `node`'s series, which starts with it if it is the node's first.
    fn push(&mut self, node: String, point: (u64, f64)) {
        match self.of_node.get(&node) {
            Some(&index) => self.series[index].points.push(point),
            None => {
                self.of_node.insert(node.clone(), self.series.len());
                self.series.push(Series {
                    node,
                    points: vec![point],
                });
            }
        }
    }
}

/// Everything one chart draws: a split and metric name, and one series per node.
struct MetricChart {
    split: String,
    name: String,
    series: Vec<Series>,
    /// What the x axis counts: `step`, or `tokens` for the training loss of text phases.
    x: &'static str,
}

/// Reads `run_dir/metrics.jsonl` and writes `run_dir/plots/<split>_<name>.svg` and `.png` for
/// every split and metric that has values at steps, one line per node. Returns the files
/// written, sorted; none (and no `plots/`) when nothing has a step.
///
/// Lines that do not parse, such as a last line cut short when a run was killed, are skipped.
pub fn write_plots(run_dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let metrics_path = run_dir.join("metrics.jsonl");
    let text = std::fs::read_to_string(&metrics_path).map_err(|error| PlotError::Read {
        path: metrics_path.clone(),
        error,
    })?;
    let charts = metric_charts(&text);
    if charts.is_empty() {
        return Ok(Vec::new());
    }
    register_fonts()?;
    let plots_dir = run_dir.join("plots");
    std::fs::create_dir_all(&plots_dir).map_err(|error| PlotError::CreateDir {
        path: plots_dir.clone(),
        error,
    })?;
    let mut written = Vec::new();
    for chart in &charts {
        let stem = plots_dir.join(file_stem(&format!("{}_{}", chart.split, chart.name)));
        written.extend(render(
            &stem,
            |root| draw_metric_chart(root, chart),
            |root| draw_metric_chart(root, chart),
        )?);
    }
    written.sort();
    Ok(written)
}

/// Draws `table` as a grouped bar chart, one group per row and one bar per column, into
/// `<path_stem>.svg` and `<path_stem>.png`, creating the parent directory if needed. Returns the
/// files written; none when the table has no rows or no columns.
pub fn write_table_chart(table: &Table, path_stem: &Path) -> Result<Vec<PathBuf>, PlotError> {
    if table.rows.is_empty() || table.columns.is_empty() {
        return Ok(Vec::new());
    }
    render(
        path_stem,
        |root| draw_table_chart(root, table),
        |root| draw_table_chart(root, table),
    )
}

/// Draws a square matrix (the accuracy matrix of a task sequence: row i = after training task
/// i, column j = evaluated on task j) as a heatmap with each value written in its cell, into
/// `<path_stem>.svg` and `<path_stem>.png`.
pub fn write_heatmap(
    title: &str,
    matrix: &[Vec<f64>],
    path_stem: &Path,
) -> Result<Vec<PathBuf>, PlotError> {
    if matrix.is_empty() {
        return Ok(Vec::new());
    }
    render(
        path_stem,
        |root| draw_heatmap(root, title, matrix),
        |root| draw_heatmap(root, title, matrix),
    )
}

/// White (0) to dark blue (1); values outside [0, 1] are clamped.
fn heat_color(value: f64) -> RGBColor {
    let t = if value.is_finite() {
        value.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let channel = |from: f64, to: f64| (from + (to - from) * t).round() as u8;
    RGBColor(
        channel(247.0, 8.0),
        channel(251.0, 48.0),
        channel(255.0, 107.0),
    )
}

fn draw_heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    matrix: &[Vec<f64>],
) -> Drawn<DB> {
    root.fill(&WHITE)?;
    let n = matrix.len();
    let labels: Vec<String> = (1..=n).map(|task| format!("task {task}")).collect();
    let mut plot = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 24))
        .margin(18)
        .x_label_area_size(48)
        .y_label_area_size(110)
        .build_cartesian_2d(0.0..n as f64, 0.0..n as f64)?;
    plot.configure_mesh()
        .disable_mesh()
        .x_labels(0)
        .y_labels(0)
        .x_desc("evaluated on")
        .y_desc("after training")
        .axis_desc_style(("sans-serif", 17))
        .draw()?;
    // Row 0 (after the first task) at the top, as the matrix is written.
    let cells = matrix.iter().enumerate().flat_map(|(row, values)| {
        values.iter().enumerate().map(move |(column, value)| {
            let top = (n - row) as f64;
            Rectangle::new(
                [(column as f64, top), (column as f64 + 1.0, top - 1.0)],
                heat_color(*value).filled(),
            )
        })
    });
    plot.draw_series(cells)?;
    let centered = |color: &RGBColor| {
        ("sans-serif", 16)
            .into_font()
            .color(color)
            .pos(Pos::new(HPos::Center, VPos::Center))
    };
    for (row, values) in matrix.iter().enumerate() {
        for (column, value) in values.iter().enumerate() {
            let (x, y) = plot.backend_coord(&(column as f64 + 0.5, (n - row) as f64 - 0.5));
            let color = if *value > 0.55 { WHITE } else { BLACK };
            root.draw(&Text::new(format!("{value:.3}"), (x, y), centered(&color)))?;
        }
    }
    let label_style = |h: HPos, v: VPos| {
        ("sans-serif", 15)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(h, v))
    };
    for (index, label) in labels.iter().enumerate() {
        let (x, y) = plot.backend_coord(&(index as f64 + 0.5, 0.0));
        root.draw(&Text::new(
            label.as_str(),
            (x, y + 8),
            label_style(HPos::Center, VPos::Top),
        ))?;
        let (x, y) = plot.backend_coord(&(0.0, (n - index) as f64 - 0.5));
        root.draw(&Text::new(
            label.as_str(),
            (x - 8, y),
            label_style(HPos::Right, VPos::Center),
        ))?;
    }
    root.present()
}

/// A line of a chart against a sweep axis: (x, mean, std) per point, sorted by x.
pub struct AxisSeries {
    pub label: String,
    pub points: Vec<(f64, f64, Option<f64>)>,
}

/// Draws each series as a line with its points and a std error bar where there is one, into
/// `<path_stem>.svg` and `<path_stem>.png`.
pub fn write_line_chart(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[AxisSeries],
    path_stem: &Path,
) -> Result<Vec<PathBuf>, PlotError> {
    if series.iter().all(|line| line.points.is_empty()) {
        return Ok(Vec::new());
    }
    render(
        path_stem,
        |root| draw_line_chart(root, title, x_desc, y_desc, series),
        |root| draw_line_chart(root, title, x_desc, y_desc, series),
    )
}

fn draw_line_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[AxisSeries],
) -> Drawn<DB> {
    root.fill(&WHITE)?;
    let points = || series.iter().flat_map(|line| line.points.iter());
    let x_low = points().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let x_high = points().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let y_low = points()
        .map(|p| p.1 - p.2.unwrap_or(0.0))
        .fold(f64::INFINITY, f64::min);
    let y_high = points()
        .map(|p| p.1 + p.2.unwrap_or(0.0))
        .fold(f64::NEG_INFINITY, f64::max);
    let mut plot = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 24))
        .margin(18)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(padded(x_low, x_high), padded(y_low, y_high))?;
    plot.configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .light_line_style(LIGHT_GRID)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()?;
    for (index, line) in series.iter().enumerate() {
        let color = COLORS[index % COLORS.len()];
        plot.draw_series(LineSeries::new(
            line.points.iter().map(|p| (p.0, p.1)),
            color.stroke_width(2),
        ))?
        .label(line.label.as_str())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        plot.draw_series(line.points.iter().filter_map(|p| {
            let std = p.2?;
            Some(PathElement::new(
                vec![(p.0, p.1 - std), (p.0, p.1 + std)],
                color.stroke_width(1),
            ))
        }))?;
        plot.draw_series(
            line.points
                .iter()
                .map(|p| plotters::element::Circle::new((p.0, p.1), 4, color.filled())),
        )?;
    }
    finish_with_legend(&mut plot, root, SeriesLabelPosition::LowerRight)
}

/// Draws the series' legend at `position`, in the one style every chart shares, and presents
/// the drawing.
fn finish_with_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    plot: &mut ChartContext<'a, DB, CT>,
    root: &DrawingArea<DB, Shift>,
    position: SeriesLabelPosition,
) -> Drawn<DB> {
    plot.configure_series_labels()
        .position(position)
        .label_font(("sans-serif", 16))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()
}

/// Registers the embedded font once per process.
fn register_fonts() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let registered =
        *REGISTERED.get_or_init(|| register_font("sans-serif", FontStyle::Normal, FONT).is_ok());
    if registered {
        Ok(())
    } else {
        Err(PlotError::Internal {
            message: "the embedded font DejaVuSans.ttf does not load".to_string(),
        })
    }
}

/// Draws one chart twice, as `<stem>.svg` and `<stem>.png`, creating the directory if need be.
/// The two closures are the same drawing for the two backends (a closure cannot be generic over
/// the backend).
fn render<Svg, Png>(stem: &Path, draw_svg: Svg, draw_png: Png) -> Result<Vec<PathBuf>, PlotError>
where
    Svg: FnOnce(&DrawingArea<SVGBackend, Shift>) -> Drawn<SVGBackend<'static>> + Send,
    Png: FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Drawn<BitMapBackend<'static>>,
{
    register_fonts()?;
    create_parent(stem)?;
    let svg_path = with_suffix(stem, ".svg");
    let png_path = with_suffix(stem, ".png");
    // The two drawings at once: a chart of a large sweep's thousands of curves takes a while.
    std::thread::scope(|scope| {
        let svg = scope.spawn(|| {
            let root = SVGBackend::new(&svg_path, SIZE).into_drawing_area();
            draw_svg(&root).map_err(|error| PlotError::Draw {
                path: svg_path.clone(),
                message: error.to_string(),
            })
        });
        let root = BitMapBackend::new(&png_path, SIZE).into_drawing_area();
        let png = draw_png(&root).map_err(|error| PlotError::Draw {
            path: png_path.clone(),
            message: error.to_string(),
        });
        drop(root);
        let svg = svg.join().map_err(|_| PlotError::Draw {
            path: svg_path.clone(),
            message: "the drawing panicked".to_string(),
        })?;
        svg.and(png)
    })?;
    Ok(vec![svg_path, png_path])
}

/// The layout of the pixels `write_image_grid` draws: `count` images of `height` × `width`,
/// `channels` (1 or 3) bytes per pixel, image after image, row after row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageShape {
    pub count: usize,
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

/// Screen pixels per image pixel in a grid: small images stay visible.
const GRID_SCALE: usize = 4;
/// Pixels of white between the images of a grid.
const GRID_GAP: usize = 2;

/// Draws images as a square-ish grid in a PNG at `path` (generated samples), each pixel
/// enlarged `GRID_SCALE` times, creating the directory if need be.
pub fn write_image_grid(path: &Path, pixels: &[u8], shape: ImageShape) -> Result<(), PlotError> {
    let ImageShape {
        count,
        height,
        width,
        channels,
    } = shape;
    let draw_error = |message: String| PlotError::Draw {
        path: path.to_path_buf(),
        message,
    };
    if count == 0 || pixels.len() != count * height * width * channels {
        return Err(draw_error(format!(
            "{} bytes do not hold {count} images of {height}×{width}×{channels}",
            pixels.len()
        )));
    }
    create_parent(path)?;
    let columns = (count as f64).sqrt().ceil() as usize;
    let rows = count.div_ceil(columns);
    let (cell_w, cell_h) = (
        width * GRID_SCALE + GRID_GAP,
        height * GRID_SCALE + GRID_GAP,
    );
    let size = (
        (columns * cell_w + GRID_GAP) as u32,
        (rows * cell_h + GRID_GAP) as u32,
    );
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)
        .map_err(|error| draw_error(error.to_string()))?;
    for (image, bytes) in pixels.chunks(height * width * channels).enumerate() {
        let (left, top) = (
            GRID_GAP + (image % columns) * cell_w,
            GRID_GAP + (image / columns) * cell_h,
        );
        for (index, pixel) in bytes.chunks(channels).enumerate() {
            let color = match pixel {
                [r, g, b] => RGBColor(*r, *g, *b),
                [gray, ..] => RGBColor(*gray, *gray, *gray),
                [] => continue,
            };
            let x = (left + (index % width) * GRID_SCALE) as i32;
            let y = (top + (index / width) * GRID_SCALE) as i32;
            // plotters fills a rectangle up to, not including, its far corner.
            let corner = (x + GRID_SCALE as i32, y + GRID_SCALE as i32);
            root.draw(&Rectangle::new([(x, y), corner], color.filled()))
                .map_err(|error| draw_error(error.to_string()))?;
        }
    }
    root.present()
        .map_err(|error| draw_error(error.to_string()))
}

/// Creates the directory a picture at `path` goes into, if need be.
fn create_parent(path: &Path) -> Result<(), PlotError> {
    match path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        Some(parent) => std::fs::create_dir_all(parent).map_err(|error| PlotError::CreateDir {
            path: parent.to_path_buf(),
            error,
        }),
        None => Ok(()),
    }
}

/// `stem` with `suffix` appended (`with_extension` would cut a stem that contains a dot).
fn with_suffix(stem: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(stem.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// A file name made of `text`, with anything but letters, digits, `-`, `_` and `.` replaced by
/// `_`, so a metric name cannot reach outside `plots/`.
fn file_stem(text: &str) -> String {
    text.chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || matches!(character, '-' | '_' | '.') {
                character
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_start_matches('.')
        .to_string()
}

/// Groups the metrics log into charts: per (split, name), sorted; per node, in the order nodes
/// first logged that metric. A phase that logs the tokens it has seen (`train`/`tokens`, text)
/// also gets its training loss against tokens (`train_loss_by_tokens`), the axis runs of
/// different batch or window sizes compare on; the tokens themselves are not a chart.
fn metric_charts(text: &str) -> Vec<MetricChart> {
    let mut charts: BTreeMap<(String, String), Gathered> = BTreeMap::new();
    let mut tokens: BTreeMap<String, BTreeMap<u64, f64>> = BTreeMap::new();
    for line in text.lines() {
        let Ok(metric) = serde_json::from_str::<MetricLine>(line) else {
            continue;
        };
        let (Some(step), Some(value)) = (metric.step, metric.value) else {
            continue;
        };
        if metric.split == "timing" || !value.is_finite() {
            continue;
        }
        if metric.split == "train" && metric.name == "tokens" {
            tokens.entry(metric.node).or_default().insert(step, value);
            continue;
        }
        charts
            .entry((metric.split, metric.name))
            .or_default()
            .push(metric.node, (step, value));
    }
    let by_tokens: Vec<Series> = charts
        .get(&("train".to_string(), "loss".to_string()))
        .into_iter()
        .flat_map(|chart| &chart.series)
        .filter_map(|series| {
            let seen = tokens.get(&series.node)?;
            let points = series
                .points
                .iter()
                .filter_map(|(step, value)| Some((*seen.get(step)? as u64, *value)))
                .collect();
            Some(Series {
                node: series.node.clone(),
                points,
            })
        })
        .collect();
    let mut charts: Vec<MetricChart> = charts
        .into_iter()
        .map(|((split, name), chart)| MetricChart {
            split,
            name,
            series: chart.series,
            x: "step",
        })
        .collect();
    if !by_tokens.is_empty() {
        charts.push(MetricChart {
            split: "train".to_string(),
            name: "loss_by_tokens".to_string(),
            series: by_tokens,
            x: "tokens",
        });
    }
    charts
}

/// `low..high` widened by 5% on each side, or by 1 when the values are all equal.
fn padded(low: f64, high: f64) -> std::ops::Range<f64> {
    let span = high - low;
    if span > 0.0 {
        (low - span * 0.05)..(high + span * 0.05)
    } else {
        (low - 1.0)..(high + 1.0)
    }
}

fn draw_metric_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &MetricChart,
) -> Drawn<DB> {
    root.fill(&WHITE)?;
    let points = || chart.series.iter().flat_map(|series| &series.points);
    let first_step = points().map(|(step, _)| *step).min().unwrap_or(0);
    let last_step = points().map(|(step, _)| *step).max().unwrap_or(0);
    let steps = if first_step < last_step {
        first_step..last_step
    } else {
        first_step.saturating_sub(1)..last_step + 1
    };
    let low = points()
        .map(|(_, value)| *value)
        .fold(f64::INFINITY, f64::min);
    let high = points()
        .map(|(_, value)| *value)
        .fold(f64::NEG_INFINITY, f64::max);
    let values = padded(low, high);
    // The legend goes where the lines end least: below them when they end high.
    let middle = (values.start + values.end) / 2.0;
    let ends_high = chart
        .series
        .iter()
        .filter_map(|series| series.points.last())
        .filter(|(_, value)| *value > middle)
        .count()
        * 2
        > chart.series.len();
    let legend_position = if ends_high {
        SeriesLabelPosition::LowerRight
    } else {
        SeriesLabelPosition::UpperRight
    };

    // A legend of more nodes than fit says nothing (and drawing 30,000 labels took seconds):
    // past `LEGEND_MOST` the caption counts the runs instead.
    let labelled = chart.series.len() <= LEGEND_MOST;
    let caption = if labelled {
        format!("{} {}", chart.split, chart.name)
    } else {
        format!(
            "{} {} ({} runs)",
            chart.split,
            chart.name,
            chart.series.len()
        )
    };
    let mut plot = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 24))
        .margin(18)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(steps, values)?;
    plot.configure_mesh()
        .x_desc(chart.x)
        .y_desc(chart.name.as_str())
        .light_line_style(LIGHT_GRID)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()?;
    for (index, series) in chart.series.iter().enumerate() {
        let color = COLORS[index % COLORS.len()];
        let drawn = plot.draw_series(
            LineSeries::new(series.points.iter().copied(), color.stroke_width(2)).point_size(3),
        )?;
        if labelled {
            drawn.label(series.node.as_str()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
        }
    }
    if labelled {
        finish_with_legend(&mut plot, root, legend_position)
    } else {
        root.present()
    }
}

fn draw_table_chart<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, table: &Table) -> Drawn<DB> {
    root.fill(&WHITE)?;
    let n_rows = table.rows.len();
    let n_columns = table.columns.len();
    let finite = || {
        table
            .rows
            .iter()
            .flat_map(|(_, values)| values.iter().flatten().copied())
            .filter(|value| value.is_finite())
    };
    // Bars grow from zero, so zero is always on the axis.
    let low = finite().fold(0.0, f64::min);
    let high = finite().fold(0.0, f64::max);
    let values = padded(low, high);
    let mut plot = ChartBuilder::on(root)
        .caption(table.name.as_str(), ("sans-serif", 24))
        .margin(18)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(0.0..n_rows as f64, values.clone())?;
    // The x axis is the row names, one under each group; plotters would label the x axis with
    // numbers of its choosing, so the names are drawn beneath the axis by hand.
    plot.configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .x_desc("node")
        .light_line_style(LIGHT_GRID)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()?;
    let name_style = ("sans-serif", 15)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Top));
    for (row_index, (name, _)) in table.rows.iter().enumerate() {
        let (x, y) = plot.backend_coord(&(row_index as f64 + 0.5, values.start));
        root.draw(&Text::new(name.as_str(), (x, y + 8), name_style.clone()))?;
    }
    let width = 0.8 / n_columns as f64;
    for (column_index, column) in table.columns.iter().enumerate() {
        let color = COLORS[column_index % COLORS.len()];
        let bars = table
            .rows
            .iter()
            .enumerate()
            .filter_map(move |(row_index, (_, row_values))| {
                let value = row_values
                    .get(column_index)
                    .copied()
                    .flatten()
                    .filter(|value| value.is_finite())?;
                let left = row_index as f64 + 0.1 + column_index as f64 * width;
                Some(Rectangle::new(
                    [(left, 0.0), (left + width, value)],
                    color.filled(),
                ))
            });
        plot.draw_series(bars)?
            .label(column.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
    }
    finish_with_legend(&mut plot, root, SeriesLabelPosition::UpperRight)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{
        file_stem, metric_charts, write_image_grid, write_plots, write_table_chart, ImageShape,
        GRID_GAP, GRID_SCALE, LEGEND_MOST,
    };
    use crate::table::Table;

    const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

    const METRICS: &str = r#"{"node":"alpha","step":5,"split":"train","name":"loss","value":2.0}
{"node":"beta","step":5,"split":"train","name":"loss","value":2.2}
{"node":"alpha","step":10,"split":"train","name":"loss","value":1.1}
{"node":"beta","step":10,"split":"train","name":"loss","value":1.4}
{"node":"alpha","step":10,"split":"test","name":"accuracy","value":0.8}
{"node":"alpha","step":10,"split":"timing","name":"step_ms","value":3.0}
{"node":"alpha_eval","step":null,"split":"test","name":"loss","value":0.9}
{"node":"alpha","step":15,"split":"train","name":"loss","val
"#;

    fn assert_chart(stem: &Path, names: &[&str]) {
        let svg = std::fs::read_to_string(stem.with_extension("svg")).unwrap();
        for name in names {
            assert!(svg.contains(name), "`{name}` is not in {}", stem.display());
        }
        let png = std::fs::read(stem.with_extension("png")).unwrap();
        assert!(png.len() > 1000, "{} is too small", stem.display());
        assert!(png.starts_with(PNG_MAGIC));
    }

    #[test]
    fn one_chart_per_split_and_metric_with_a_line_per_node() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("metrics.jsonl"), METRICS).unwrap();
        let written = write_plots(dir.path()).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|path| path.strip_prefix(dir.path()).unwrap().display().to_string())
            .collect();
        // No chart for the timing split, nor for `test loss`, logged only without a step.
        assert_eq!(
            names,
            [
                "plots/test_accuracy.png",
                "plots/test_accuracy.svg",
                "plots/train_loss.png",
                "plots/train_loss.svg"
            ]
        );
        assert_chart(
            &dir.path().join("plots/train_loss"),
            &["alpha", "beta", "step"],
        );
        assert_chart(
            &dir.path().join("plots/test_accuracy"),
            &["alpha", "accuracy"],
        );
    }

    /// Past `LEGEND_MOST` series a chart counts its runs in the caption instead of naming each;
    /// every node's points stay in its own series, in the order the log first names it.
    #[test]
    fn a_chart_of_many_runs_counts_them_instead_of_naming_them() {
        let lines = |nodes: usize| -> String {
            (0..nodes)
                .flat_map(|node| {
                    [1, 2].map(|step| {
                        format!(
                            "{{\"node\":\"run{node}\",\"step\":{step},\"split\":\"train\",\"name\":\"loss\",\"value\":{}}}\n",
                            node + step
                        )
                    })
                })
                .collect()
        };
        let charts = metric_charts(&lines(3));
        assert_eq!(charts.len(), 1);
        let series: Vec<(&str, &[(u64, f64)])> = charts[0]
            .series
            .iter()
            .map(|series| (series.node.as_str(), series.points.as_slice()))
            .collect();
        assert_eq!(
            series,
            [
                ("run0", &[(1, 1.0), (2, 2.0)][..]),
                ("run1", &[(1, 2.0), (2, 3.0)][..]),
                ("run2", &[(1, 3.0), (2, 4.0)][..]),
            ]
        );
        for (nodes, named) in [(LEGEND_MOST, true), (LEGEND_MOST + 1, false)] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("metrics.jsonl"), lines(nodes)).unwrap();
            write_plots(dir.path()).unwrap();
            let svg = std::fs::read_to_string(dir.path().join("plots/train_loss.svg")).unwrap();
            // Text elements hold their text on a line of its own.
            assert_eq!(svg.contains("\nrun0\n"), named, "{nodes} runs");
            assert_eq!(
                svg.contains(&format!("train loss ({nodes} runs)")),
                !named,
                "{nodes} runs"
            );
        }
    }

    #[test]
    fn a_phase_that_logs_tokens_gets_its_loss_against_tokens() {
        let line = |node: &str, step: u64, name: &str, value: f64| {
            format!(
                "{{\"node\":\"{node}\",\"step\":{step},\"split\":\"train\",\"name\":\"{name}\",\"value\":{value}}}\n"
            )
        };
        let text: String = [
            line("lm", 10, "loss", 5.0),
            line("lm", 10, "tokens", 2560.0),
            line("lm", 20, "loss", 4.0),
            line("lm", 20, "tokens", 5120.0),
            line("net", 10, "loss", 1.0),
        ]
        .concat();
        let charts = metric_charts(&text);
        let names: Vec<(&str, &str)> = charts
            .iter()
            .map(|chart| (chart.name.as_str(), chart.x))
            .collect();
        assert_eq!(names, [("loss", "step"), ("loss_by_tokens", "tokens")]);
        let by_tokens = &charts[1].series;
        assert_eq!(by_tokens.len(), 1, "only the phase that logged tokens");
        assert_eq!(by_tokens[0].node, "lm");
        assert_eq!(by_tokens[0].points, [(2560, 5.0), (5120, 4.0)]);
    }

    #[test]
    fn no_steps_no_charts_and_a_missing_log_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("metrics.jsonl"),
            "{\"node\":\"e\",\"step\":null,\"split\":\"test\",\"name\":\"loss\",\"value\":1.0}\n",
        )
        .unwrap();
        assert!(write_plots(dir.path()).unwrap().is_empty());
        assert!(!dir.path().join("plots").exists());
        let missing = write_plots(&dir.path().join("nowhere")).unwrap_err();
        assert!(
            missing.to_string().starts_with("cannot read `"),
            "{missing}"
        );
    }

    #[test]
    fn a_table_becomes_a_grouped_bar_chart() {
        let dir = tempfile::tempdir().unwrap();
        let table = Table {
            name: "results".into(),
            columns: vec!["accuracy".into(), "loss".into()],
            rows: vec![
                ("a_eval".into(), vec![Some(0.9), Some(0.3)]),
                ("soup_eval".into(), vec![Some(0.95), None]),
            ],
            ..Table::default()
        };
        let stem = dir.path().join("charts/results");
        let written = write_table_chart(&table, &stem).unwrap();
        assert_eq!(written.len(), 2);
        assert_chart(&stem, &["a_eval", "soup_eval", "accuracy", "loss"]);
        let empty = Table {
            name: "empty".into(),
            ..Table::default()
        };
        assert!(write_table_chart(&empty, &dir.path().join("empty"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn an_accuracy_matrix_becomes_a_heatmap() {
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("seq_heatmap");
        let matrix = vec![vec![0.9, 0.1], vec![0.6, 0.85]];
        let written = super::write_heatmap("seq: accuracy", &matrix, &stem).unwrap();
        assert_eq!(written.len(), 2);
        assert_chart(&stem, &["seq: accuracy", "0.900", "0.850", "task 2"]);
    }

    #[test]
    fn file_names_stay_inside_the_plots_directory() {
        assert_eq!(file_stem("train_loss"), "train_loss");
        assert_eq!(file_stem("../x/y z"), "_x_y_z");
    }

    #[test]
    fn image_grids_are_square_ish_pngs_of_enlarged_pixels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("samples/grid.png");
        // Three RGB images of 2×2 pixels: two columns, two rows of cells.
        let shape = ImageShape {
            count: 3,
            height: 2,
            width: 2,
            channels: 3,
        };
        write_image_grid(&path, &[200u8; 36], shape).unwrap();
        let png = std::fs::read(&path).unwrap();
        assert_eq!(&png[..8], PNG_MAGIC);
        // IHDR: width and height, big-endian, after the signature, length and chunk type.
        let side = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let cell = 2 * GRID_SCALE + GRID_GAP;
        assert_eq!(
            (side(16), side(20)),
            (2 * cell + GRID_GAP, 2 * cell + GRID_GAP)
        );
        // Bytes that do not hold the images are refused, and nothing is drawn for none.
        assert!(write_image_grid(&path, &[0u8; 35], shape).is_err());
        let none = ImageShape { count: 0, ..shape };
        assert!(write_image_grid(&path, &[], none).is_err());
    }
}
