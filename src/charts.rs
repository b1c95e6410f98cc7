//! Canvas charts drawn with plotters: line charts over training steps,
//! heatmaps with a viridis colour bar and a read-out under the cursor, and
//! the gate histogram.
//!
//! Line colours come from the Okabe-Ito palette and the heatmaps from
//! viridis, both readable with the common forms of colour blindness; a
//! second series style (dashed) separates reference lines without colour.

use std::rc::Rc;

use plotters::prelude::*;
use web_sys::HtmlCanvasElement;
use yew::prelude::*;

use crate::a11y::{arrow_move, cell_text, heatmap_summary, histogram_summary, line_summary};
use crate::canvas_backend::MeasuredCanvas;
use crate::components::{use_strings, PngButton};

/// Okabe-Ito colours, in the order series take them.
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(230, 159, 0),   // orange
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(213, 94, 0),    // vermillion
];

const FONT: &str = "sans-serif";

/// One line of a line chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    /// Index into [`PALETTE`].
    pub color: usize,
    /// Dashed, for reference lines.
    pub dashed: bool,
}

#[derive(Properties, PartialEq)]
pub struct LineChartProps {
    pub title: AttrValue,
    pub x_label: AttrValue,
    pub series: Rc<Vec<Series>>,
    /// Fixed y range; without it the range fits the data.
    #[prop_or_default]
    pub y_range: Option<(f64, f64)>,
    #[prop_or(AttrValue::Static("chart"))]
    pub testid: AttrValue,
}

/// Draws series over training steps, with a legend.
#[function_component(LineChart)]
pub fn line_chart(props: &LineChartProps) -> Html {
    let strings = use_strings();
    let canvas = use_node_ref();
    {
        let canvas = canvas.clone();
        let data = (props.title.clone(), props.x_label.clone(), props.series.clone(), props.y_range);
        use_effect_with(data, move |(title, x_label, series, y_range)| {
            if let Some(element) = canvas.cast::<HtmlCanvasElement>() {
                // A drawing error only leaves the canvas incomplete.
                let _ = draw_lines(element, title, x_label, series, *y_range);
            }
        });
    }
    html! {
        <figure class="chart">
            <figcaption>{ props.title.clone() }</figcaption>
            <canvas ref={canvas.clone()} data-testid={props.testid.clone()} width="440" height="240" role="img"
                aria-label={line_summary(strings, &props.title, &props.series)}></canvas>
            <PngButton {canvas} name={props.testid.clone()} />
        </figure>
    }
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn backend(element: HtmlCanvasElement) -> Result<MeasuredCanvas, Box<dyn std::error::Error>> {
    MeasuredCanvas::new(element).ok_or_else(|| "the canvas has no 2D context".into())
}

/// Formats a tick on the step axis. Steps are integers, so a tick between
/// two steps (plotters puts ticks at 0.5 on a short history) gets no label.
fn step_tick_label(x: &f64) -> String {
    let rounded = x.round();
    if (x - rounded).abs() < 1e-6 {
        format!("{}", rounded as i64)
    } else {
        String::new()
    }
}

fn draw_lines(element: HtmlCanvasElement, _title: &str, x_label: &str, series: &[Series], y_range: Option<(f64, f64)>) -> DrawResult {
    let root = backend(element)?.into_drawing_area();
    root.fill(&WHITE)?;

    let points = series.iter().flat_map(|s| s.points.iter()).filter(|(_, y)| y.is_finite());
    let (mut x_max, mut y_min, mut y_max) = (1.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in points {
        x_max = x_max.max(x);
        y_min = y_min.min(y);
        y_max = y_max.max(y);
    }
    let (y_min, y_max) = match y_range {
        Some(range) => range,
        None if y_min.is_finite() => {
            let pad = ((y_max - y_min) * 0.08).max(1e-3);
            (y_min - pad, y_max + pad)
        }
        None => (0.0, 1.0),
    };

    let mut chart = ChartBuilder::on(&root)
        .margin(8)
        .x_label_area_size(44) // tick labels and the axis name below them
        .y_label_area_size(44)
        .build_cartesian_2d(0.0..x_max, y_min..y_max)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .x_label_formatter(&step_tick_label)
        .light_line_style(WHITE.mix(0.0))
        .label_style((FONT, 11))
        .draw()?;

    for line in series {
        let color = PALETTE[line.color % PALETTE.len()];
        let style = color.stroke_width(2);
        let finite: Vec<(f64, f64)> = line.points.iter().copied().filter(|(_, y)| y.is_finite()).collect();
        // A series without data (a gate line of a run without a gate) gets
        // no legend entry either.
        if finite.is_empty() {
            continue;
        }
        let legend_style = style;
        let dashed = line.dashed;
        let legend = move |(x, y): (i32, i32)| -> DynElement<'static, MeasuredCanvas, (i32, i32)> {
            if dashed {
                PathElement::new(vec![(x, y), (x + 6, y)], legend_style).into_dyn()
            } else {
                PathElement::new(vec![(x, y), (x + 16, y)], legend_style).into_dyn()
            }
        };
        if line.dashed {
            chart.draw_series(DashedLineSeries::new(finite, 6, 4, style))?.label(line.label.as_str()).legend(legend);
        } else {
            chart.draw_series(LineSeries::new(finite, style))?.label(line.label.as_str()).legend(legend);
        }
    }
    chart
        .configure_series_labels()
        .position(legend_position(series, x_max, (y_min, y_max)))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 11))
        .draw()?;
    root.present()?;
    Ok(())
}

