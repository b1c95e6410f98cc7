//! Behaviour of the CPU engine as a whole: determinism, variant rules,
//! validation messages, checkpoints, and the metrics of a trained model.

use gatelab_model::checkpoint::CheckpointFiles;
use gatelab_model::config::{BigramTable, ModelConfig, PosEnc, TaskConfig, TextSource, TrainConfig};
use gatelab_model::{model, ConfigError, Limits, Run, RunConfig, TrainError, Variant, NAMED_VARIANTS};

fn small(variant: &str) -> RunConfig {
    RunConfig {
        seed: 5,
        model: ModelConfig { layers: 2, heads: 2, width: 32, seq_len: 12, pos_enc: PosEnc::Learned, variant: Variant::parse(variant).unwrap() },
        train: TrainConfig { batch: 8, ..Default::default() },
        task: TaskConfig::default(),
        metrics_every: 5,
        probe_batch: 4,
    }
}

fn losses(config: &RunConfig, steps: usize) -> Vec<f64> {
    let mut run: Run = Run::new(config.clone(), &Limits::CLI).unwrap();
    (0..steps).map(|_| run.train_step().unwrap().loss).collect()
}

#[test]
fn same_seed_same_losses_bit_for_bit() {
    for name in ["baseline", "g1", "sink-logit"] {
        let a = losses(&small(name), 12);
        let b = losses(&small(name), 12);
        assert_eq!(a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), b.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
    }
    let mut other_seed = small("g1");
    other_seed.seed = 6;
    assert_ne!(losses(&small("g1"), 3), losses(&other_seed, 3));
}

#[test]
fn loss_falls_for_every_variant() {
    for name in NAMED_VARIANTS {
        let mut config = small(name);
        config.train.lr = 1e-2;
        config.train.warmup = 5;
        let l = losses(&config, 150);
        let first: f64 = l[..5].iter().sum::<f64>() / 5.0;
        let last: f64 = l[145..].iter().sum::<f64>() / 5.0;
        assert!(last < first - 0.1, "{name}: loss {first:.3} -> {last:.3}");
    }
}

#[test]
fn initial_loss_is_log_vocab() {
    // With N(0, 0.02^2) weights the logits start near 0, so the loss starts
    // near ln V.
    let l = losses(&small("baseline"), 1)[0];
    assert!((l - (64f64).ln()).abs() < 0.05, "initial loss {l}");
}

#[test]
fn sink_logit_at_zero_equals_softmax1() {
    let a: Run<f64> = Run::new(small("softmax1"), &Limits::CLI).unwrap();
    let b: Run<f64> = Run::new(small("sink-logit"), &Limits::CLI).unwrap();
    let fa = model::forward(&a.config.model, &a.layout, &a.params, &a.probe);
    let fb = model::forward(&b.config.model, &b.layout, &b.params, &b.probe);
    assert_eq!(fa.loss.to_bits(), fb.loss.to_bits());
    for (la, lb) in fa.layers.iter().zip(&fb.layers) {
        assert_eq!(la.attn.att, lb.attn.att);
        assert_eq!(la.attn.null, lb.attn.null);
    }
    // After training the learned logit moves, and the two differ.
    let mut trained: Run<f64> = Run::new(small("sink-logit"), &Limits::CLI).unwrap();
    for _ in 0..5 {
        trained.train_step().unwrap();
    }
    let id = trained.layout.find("layers.0.attn.sink_logit").unwrap();
    assert!(trained.params.slice(&trained.layout.specs[id]).iter().any(|&b| b != 0.0));
}

#[test]
fn gated_runs_share_initial_weights_with_baseline() {
    let base: Run = Run::new(small("baseline"), &Limits::CLI).unwrap();
    for name in ["g1", "g2", "g5", "sink-logit"] {
        let gated: Run = Run::new(small(name), &Limits::CLI).unwrap();
        for spec in &base.layout.specs {
            let other = &gated.layout.specs[gated.layout.find(&spec.name).unwrap()];
            assert_eq!(base.params.slice(spec), gated.params.slice(other), "{name}: {}", spec.name);
        }
        assert_eq!(base.probe, gated.probe);
    }
}

#[test]
fn named_variants_parse_and_round_trip() {
    for name in NAMED_VARIANTS {
        let v = Variant::parse(name).unwrap();
        assert_eq!(v.name(), name);
    }
    let custom = Variant::parse("g3+headwise+silu").unwrap();
    assert_eq!(custom.name(), "g3+headwise+silu");
    assert_eq!(Variant::parse(&custom.name()).unwrap(), custom);
    assert_eq!(Variant::parse("g1+headwise").unwrap(), Variant::parse("g1-headwise").unwrap());
}

