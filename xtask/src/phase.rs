//! Named phases with timings, for `cargo xtask test`.

use std::time::{Duration, Instant};

use crate::command::Error;

/// The phases that ran so far, with how long each took.
pub struct Phases {
    finished: Vec<(&'static str, Duration)>,
}

impl Phases {
    pub fn new() -> Phases {
        Phases {
            finished: Vec::new(),
        }
    }

    /// Runs one phase and prints its name and duration. A failure names the
    /// phase, and the caller stops there.
    pub fn run(
        &mut self,
        name: &'static str,
        body: impl FnOnce() -> Result<(), Error>,
    ) -> Result<(), Error> {
        println!("==> phase `{name}`");
        let start = Instant::now();
        let result = body();
        let elapsed = start.elapsed();

        match result {
            Ok(()) => {
                println!("==> phase `{name}` passed in {}", format_duration(elapsed));
                self.finished.push((name, elapsed));
                Ok(())
            }
            Err(error) => Err(Error::new(format!(
                "phase `{name}` failed after {}: {error}",
                format_duration(elapsed)
            ))),
        }
    }

    /// Prints every finished phase with its duration, and the total.
    pub fn print_summary(&self) {
        let total: Duration = self.finished.iter().map(|(_, elapsed)| *elapsed).sum();
        println!("==> all phases passed:");
        for (name, elapsed) in &self.finished {
            println!("    {name:<12} {}", format_duration(*elapsed));
        }
        println!("    {:<12} {}", "total", format_duration(total));
    }
}

/// Formats a duration as seconds with one decimal, with minutes above 60 s.
pub fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else {
        let minutes = (seconds / 60.0).floor();
        format!("{minutes:.0} min {:.1} s", seconds - minutes * 60.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_under_a_minute() {
        assert_eq!(format_duration(Duration::from_millis(12_345)), "12.3 s");
    }

    #[test]
    fn duration_over_a_minute() {
        assert_eq!(
            format_duration(Duration::from_millis(125_300)),
            "2 min 5.3 s"
        );
    }

    #[test]
    fn failed_phase_is_named() {
        let mut phases = Phases::new();
        let error = phases
            .run("cargo test", || {
                Err(Error::new("`cargo test` failed: exit status: 101"))
            })
            .unwrap_err();
        assert!(error
            .to_string()
            .starts_with("phase `cargo test` failed after "));
        assert!(error.to_string().ends_with("exit status: 101"));
    }
}
