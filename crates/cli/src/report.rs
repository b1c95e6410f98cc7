//! Output formats: the comparison table, CSV rows and the JSON report.

use gatelab_model::metrics_csv::{csv_header, csv_row};
use gatelab_model::{Metrics, RunConfig};
use serde::Serialize;

/// The headline numbers of a run's last metrics, as the JSON report names
/// them. Gate fields are null for variants without a gate.
#[derive(Clone, Debug, Serialize)]
pub struct FinalMetrics {
    pub f_attn: f64,
    pub sink_heads: f64,
    pub gate_mean: Option<f64>,
    pub gate_below_0_1: Option<f64>,
    pub gate_active: Option<f64>,
    pub gate_dormant: Option<f64>,
    pub bos_value_norm: f64,
    pub null_mass: Option<f64>,
    pub m_act: f64,
    pub val_loss: f64,
    pub val_loss_copy: Option<f64>,
    pub train_loss: Option<f64>,
}

impl FinalMetrics {
    pub fn from_metrics(m: &Metrics) -> Self {
        let gate = m.gate.as_ref();
        FinalMetrics {
            f_attn: m.f_attn,
            sink_heads: m.sink_heads,
            gate_mean: gate.map(|g| g.mean),
            gate_below_0_1: gate.map(|g| g.below_0_1),
            gate_active: gate.and_then(|g| g.active_mean),
            gate_dormant: gate.and_then(|g| g.dormant_mean),
            bos_value_norm: m.bos_value_norm,
            null_mass: m.null_mass,
            m_act: m.m_act,
            val_loss: m.val_loss,
            val_loss_copy: m.val_loss_copy,
            train_loss: m.train_loss,
        }
    }
}

/// One run of a report.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub variant: String,
    /// Training engine: "cpu" or "gpu".
    pub backend: String,
    pub config: RunConfig,
    /// Wall-clock seconds of training, metrics included.
    pub seconds: f64,
    #[serde(rename = "final")]
    pub final_metrics: FinalMetrics,
    pub history: Vec<Metrics>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub runs: Vec<RunReport>,
}

fn opt(x: Option<f64>, digits: usize) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.digits$}"),
        Some(v) => format!("{v}"),
        None => "-".to_string(),
    }
}

/// Formats the comparison table, one row per run.
pub fn table(runs: &[RunReport]) -> String {
    let header = [
        "variant", "val loss", "copy loss", "F-Attn", "sink heads", "gate mean", "gate<0.1", "gate copy", "gate other",
        "BOS v-norm", "M-Act",
    ];
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let f = &r.final_metrics;
            vec![
                r.variant.clone(),
                format!("{:.3}", f.val_loss),
                opt(f.val_loss_copy, 3),
                format!("{:.3}", f.f_attn),
                format!("{:.2}", f.sink_heads),
                opt(f.gate_mean, 3),
                opt(f.gate_below_0_1, 3),
                opt(f.gate_active, 3),
                opt(f.gate_dormant, 3),
                format!("{:.2}", f.bos_value_norm),
                format!("{:.2}", f.m_act),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| if i == 0 { format!("{c:<w$}", w = widths[i]) } else { format!("{c:>w$}", w = widths[i]) })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    out.push('\n');
    out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
    for row in rows {
        out.push('\n');
        out.push_str(&line(row));
    }
    out
}

/// Formats the whole CSV of several runs' histories.
pub fn csv(runs: &[RunReport]) -> String {
    let mut out = csv_header();
    out.push('\n');
    for r in runs {
        for m in &r.history {
            out.push_str(&csv_row(&r.variant, m));
            out.push('\n');
        }
    }
    out
}