#[test]
fn inapplicable_knobs_are_rejected() {
    assert_eq!(Variant::parse("g5+headwise"), Err(ConfigError::NotApplicableAtG5 { knob: "headwise" }));
    assert_eq!(Variant::parse("g5+head-shared"), Err(ConfigError::NotApplicableAtG5 { knob: "head-shared" }));
    assert_eq!(Variant::parse("baseline+silu"), Err(ConfigError::KnobWithoutGate));
    assert!(matches!(Variant::parse("g7"), Err(ConfigError::UnknownVariant { .. })));
    assert!(matches!(Variant::parse(""), Err(ConfigError::UnknownVariant { .. })));
    assert!(matches!(Variant::parse("g1+headwise+elementwise"), Err(ConfigError::KnobSetTwice { .. })));
    assert!(matches!(Variant::parse("g1+silu+sigmoid"), Err(ConfigError::KnobSetTwice { .. })));
    assert_eq!(Variant::parse("g1-headwise+elementwise").unwrap(), Variant::G1, "a knob may override the named base");
    let message = Variant::parse("g5+headwise").unwrap_err().to_string();
    assert!(message.contains("g5"), "{message}");
}

#[test]
fn validation_names_field_value_and_range() {
    let mut c = RunConfig::lesson();
    c.model.heads = 3;
    let e = c.validate(&Limits::PAGE).unwrap_err().to_string();
    assert!(e.contains("heads = 3"), "{e}");
    assert!(e.contains("1, 2, 4, 8"), "{e}");

    let mut c = RunConfig::lesson();
    c.model.width = 40;
    let e = c.validate(&Limits::PAGE).unwrap_err().to_string();
    assert!(e.contains("width = 40"), "{e}");
    assert!(e.contains("16"), "{e}");

    let mut c = RunConfig::lesson();
    c.model.layers = 5;
    let e = c.validate(&Limits::PAGE).unwrap_err().to_string();
    assert_eq!(e, "layers = 5 is out of range: allowed 1 to 4");
    assert!(c.validate(&Limits::CLI).is_ok(), "the command line allows more layers");

    let mut c = RunConfig::lesson();
    c.train.lr = f64::NAN;
    let e = c.validate(&Limits::PAGE).unwrap_err().to_string();
    assert!(e.starts_with("lr = NaN is out of range"), "{e}");

    let mut c = RunConfig::lesson();
    c.model.seq_len = 1;
    assert!(c.validate(&Limits::CLI).unwrap_err().to_string().contains("seq_len = 1"));

    let mut c = RunConfig::lesson();
    c.task = TaskConfig::Text { source: TextSource::Custom("short".into()), max_vocab: 64 };
    assert!(c.validate(&Limits::CLI).unwrap_err().to_string().contains("5 characters"));

    for heads in [1, 2, 4, 8] {
        let mut c = RunConfig::lesson();
        c.model.heads = heads;
        c.model.width = 64;
        assert!(c.validate(&Limits::PAGE).is_ok(), "heads {heads}");
    }
}

#[test]
fn non_finite_loss_stops_the_step() {
    let mut run: Run = Run::new(small("g1"), &Limits::CLI).unwrap();
    run.train_step().unwrap();
    // An infinite BOS embedding reaches every sequence's residual stream, and
    // RMSNorm turns it into NaN.
    let emb = run.layout.specs[run.layout.tok_emb].clone();
    run.params.slice_mut(&emb)[0] = f32::INFINITY;
    let before = run.params.clone();
    let error = run.train_step().expect_err("an infinite weight gives a NaN loss");
    assert_eq!(run.params, before, "a diverged step leaves the parameters as they were");
    assert_eq!(run.step, 1, "a diverged step is not counted");
    match &error {
        TrainError::Diverged { step, what, value, .. } => {
            assert_eq!(*step, 2);
            assert_eq!(*what, "loss");
            assert!(value.is_nan());
        }
        other => panic!("expected divergence, got {other}"),
    }
    let message = error.to_string();
    assert!(message.contains("step 2"), "{message}");
    assert!(message.contains("lower the learning rate"), "{message}");
}

