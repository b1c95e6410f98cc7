//! The size of a run's next training chunk, which keeps runs A and B at the
//! same step.

/// Returns the steps of a run's next chunk, or 0 when the run should wait.
///
/// A chunk takes `per_frame` steps, but never goes past `total`. While the
/// other run can still train (`other` is its step), a run never goes past
/// it: a run ahead waits and a run behind catches up exactly. So the runs
/// are at most one chunk apart while training, and once the chunks in
/// flight land after a pause, both are at the same step, which is the step
/// that the page shows and saves.
pub fn next_chunk(step: usize, other: Option<usize>, per_frame: usize, total: usize) -> usize {
    let steps = per_frame.min(total.saturating_sub(step));
    match other {
        Some(other) if other < step => 0,
        Some(other) if other > step => steps.min(other - step),
        _ => steps,
    }
}

#[cfg(test)]
mod tests {
    use super::next_chunk;

    #[test]
    fn equal_runs_take_full_chunks() {
        assert_eq!(next_chunk(20, Some(20), 5, 100), 5);
    }

    #[test]
    fn run_ahead_waits() {
        assert_eq!(next_chunk(25, Some(20), 5, 100), 0);
    }

    #[test]
    fn run_behind_catches_up_exactly() {
        assert_eq!(next_chunk(20, Some(25), 5, 100), 5);
        assert_eq!(next_chunk(20, Some(23), 5, 100), 3);
        assert_eq!(next_chunk(20, Some(70), 5, 100), 5);
    }

    #[test]
    fn chunk_stops_at_total() {
        assert_eq!(next_chunk(98, Some(98), 5, 100), 2);
        assert_eq!(next_chunk(100, Some(100), 5, 100), 0);
        assert_eq!(next_chunk(98, None, 5, 100), 2);
    }

    #[test]
    fn stopped_other_run_does_not_hold_back() {
        assert_eq!(next_chunk(40, None, 5, 100), 5);
    }

    /// Plays both runs with chunks that land in every order, pauses at
    /// every point, and checks that the runs meet at one step.
    #[test]
    fn paused_runs_meet() {
        for per_frame in [1, 3, 5] {
            for pattern in 0u32..64 {
                let mut steps = [0usize; 2];
                let mut in_flight: [Option<usize>; 2] = [None, None];
                let send = |steps: &[usize; 2], in_flight: &mut [Option<usize>; 2]| {
                    for index in 0..2 {
                        if in_flight[index].is_none() {
                            let chunk = next_chunk(steps[index], Some(steps[1 - index]), per_frame, 1000);
                            if chunk > 0 {
                                in_flight[index] = Some(chunk);
                            }
                        }
                    }
                };
                send(&steps, &mut in_flight);
                // Bit k of the pattern picks which run's chunk lands k-th.
                for k in 0..6 {
                    let first = (pattern >> k & 1) as usize;
                    let index = if in_flight[first].is_some() { first } else { 1 - first };
                    if let Some(chunk) = in_flight[index].take() {
                        steps[index] += chunk;
                    }
                    send(&steps, &mut in_flight);
                }
                // Pause: nothing new is sent, and the chunks in flight land.
                for index in 0..2 {
                    if let Some(chunk) = in_flight[index].take() {
                        steps[index] += chunk;
                    }
                }
                assert_eq!(steps[0], steps[1], "per_frame {per_frame}, pattern {pattern:06b}");
            }
        }
    }
}