/// Returns the viridis colour of `value` in [0, 1].
fn viridis(value: f64) -> RGBColor {
    let color = colorous::VIRIDIS.eval_continuous(value.clamp(0.0, 1.0));
    RGBColor(color.r, color.g, color.b)
}

/// A matrix of values in [0, max] drawn as coloured cells.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    /// Row-major values.
    pub values: Vec<f32>,
    /// Values at or above this get the brightest colour.
    pub max: f32,
    /// Labels along the rows and the columns; empty for none.
    pub row_labels: Vec<String>,
    pub col_labels: Vec<String>,
}

/// Pixel layout of a heatmap canvas.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Layout {
    left: f64,
    top: f64,
    cell_w: f64,
    cell_h: f64,
}

impl Layout {
    const BAR_WIDTH: f64 = 56.0;

    fn new(matrix: &Matrix, width: f64, height: f64, legend: bool) -> Layout {
        let labelled = !matrix.row_labels.is_empty();
        let left = if labelled { 46.0 } else { 2.0 };
        let top = if labelled { 30.0 } else { 2.0 };
        let bottom = 2.0;
        let bar = if legend { Self::BAR_WIDTH } else { 2.0 };
        let cell_w = (width - left - bar) / matrix.cols.max(1) as f64;
        let cell_h = (height - top - bottom) / matrix.rows.max(1) as f64;
        Layout { left, top, cell_w, cell_h }
    }

    fn cell_at(&self, matrix: &Matrix, x: f64, y: f64) -> Option<(usize, usize)> {
        let col = ((x - self.left) / self.cell_w).floor();
        let row = ((y - self.top) / self.cell_h).floor();
        if col < 0.0 || row < 0.0 || col as usize >= matrix.cols || row as usize >= matrix.rows {
            return None;
        }
        Some((row as usize, col as usize))
    }
}

#[derive(Properties, PartialEq)]
pub struct HeatmapProps {
    pub matrix: Rc<Matrix>,
    pub width: u32,
    pub height: u32,
    /// Names of the row and the column axis for the read-out under the cursor.
    #[prop_or_default]
    pub axis_names: Option<(AttrValue, AttrValue)>,
    /// Draw the colour bar.
    #[prop_or(true)]
    pub legend: bool,
    #[prop_or(AttrValue::Static("heatmap"))]
    pub testid: AttrValue,
    /// Title that the screen-reader summary starts with.
    #[prop_or_default]
    pub label: AttrValue,
}

