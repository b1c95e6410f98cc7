//! Training speed as the page shows it: steps per second and tokens per
//! second, per run and summed over both runs.
//!
//! Tokens per step are batch × sequence length (the sequence length counts
//! the BOS token), as `gatelab bench` counts them.

use crate::i18n::Strings;

/// Returns the tokens that one training step processes.
pub fn tokens_per_step(batch: usize, seq_len: usize) -> f64 {
    (batch * seq_len) as f64
}

/// Returns the summed rate of the runs that report one, or `None` when no
/// run does. The runs train side by side, so their rates add up.
pub fn total_rate(rates: &[Option<f64>]) -> Option<f64> {
    rates.iter().flatten().copied().reduce(|a, b| a + b)
}

/// Formats a rate in steps per second: one decimal below 10, so that a slow
/// engine does not read as 0.
pub fn format_rate(rate: f64) -> String {
    if rate < 10.0 {
        format!("{rate:.1}")
    } else {
        format!("{rate:.0}")
    }
}

/// Fills `template` (with `{steps}` and `{tokens}`) for `rate` steps/s.
pub fn speed_text(template: &str, rate: f64, tokens_per_step: f64) -> String {
    template.replace("{steps}", &format_rate(rate)).replace("{tokens}", &format!("{:.0}", rate * tokens_per_step))
}

/// Returns the line under the step counter: the speed of both runs together.
pub fn total_text(strings: &Strings, rates: &[Option<f64>], tokens_per_step: f64) -> Option<String> {
    let total = total_rate(rates)?;
    Some(strings.speed_total.replace("{speed}", &speed_text(strings.speed, total, tokens_per_step)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::EN;

    #[test]
    fn total_adds_reported_rates() {
        assert_eq!(total_rate(&[Some(2.0), Some(3.5)]), Some(5.5));
        assert_eq!(total_rate(&[None, Some(3.5)]), Some(3.5));
        assert_eq!(total_rate(&[None, None]), None);
    }

    #[test]
    fn tokens_match_cli_bench() {
        // `gatelab bench` divides batch × seq_len × steps by the seconds.
        assert_eq!(speed_text("{steps}|{tokens}", 10.0, tokens_per_step(64, 64)), "10|40960");
    }

    #[test]
    fn slow_rate_keeps_decimal() {
        assert_eq!(format_rate(0.44), "0.4");
        assert_eq!(format_rate(12.6), "13");
    }

    #[test]
    fn total_text_uses_template() {
        let text = total_text(&EN, &[Some(1.0), Some(1.0)], 100.0).unwrap();
        assert!(text.contains("2.0"), "{text}");
        assert!(text.contains("200"), "{text}");
    }
}
