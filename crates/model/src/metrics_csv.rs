//! The metric history as CSV, one row per metrics entry. The command line's
//! `--csv` and the page's metrics download both write this format, so a
//! script reads either file with the same column names.

use crate::metrics::Metrics;

/// Column names, in the order of [`csv_row`]'s cells.
pub const CSV_COLUMNS: [&str; 17] = [
    "variant",
    "step",
    "train_loss",
    "val_loss",
    "val_loss_copy",
    "f_attn",
    "f_attn_uniform",
    "sink_heads",
    "null_mass",
    "gate_mean",
    "gate_below_0_1",
    "gate_active",
    "gate_dormant",
    "bos_value_norm",
    "m_act",
    "grad_norm",
    "lr",
];

/// Returns the header line, without the line break.
pub fn csv_header() -> String {
    CSV_COLUMNS.join(",")
}

fn cell(value: Option<f64>) -> String {
    value.map_or(String::new(), |v| v.to_string())
}

/// Formats `m` of a run of `variant` as one CSV line, without the line
/// break. A metric that does not apply is an empty cell: the training loss
/// before the first step, the gate's on a run without a gate, the copy loss
/// on tasks other than Bigram-Backcopy, the null mass on plain softmax.
pub fn csv_row(variant: &str, m: &Metrics) -> String {
    let gate = m.gate.as_ref();
    [
        variant.to_string(),
        m.step.to_string(),
        cell(m.train_loss),
        cell(Some(m.val_loss)),
        cell(m.val_loss_copy),
        cell(Some(m.f_attn)),
        cell(Some(m.f_attn_uniform)),
        cell(Some(m.sink_heads)),
        cell(m.null_mass),
        cell(gate.map(|g| g.mean)),
        cell(gate.map(|g| g.below_0_1)),
        cell(gate.and_then(|g| g.active_mean)),
        cell(gate.and_then(|g| g.dormant_mean)),
        cell(Some(m.bos_value_norm)),
        cell(Some(m.m_act)),
        cell(m.grad_norm),
        cell(m.lr),
    ]
    .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Limits, Run, RunConfig, Variant};

    #[test]
    fn row_has_a_cell_per_column() {
        for name in ["baseline", "g1", "softmax1"] {
            let mut config = RunConfig::lesson();
            config.model.variant = Variant::parse(name).unwrap();
            config.model.width = 16;
            config.model.seq_len = 16;
            config.train.batch = 4;
            let mut run = Run::<f32>::new(config, &Limits::PAGE).unwrap();
            run.train_step().unwrap();
            let (metrics, _) = run.evaluate();
            let row = csv_row(name, &metrics);
            assert_eq!(row.split(',').count(), CSV_COLUMNS.len(), "{name}: {row}");
            assert!(row.starts_with(&format!("{name},1,")), "{name}: {row}");
        }
    }

    #[test]
    fn header_names_each_column_once() {
        let header = csv_header();
        assert_eq!(header.split(',').count(), CSV_COLUMNS.len());
        for column in CSV_COLUMNS {
            assert_eq!(header.split(',').filter(|name| *name == column).count(), 1, "{column}");
        }
    }
}