/// Draws a matrix with a viridis colour bar; with axis names, shows the cell
/// under the cursor and its value.
#[function_component(Heatmap)]
pub fn heatmap(props: &HeatmapProps) -> Html {
    let canvas = use_node_ref();
    let hover = use_state(|| None::<(usize, usize)>);
    let (width, height) = (props.width as f64, props.height as f64);
    {
        let canvas = canvas.clone();
        use_effect_with((props.matrix.clone(), props.legend), move |(matrix, legend)| {
            if let Some(element) = canvas.cast::<HtmlCanvasElement>() {
                let _ = draw_matrix(element, matrix, width, height, *legend);
            }
        });
    }

    let onmousemove = {
        let hover = hover.clone();
        let matrix = props.matrix.clone();
        let legend = props.legend;
        Callback::from(move |event: MouseEvent| {
            let layout = Layout::new(&matrix, width, height, legend);
            hover.set(layout.cell_at(&matrix, event.offset_x() as f64, event.offset_y() as f64));
        })
    };
    let onmouseleave = {
        let hover = hover.clone();
        Callback::from(move |_| hover.set(None))
    };
    // The keyboard moves the same cursor as the mouse, and the read-out
    // below, an aria-live region, announces the cell.
    let onkeydown = {
        let hover = hover.clone();
        let shape = (props.matrix.rows, props.matrix.cols);
        Callback::from(move |event: KeyboardEvent| {
            if let Some(cell) = arrow_move(&event.key(), hover.unwrap_or((0, 0)), shape) {
                event.prevent_default();
                hover.set(Some(cell));
            }
        })
    };
    let onfocus = {
        let hover = hover.clone();
        Callback::from(move |_: FocusEvent| {
            if hover.is_none() {
                hover.set(Some((0, 0)));
            }
        })
    };

    let strings = use_strings();
    let names = match &props.axis_names {
        Some((row_name, col_name)) => (row_name.to_string(), col_name.to_string()),
        None => (strings.heatmap_rows.to_string(), strings.heatmap_cols.to_string()),
    };
    let summary = heatmap_summary(strings, &props.label, &props.matrix, (&names.0, &names.1));
    let readout = match (&props.axis_names, *hover) {
        (Some(_), Some(cell)) => cell_text(&props.matrix, (&names.0, &names.1), cell),
        (Some(_), None) => "\u{a0}".to_string(),
        _ => String::new(),
    };

    html! {
        <figure class="heatmap">
            if props.axis_names.is_some() {
                <canvas ref={canvas.clone()} data-testid={props.testid.clone()} width={props.width.to_string()}
                    height={props.height.to_string()} role="img" aria-label={summary} tabindex="0"
                    {onmousemove} {onmouseleave} {onkeydown} {onfocus}></canvas>
                <figcaption class="readout" aria-live="polite" data-testid="heatmap-readout">{ readout }</figcaption>
                <PngButton canvas={canvas.clone()} name={props.testid.clone()} />
            } else {
                <canvas ref={canvas} data-testid={props.testid.clone()} width={props.width.to_string()}
                    height={props.height.to_string()} role="img" aria-label={summary}></canvas>
            }
        </figure>
    }
}

