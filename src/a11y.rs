//! Text for screen readers and keyboard moves: summaries of the numbers that
//! the canvas charts draw, and arrow-key steps on grids.

use crate::charts::{Matrix, Series};
use crate::i18n::Strings;

/// Returns the cell that an arrow key moves `from` to on a grid of
/// `(rows, cols)`, clamped at the edges; `None` for any other key.
pub fn arrow_move(key: &str, from: (usize, usize), (rows, cols): (usize, usize)) -> Option<(usize, usize)> {
    let (row, col) = from;
    let moved = match key {
        "ArrowUp" => (row.saturating_sub(1), col),
        "ArrowDown" => ((row + 1).min(rows.saturating_sub(1)), col),
        "ArrowLeft" => (row, col.saturating_sub(1)),
        "ArrowRight" => (row, (col + 1).min(cols.saturating_sub(1))),
        "Home" => (row, 0),
        "End" => (row, cols.saturating_sub(1)),
        _ => return None,
    };
    Some(moved)
}

/// Describes one cell of a matrix: its axis names, indices, labels and value.
pub fn cell_text(matrix: &Matrix, (row_name, col_name): (&str, &str), (row, col): (usize, usize)) -> String {
    let label = |labels: &[String], index: usize| match labels.get(index) {
        Some(text) => format!(" ‘{text}’"),
        None => String::new(),
    };
    let value = matrix.values.get(row * matrix.cols + col).copied().unwrap_or(f32::NAN);
    format!(
        "{row_name} {row}{}, {col_name} {col}{}: {value:.3}",
        label(&matrix.row_labels, row),
        label(&matrix.col_labels, col)
    )
}

/// Summarises a heatmap for its `aria-label`: title, size and the largest
/// value with its cell.
pub fn heatmap_summary(strings: &Strings, title: &str, matrix: &Matrix, axis_names: (&str, &str)) -> String {
    let largest = matrix
        .values
        .iter()
        .enumerate()
        .filter(|(_, value)| value.is_finite())
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(index, _)| (index / matrix.cols.max(1), index % matrix.cols.max(1)));
    let Some(cell) = largest else {
        return strings.chart_summary_empty.replace("{title}", title);
    };
    strings
        .heatmap_summary
        .replace("{title}", title)
        .replace("{rows}", &matrix.rows.to_string())
        .replace("{cols}", &matrix.cols.to_string())
        .replace("{cell}", &cell_text(matrix, axis_names, cell))
}

/// Summarises a line chart for its `aria-label`: the latest value of every
/// series and the step it belongs to.
pub fn line_summary(strings: &Strings, title: &str, series: &[Series]) -> String {
    let latest: Vec<(f64, String)> = series
        .iter()
        .filter_map(|line| {
            let (step, value) = line.points.iter().rev().find(|(_, y)| y.is_finite())?;
            Some((*step, format!("{} {value:.3}", line.label)))
        })
        .collect();
    let Some(step) = latest.iter().map(|(step, _)| *step).reduce(f64::max) else {
        return strings.chart_summary_empty.replace("{title}", title);
    };
    let values: Vec<String> = latest.into_iter().map(|(_, text)| text).collect();
    strings
        .chart_summary
        .replace("{title}", title)
        .replace("{step}", &format!("{step:.0}"))
        .replace("{values}", &values.join("; "))
}

/// Summarises the gate histogram for its `aria-label`: the share of values
/// in each bin, as percentages from the lowest bin up.
pub fn histogram_summary(strings: &Strings, title: &str, bins: &[u64]) -> String {
    let total: u64 = bins.iter().sum();
    if total == 0 {
        return strings.chart_summary_empty.replace("{title}", title);
    }
    let shares: Vec<String> =
        bins.iter().map(|&count| format!("{:.0} %", 100.0 * count as f64 / total as f64)).collect();
    strings.histogram_summary.replace("{title}", title).replace("{bins}", &shares.len().to_string()).replace(
        "{shares}",
        &shares.join(", "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::EN;

    fn matrix() -> Matrix {
        Matrix {
            rows: 2,
            cols: 3,
            values: vec![0.1, 0.2, 0.3, 0.9, 0.0, 0.4],
            max: 1.0,
            row_labels: vec!["a".into(), "b".into()],
            col_labels: vec!["x".into(), "y".into(), "z".into()],
        }
    }

    #[test]
    fn arrows_move_and_clamp() {
        assert_eq!(arrow_move("ArrowRight", (0, 0), (2, 3)), Some((0, 1)));
        assert_eq!(arrow_move("ArrowRight", (0, 2), (2, 3)), Some((0, 2)));
        assert_eq!(arrow_move("ArrowDown", (1, 1), (2, 3)), Some((1, 1)));
        assert_eq!(arrow_move("ArrowUp", (0, 1), (2, 3)), Some((0, 1)));
        assert_eq!(arrow_move("ArrowLeft", (1, 2), (2, 3)), Some((1, 1)));
        assert_eq!(arrow_move("End", (1, 0), (2, 3)), Some((1, 2)));
        assert_eq!(arrow_move("Enter", (1, 0), (2, 3)), None);
    }

    #[test]
    fn heatmap_summary_names_largest_cell() {
        let text = heatmap_summary(&EN, "Zoom", &matrix(), ("query", "key"));
        assert!(text.contains("Zoom"), "{text}");
        assert!(text.contains("query 1 ‘b’, key 0 ‘x’: 0.900"), "{text}");
    }

    #[test]
    fn line_summary_lists_latest_values() {
        let series = vec![
            Series { label: "F-Attn".into(), points: vec![(0.0, 0.5), (10.0, 0.25)], color: 0, dashed: false },
            Series { label: "loss".into(), points: vec![(0.0, 2.0), (10.0, f64::NAN)], color: 1, dashed: false },
        ];
        let text = line_summary(&EN, "Chart", &series);
        assert!(text.contains("10"), "{text}");
        assert!(text.contains("F-Attn 0.250"), "{text}");
        assert!(text.contains("loss 2.000"), "{text}");
    }

    #[test]
    fn empty_charts_say_no_data() {
        assert_eq!(line_summary(&EN, "Chart", &[]), EN.chart_summary_empty.replace("{title}", "Chart"));
        assert_eq!(histogram_summary(&EN, "Gate", &[0, 0]), EN.chart_summary_empty.replace("{title}", "Gate"));
    }

    #[test]
    fn histogram_summary_gives_percentages() {
        let text = histogram_summary(&EN, "Gate", &[1, 3]);
        assert!(text.contains("25 %, 75 %"), "{text}");
    }
}