#[test]
fn checkpoint_resume_continues_bit_for_bit() {
    let config = small("g1");
    let mut straight: Run = Run::new(config.clone(), &Limits::CLI).unwrap();
    for _ in 0..8 {
        straight.train_step().unwrap();
    }
    let mut first: Run = Run::new(config, &Limits::CLI).unwrap();
    for _ in 0..5 {
        first.train_step().unwrap();
    }
    let files = first.to_checkpoint();
    let dir = std::env::temp_dir().join(format!("gatelab-ckpt-{}", std::process::id()));
    files.write_dir(&dir).unwrap();
    let mut resumed: Run = Run::from_checkpoint(&CheckpointFiles::read_dir(&dir).unwrap(), &Limits::CLI).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(resumed.step, 5);
    for _ in 0..3 {
        resumed.train_step().unwrap();
    }
    assert_eq!(resumed.params, straight.params, "f32 weights survive the f32 safetensors round trip exactly");
    assert_eq!(resumed.opt, straight.opt);
}

#[test]
fn checkpoint_rejects_wrong_shapes() {
    let run: Run = Run::new(small("g1"), &Limits::CLI).unwrap();
    let mut files = run.to_checkpoint();
    let other: Run = Run::new(small("baseline"), &Limits::CLI).unwrap();
    files.model = other.to_checkpoint().model;
    let err = Run::<f32>::from_checkpoint(&files, &Limits::CLI).err().expect("baseline weights lack wg");
    assert!(err.to_string().contains("layers.0.attn.wg"), "{err}");
}

#[test]
fn metrics_have_consistent_shapes() {
    for name in ["baseline", "g1-headwise", "softmax1", "g5"] {
        let mut config = small(name);
        config.model.pos_enc = PosEnc::Rope;
        let mut run: Run = Run::new(config, &Limits::CLI).unwrap();
        run.train(10, |_, _| {}).unwrap();
        let (m, snap) = run.evaluate();
        assert_eq!(m.step, 10);
        assert_eq!(m.f_attn_heads.len(), 4);
        assert_eq!(m.f_attn_layers.len(), 2);
        assert!(m.f_attn > 0.0, "F-Attn {}", m.f_attn);
        assert!(m.f_attn < 1.0, "F-Attn {}", m.f_attn);
        assert_eq!(snap.attention.len(), 2 * 2 * 12 * 12);
        assert_eq!(m.null_mass.is_some(), name == "softmax1");
        assert!(m.val_loss_copy.is_some(), "Bigram-Backcopy splits the loss at copies");
        match (&m.gate, name) {
            (None, "baseline" | "softmax1") => {}
            (Some(g), "g1-headwise" | "g5") => {
                assert_eq!(g.histogram.iter().sum::<u64>() as usize, 2 * 4 * 12 * Variant::parse(name).unwrap().gate_width(32, 2));
                assert_eq!(g.head_mean.len(), 4);
                assert_eq!(g.position_mean.len(), 12);
                assert!(g.active_mean.is_some());
                assert_eq!(snap.gate_map.as_ref().map(Vec::len), Some(2 * 2 * 12));
            }
            other => panic!("unexpected gate metrics for {name}: {:?}", other.0.is_some()),
        }
        // The history contains steps 0, 5 and 10.
        assert_eq!(run.history.iter().map(|m| m.step).collect::<Vec<_>>(), vec![0, 5, 10]);
    }
}

#[test]
fn uniform_attention_at_zero_query_weights() {
    // Zero Wq makes every score 0, so softmax attention is uniform and F-Attn
    // equals the reference (H_T - 1) / (T - 1).
    let mut run: Run<f64> = Run::new(small("baseline"), &Limits::CLI).unwrap();
    for l in 0..2 {
        let id = run.layout.layers[l].wq;
        run.params.mat_mut(&run.layout.clone(), id).fill(0.0);
    }
    let (m, _) = run.evaluate();
    assert!((m.f_attn - m.f_attn_uniform).abs() < 1e-12, "{} vs {}", m.f_attn, m.f_attn_uniform);
    assert_eq!(m.sink_heads, 0.0);
}

#[test]
fn text_tasks_train() {
    for source in [TextSource::English, TextSource::Japanese] {
        let mut config = small("g1");
        config.task = TaskConfig::Text { source: source.clone(), max_vocab: 96 };
        let l = losses(&config, 30);
        assert!(l[29] < l[0], "{source:?}");
        let mut table = small("baseline");
        table.task = TaskConfig::BigramBackcopy { vocab: 48, table: BigramTable::Text(source), triggers: 3 };
        let run: Run = Run::new(table, &Limits::CLI).unwrap();
        assert_eq!(run.task.vocab(), 48);
        assert!(run.task.unknown_chars().is_some());
    }
    let mut copy = small("baseline");
    copy.task = TaskConfig::Copy { vocab: 16 };
    let l = losses(&copy, 30);
    assert!(l.iter().all(|x| x.is_finite()));
}