fn draw_matrix(element: HtmlCanvasElement, matrix: &Matrix, width: f64, height: f64, legend: bool) -> DrawResult {
    let root = backend(element)?.into_drawing_area();
    root.fill(&WHITE)?;
    let layout = Layout::new(matrix, width, height, legend);
    let max = if matrix.max > 0.0 { matrix.max as f64 } else { 1.0 };

    for row in 0..matrix.rows {
        for col in 0..matrix.cols {
            let value = matrix.values.get(row * matrix.cols + col).copied().unwrap_or(0.0) as f64;
            let x0 = layout.left + col as f64 * layout.cell_w;
            let y0 = layout.top + row as f64 * layout.cell_h;
            let corners = [(x0 as i32, y0 as i32), ((x0 + layout.cell_w).ceil() as i32, (y0 + layout.cell_h).ceil() as i32)];
            root.draw(&Rectangle::new(corners, viridis(value / max).filled()))?;
        }
    }

    // Axis labels: at most about 16 per axis, so they stay readable.
    let small = (FONT, 10).into_font().color(&BLACK);
    if !matrix.row_labels.is_empty() {
        let every = matrix.rows.div_ceil(16).max(1);
        for (row, label) in matrix.row_labels.iter().enumerate().step_by(every) {
            let y = layout.top + (row as f64 + 0.5) * layout.cell_h;
            let style = small.clone().pos(text_anchor(HPos::Right, VPos::Center));
            root.draw(&Text::new(label.clone(), ((layout.left - 4.0) as i32, y as i32), style))?;
        }
    }
    if !matrix.col_labels.is_empty() {
        let every = matrix.cols.div_ceil(16).max(1);
        for (col, label) in matrix.col_labels.iter().enumerate().step_by(every) {
            let x = layout.left + (col as f64 + 0.5) * layout.cell_w;
            let style = small.clone().pos(text_anchor(HPos::Center, VPos::Bottom));
            root.draw(&Text::new(label.clone(), (x as i32, (layout.top - 4.0) as i32), style))?;
        }
    }

    if !legend {
        root.present()?;
        return Ok(());
    }
    // Colour bar with its scale: the legend of the heatmap.
    let bar_left = width - Layout::BAR_WIDTH + 10.0;
    let bar_top = layout.top;
    let bar_height = height - layout.top - 4.0;
    let steps = 64;
    for i in 0..steps {
        let fraction = i as f64 / (steps - 1) as f64;
        let y0 = bar_top + (1.0 - (i + 1) as f64 / steps as f64) * bar_height;
        let y1 = bar_top + (1.0 - i as f64 / steps as f64) * bar_height;
        let corners = [(bar_left as i32, y0 as i32), ((bar_left + 10.0) as i32, y1.ceil() as i32)];
        root.draw(&Rectangle::new(corners, viridis(fraction).filled()))?;
    }
    for (fraction, text) in [(1.0, format!("{max:.2}")), (0.5, format!("{:.2}", max / 2.0)), (0.0, "0".to_string())] {
        let y = bar_top + (1.0 - fraction) * bar_height;
        let style = small.clone().pos(text_anchor(HPos::Left, VPos::Center));
        root.draw(&Text::new(text, ((bar_left + 13.0) as i32, y as i32), style))?;
    }
    root.present()?;
    Ok(())
}

fn text_anchor(h: HPos, v: VPos) -> plotters::style::text_anchor::Pos {
    plotters::style::text_anchor::Pos::new(h, v)
}

use plotters::style::text_anchor::{HPos, VPos};

#[derive(Properties, PartialEq)]
pub struct HistogramProps {
    pub title: AttrValue,
    pub x_label: AttrValue,
    pub label: AttrValue,
    /// Counts of equal bins over [0, 1].
    pub bins: Rc<Vec<u64>>,
}

/// Draws the gate histogram as bars over [0, 1].
#[function_component(Histogram)]
pub fn histogram(props: &HistogramProps) -> Html {
    let strings = use_strings();
    let canvas = use_node_ref();
    {
        let canvas = canvas.clone();
        let data = (props.title.clone(), props.x_label.clone(), props.label.clone(), props.bins.clone());
        use_effect_with(data, move |(title, x_label, label, bins)| {
            if let Some(element) = canvas.cast::<HtmlCanvasElement>() {
                let _ = draw_histogram(element, title, x_label, label, bins);
            }
        });
    }
    html! {
        <figure class="chart">
            <figcaption>{ props.title.clone() }</figcaption>
            <canvas ref={canvas.clone()} data-testid="gate-histogram" width="440" height="240" role="img"
                aria-label={histogram_summary(strings, &props.title, &props.bins)}></canvas>
            <PngButton {canvas} name="gate-histogram" />
        </figure>
    }
}

