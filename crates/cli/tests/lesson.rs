//! The default lesson works: from seeds 0, 1 and 2, the baseline forms an
//! attention sink and G1 gates (elementwise and headwise) do not.
//!
//! This trains nine runs of 1500 steps through the real command line, about
//! 70 s each on one core of a 2-core x86-64 machine. It is only meaningful in
//! an optimised build (`cargo test --release`), because a debug build would
//! take hours.

use std::process::Command;

#[cfg(debug_assertions)]
const OPTIMISED: bool = false;
#[cfg(not(debug_assertions))]
const OPTIMISED: bool = true;

/// Thresholds on F-Attn and the mean gate after 1500 steps of the lesson.
const BASELINE_MIN_F_ATTN: f64 = 0.6;
const GATED_MAX_F_ATTN: f64 = 0.3;
const G1_MAX_GATE_MEAN: f64 = 0.2;

#[test]
fn lesson_shows_sink_and_its_removal() {
    assert!(OPTIMISED, "the lesson test trains 9 x 1500 steps: run it with `cargo test --release`");
    for seed in ["0", "1", "2"] {
        let json = std::env::temp_dir().join(format!("gatelab-lesson-{seed}-{}.json", std::process::id()));
        let out = Command::new(env!("CARGO_BIN_EXE_gatelab"))
            .args(["compare", "--task", "bigram-backcopy", "--variants", "baseline,g1,g1-headwise", "--steps", "1500"])
            .args(["--seed", seed, "--quiet", "--json", json.to_str().unwrap()])
            .output()
            .expect("the gatelab binary runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "seed {seed}: {}", String::from_utf8_lossy(&out.stderr));
        println!("seed {seed}\n{stdout}");
        let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        std::fs::remove_file(&json).ok();
        let runs = report["runs"].as_array().unwrap();
        let final_of = |variant: &str, key: &str| -> f64 {
            let run = runs.iter().find(|r| r["variant"] == variant).unwrap_or_else(|| panic!("no {variant} run"));
            run["final"][key].as_f64().unwrap_or_else(|| panic!("{variant} final.{key} is not a number"))
        };
        let baseline = final_of("baseline", "f_attn");
        let g1 = final_of("g1", "f_attn");
        let headwise = final_of("g1-headwise", "f_attn");
        let gate = final_of("g1", "gate_mean");
        assert!(baseline >= BASELINE_MIN_F_ATTN, "seed {seed}: baseline F-Attn {baseline:.3} < {BASELINE_MIN_F_ATTN}\n{stdout}");
        assert!(g1 <= GATED_MAX_F_ATTN, "seed {seed}: G1 F-Attn {g1:.3} > {GATED_MAX_F_ATTN}\n{stdout}");
        assert!(headwise <= GATED_MAX_F_ATTN, "seed {seed}: G1 headwise F-Attn {headwise:.3} > {GATED_MAX_F_ATTN}\n{stdout}");
        assert!(gate <= G1_MAX_GATE_MEAN, "seed {seed}: G1 mean gate {gate:.3} > {G1_MAX_GATE_MEAN}\n{stdout}");
    }
}
