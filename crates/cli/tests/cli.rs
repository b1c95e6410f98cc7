//! The command line end to end: outputs, bad arguments, checkpoints, export.

use std::path::PathBuf;
use std::process::{Command, Output};

fn gatelab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatelab")).args(args).output().expect("the gatelab binary runs")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gatelab-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const TINY: [&str; 12] = ["--width", "32", "--seq-len", "12", "--batch", "8", "--probe-batch", "4", "--metrics-every", "5", "--quiet", "--seed=3"];

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn train_writes_csv_and_json() {
    let dir = temp_dir("train");
    let csv = dir.join("m.csv");
    let json = dir.join("m.json");
    let mut args = vec!["train", "--variant", "g1", "--steps", "12", "--csv", csv.to_str().unwrap(), "--json", json.to_str().unwrap()];
    args.extend(TINY);
    let out = gatelab(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv_text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = csv_text.lines().collect();
    assert!(lines[0].starts_with("variant,step,train_loss"));
    let steps: Vec<&str> = lines[1..].iter().map(|l| l.split(',').nth(1).unwrap()).collect();
    assert_eq!(steps, vec!["0", "5", "10", "12"]);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let run = &report["runs"][0];
    assert_eq!(run["variant"], "g1");
    for key in ["f_attn", "sink_heads", "gate_mean", "gate_below_0_1", "m_act", "val_loss"] {
        assert!(run["final"][key].is_number(), "final.{key} is a number");
    }
    assert_eq!(run["history"].as_array().unwrap().len(), 4);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn same_seed_gives_identical_json_history() {
    let dir = temp_dir("repeat");
    let mut histories = Vec::new();
    for i in 0..2 {
        let json = dir.join(format!("{i}.json"));
        let mut args = vec!["train", "--variant", "g2", "--steps", "10", "--json", json.to_str().unwrap()];
        args.extend(TINY);
        assert!(gatelab(&args).status.success());
        let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        histories.push(report["runs"][0]["history"].to_string());
    }
    assert_eq!(histories[0], histories[1]);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn compare_prints_table_with_every_variant() {
    let dir = temp_dir("compare");
    let json = dir.join("c.json");
    let mut args = vec!["compare", "--variants", "baseline,g1-shared,g5+additive,sigmoid-attn", "--steps", "6", "--json", json.to_str().unwrap()];
    args.extend(TINY);
    let out = gatelab(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for name in ["variant", "F-Attn", "gate<0.1", "baseline", "g1-shared", "g5+additive", "sigmoid-attn"] {
        assert!(stdout.contains(name), "table lacks {name}:\n{stdout}");
    }
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    assert!(runs[0]["final"]["gate_mean"].is_null(), "the baseline has no gate");
    assert!(runs[1]["final"]["gate_mean"].is_number());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_arguments_name_value_and_range() {
    let cases: [(&[&str], &str); 6] = [
        (&["train", "--heads", "3"], "heads = 3 is not allowed: use one of 1, 2, 4, 8"),
        (&["train", "--layers", "40"], "layers = 40 is out of range: allowed 1 to 16"),
        (&["train", "--lr", "5"], "lr = 5 is out of range: allowed 0.000001 to 1"),
        (&["train", "--width", "40"], "width = 40 must be a multiple of 16"),
        (&["train", "--variant", "g5+headwise"], "headwise does not apply at g5"),
        (&["compare", "--variants", "baseline,g9"], "unknown variant 'g9'"),
    ];
    for (args, expected) in cases {
        let out = gatelab(args);
        assert!(!out.status.success(), "{args:?} must fail");
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
    }
    let out = gatelab(&["train", "--attn", "softmax2"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("softmax2"), "{}", stderr(&out));
}

#[test]
fn save_resume_and_export() {
    let dir = temp_dir("ckpt");
    let ckpt = dir.join("ckpt");
    let straight = dir.join("straight.json");
    let resumed = dir.join("resumed.json");

    let mut args = vec!["train", "--variant", "g1", "--steps", "10", "--json", straight.to_str().unwrap()];
    args.extend(TINY);
    assert!(gatelab(&args).status.success());

    let mut args = vec!["train", "--variant", "g1", "--steps", "5", "--save", ckpt.to_str().unwrap()];
    args.extend(TINY);
    assert!(gatelab(&args).status.success());
    let out = gatelab(&["train", "--resume", ckpt.to_str().unwrap(), "--steps", "5", "--quiet", "--json", resumed.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let a: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&straight).unwrap()).unwrap();
    let b: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&resumed).unwrap()).unwrap();
    assert_eq!(a["runs"][0]["final"], b["runs"][0]["final"], "resuming continues the same run");

    let exported = dir.join("export");
    let out = gatelab(&["export", "--from", ckpt.to_str().unwrap(), "--out", exported.to_str().unwrap(), "--torch-layout"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(exported.join("config.json")).unwrap()).unwrap();
    let tensors = config["tensors"].as_array().unwrap();
    assert!(tensors.iter().any(|t| t["name"] == "layers.0.attn.wg"));
    assert!(exported.join("model.safetensors").exists());

    let out = gatelab(&["export", "--from", dir.join("missing").to_str().unwrap(), "--out", exported.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("config.json"), "{}", stderr(&out));
    std::fs::remove_dir_all(dir).ok();
}