fn draw_histogram(element: HtmlCanvasElement, _title: &str, x_label: &str, label: &str, bins: &[u64]) -> DrawResult {
    let root = backend(element)?.into_drawing_area();
    root.fill(&WHITE)?;
    let total: u64 = bins.iter().sum::<u64>().max(1);
    let shares: Vec<f64> = bins.iter().map(|&count| count as f64 / total as f64).collect();
    let top = shares.iter().copied().fold(0.0, f64::max).max(0.05) * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .margin(8)
        .x_label_area_size(44) // tick labels and the axis name below them
        .y_label_area_size(44)
        .build_cartesian_2d(0.0..1.0f64, 0.0..top)?;
    chart.configure_mesh().x_desc(x_label).light_line_style(WHITE.mix(0.0)).label_style((FONT, 11)).draw()?;
    let width = 1.0 / shares.len().max(1) as f64;
    let color = PALETTE[2];
    chart
        .draw_series(shares.iter().enumerate().map(|(i, &share)| {
            let x0 = i as f64 * width;
            Rectangle::new([(x0 + width * 0.08, 0.0), (x0 + width * 0.92, share)], color.filled())
        }))?
        .label(label)
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 11))
        .draw()?;
    root.present()?;
    Ok(())
}

/// Returns the right-hand corner (upper, middle or lower) where the legend
/// covers the fewest points of the right third of the chart, where lines
/// have usually settled. Upper wins ties.
fn legend_position(series: &[Series], x_max: f64, (y_min, y_max): (f64, f64)) -> SeriesLabelPosition {
    let mut counts = [0usize; 3];
    let height = (y_max - y_min).max(f64::MIN_POSITIVE);
    for &(x, y) in series.iter().flat_map(|line| line.points.iter()) {
        if !y.is_finite() || x < x_max * 2.0 / 3.0 {
            continue;
        }
        // Band 0 is the top third of the chart.
        let band = ((y_max - y) / height * 3.0).floor().clamp(0.0, 2.0) as usize;
        counts[band] += 1;
    }
    let positions = [SeriesLabelPosition::UpperRight, SeriesLabelPosition::MiddleRight, SeriesLabelPosition::LowerRight];
    let best = (0..3).min_by_key(|&band| counts[band]).expect("three bands");
    positions[best].clone()
}

#[cfg(test)]
mod tests {
    use super::{legend_position, step_tick_label, Series};
    use plotters::prelude::SeriesLabelPosition;

    fn flat_line(y: f64) -> Series {
        Series { label: format!("{y}"), points: (0..=100).map(|step| (step as f64, y)).collect(), color: 0, dashed: false }
    }

    #[test]
    fn legend_avoids_settled_lines() {
        // A sink plateau near the top and a gated run near the bottom.
        let position = legend_position(&[flat_line(0.9), flat_line(0.15)], 100.0, (0.0, 1.0));
        assert!(matches!(position, SeriesLabelPosition::MiddleRight));

        let position = legend_position(&[flat_line(0.1)], 100.0, (0.0, 1.0));
        assert!(matches!(position, SeriesLabelPosition::UpperRight));

        let position = legend_position(&[flat_line(0.9), flat_line(0.5)], 100.0, (0.0, 1.0));
        assert!(matches!(position, SeriesLabelPosition::LowerRight));
    }

    #[test]
    fn step_ticks_are_integers() {
        assert_eq!(step_tick_label(&100.0), "100");
        assert_eq!(step_tick_label(&0.0), "0");
        assert_eq!(step_tick_label(&-0.0), "0");
        assert_eq!(step_tick_label(&1500.0), "1500");
        // Floating-point ticks such as 3 × 0.1 × 1000 still name their step.
        assert_eq!(step_tick_label(&(0.1 * 3.0 * 1000.0)), "300");
    }

    #[test]
    fn ticks_between_steps_unlabelled() {
        assert_eq!(step_tick_label(&0.5), "");
        assert_eq!(step_tick_label(&2.25), "");
    }
}
