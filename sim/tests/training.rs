//! Private training (issue 13 §2, §3; docs/training.md): the digits models trained privately
//! match the f64 models trained from the same initialisation on the same batches; an iteration's
//! cost equals its estimate; one seed gives one trace; the trace kept does not grow with the
//! number of iterations; a bad training section is refused where it is wrong.

use sim::scenario::{load, load_source, Source};
use sim::train::run::{plan_at, train, TrainingResult};
use std::path::{Path, PathBuf};

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(name)
}

/// The shipped scenario's text with `from` replaced by `to` (fewer epochs for a test).
fn variant(name: &str, edits: &[(&str, &str)]) -> sim::scenario::Plan {
    let path = scenario(name);
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{name} has no `{from}`");
        text = text.replacen(from, to, 1);
    }
    load_source(&Source {
        name: name.into(),
        dir: path.parent().unwrap().to_path_buf(),
        text,
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

fn last_test_accuracy(r: &TrainingResult) -> (f64, f64) {
    let e = r.per_epoch.last().unwrap();
    (
        e.private.test_accuracy.unwrap(),
        e.plaintext.test_accuracy.unwrap(),
    )
}

/// Issue 13 §3: softmax regression on the digits, trained privately with SecureNN, is within 2
/// points of the f64 model trained from the same initialisation and batches on the 360 held-out
/// images, and learned something (from ~10% to > 85%); the receiver of `TestAccuracy` learned
/// the private model's count of errors and nothing else.
#[test]
fn private_logistic_regression_matches_the_plaintext_model() {
    let plan = load(&scenario("train-digits-logreg.ron")).unwrap();
    let r = train(&plan).unwrap();
    let (private, plain) = last_test_accuracy(&r);
    assert!(
        (private - plain).abs() <= 0.02,
        "private {private} plaintext {plain}"
    );
    assert!(private > 0.85, "private accuracy {private}");
    assert!(r.initial.0.test_accuracy.unwrap() < 0.3);
    // Loss falls epoch by epoch, for both.
    let losses: Vec<f64> = r.per_epoch.iter().map(|e| e.private.train_loss).collect();
    assert!(losses.windows(2).all(|w| w[1] < w[0]), "{losses:?}");
    assert!(r.initial.0.train_loss > losses[0]);
    // The revealed count of errors is the private model's.
    let (wrong, n) = r.revealed_test_errors.unwrap();
    assert_eq!(n, 360);
    let acc = (n - wrong) as f64 / n as f64;
    assert!((acc - private).abs() < 1e-9, "{acc} vs {private}");
    // No hazard fired.
    assert_eq!(r.per_epoch.iter().map(|e| e.hazards).sum::<usize>(), 0);
    // The revealed model is close to the plaintext one.
    let reveal = r.reveal.as_ref().unwrap();
    let w = reveal.outputs.iter().find(|o| o.name == "w").unwrap();
    assert_eq!(w.receiver, "bob");
    assert!(w.max_abs_error < 0.02, "{}", w.max_abs_error);
}

/// Issue 13 §3: Network A at 8×8 (64-128-128-10, ReLU) trained privately with SecureNN's exact
/// ReLU (one epoch here, to keep the test short) is within 2 points of the f64 model.
#[test]
fn private_mlp_matches_the_plaintext_model() {
    let plan = variant("train-digits-mlp.ron", &[("epochs: 2", "epochs: 1")]);
    let r = train(&plan).unwrap();
    let (private, plain) = last_test_accuracy(&r);
    assert!(
        (private - plain).abs() <= 0.02,
        "private {private} plaintext {plain}"
    );
    assert!(private > 0.75, "private accuracy {private}");
    assert_eq!(r.per_epoch[0].hazards, 0);
    // The private weights track the f64 ones after every iteration.
    assert!(r.per_epoch[0].max_weight_error < 0.05);
}

/// Issue 13 §3: a CNN (Conv 8×3×3 + bias → MaxPool 2 → ReLU → dense) trained privately for one
/// epoch with SecureNN — the backward pass through DMaxPool (MaxPool2dGrad) and the conv's
/// filter gradient (Conv2dGradFilters) — is within 2 points of the f64 CNN.
#[test]
fn private_cnn_trains_one_epoch_like_the_plaintext_cnn() {
    let plan = load(&scenario("train-digits-cnn.ron")).unwrap();
    let labels: Vec<String> = plan.ops.iter().map(|o| o.label()).collect();
    for want in [
        "it0/d.fbias",
        "it0/d.filters",
        "it0/v.filters",
        "it0/filters",
    ] {
        assert!(labels.iter().any(|l| l == want), "{want} not in {labels:?}");
    }
    let kinds: Vec<&str> = plan.ops.iter().map(|o| o.kind()).collect();
    // The forward max pool keeps its one-hot; the backward pass routes by it (no DMaxPool).
    assert!(kinds.contains(&"maxpool2d_with_onehot") && kinds.contains(&"maxpool2d_grad_onehot"));
    assert!(!kinds.contains(&"maxpool2d_grad") && !kinds.contains(&"maxpool2d"));
    assert!(kinds.contains(&"conv2d_grad_filters"));
    // The conv's input is the data: no gradient is computed for it.
    assert!(!kinds.contains(&"conv2d_grad_input"), "{kinds:?}");
    let r = train(&plan).unwrap();
    assert_eq!(r.per_epoch.len(), 1);
    let (private, plain) = last_test_accuracy(&r);
    assert!(
        (private - plain).abs() <= 0.02,
        "private {private} plaintext {plain}"
    );
    assert!(private > 0.6, "private accuracy {private}");
    assert_eq!(r.per_epoch[0].hazards, 0);
}

/// Every op of a training iteration reconstructs to its plaintext value (the forward pass, the
/// gradients, the update); the labels say the iteration.
#[test]
fn every_op_of_an_iteration_reconstructs_to_the_plaintext_value() {
    let plan = variant(
        "train-digits-mlp.ron",
        &[
            ("epochs: 2", "epochs: 1"),
            ("batch_size: 32", "batch_size: 8"),
        ],
    );
    let it3 = plan_at(&plan, 3).unwrap();
    let r = sim::run(&it3).unwrap();
    let labels: Vec<&str> = r.trace.ops.iter().map(|o| o.name.as_str()).collect();
    for want in [
        "it3/a1.mask",
        "it3/d.w1",
        "it3/d.b2",
        "it3/w1",
        "it3/d.logits",
    ] {
        assert!(labels.contains(&want), "{want} not in {labels:?}");
    }
    // The weights are carried as shares: iteration 3 has no input op for them.
    assert!(!labels.contains(&"input w1"), "{labels:?}");
    // After three iterations the private weights are still close to the f64 ones (a DReLU bit
    // flipped at an h within rounding of 0 moves a gradient element by ~lr/B · a · dy).
    for w in ["it3/w1", "it3/b1", "it3/w2", "it3/b2", "it3/w3", "it3/b3"] {
        let op = r.trace.ops.iter().find(|o| o.name == w).unwrap();
        let e = op.stats.max_abs_error.unwrap();
        assert!(e < 0.02, "{w}: {e}");
    }
    // Iteration 0 starts from the same weights as the f64 model: every value is within
    // fixed-point rounding of it.
    let r = sim::run(&plan_at(&plan, 0).unwrap()).unwrap();
    for op in &r.trace.ops {
        let e = op.stats.max_abs_error.unwrap_or(0.0);
        // A DReLU bit of an h within rounding of 0 may differ from the f64 model's: 0 or 1
        // apart, at an element where the ReLU's value is ~0 either way.
        if op.name.ends_with(".mask") {
            assert!(e <= 1.0, "{}: {e}", op.name);
            continue;
        }
        assert!(e < 0.05, "{}: {e}", op.name);
        assert!(op.hazards.is_empty(), "{}: {:?}", op.name, op.hazards);
    }
}

/// An iteration's exact cost equals its estimate (`sharescope check`), for the first
/// (sharing the initial weights) and a later one (carrying them).
#[test]
fn an_iterations_cost_equals_its_estimate() {
    let plan = variant(
        "train-digits-mlp.ron",
        &[("batch_size: 32", "batch_size: 8")],
    );
    for k in [0, 2] {
        let p = plan_at(&plan, k).unwrap();
        let est = sim::estimate::estimate(&p);
        let run = sim::run(&p).unwrap();
        let t = est.totals.expect("every op costed");
        assert_eq!(t.bytes, run.totals.bytes, "iteration {k}");
        assert_eq!(t.offline_bytes, run.totals.offline_bytes, "iteration {k}");
        assert_eq!(t.messages, run.totals.messages, "iteration {k}");
        assert_eq!(t.rounds, run.totals.rounds, "iteration {k}");
        for (o, e) in run.trace.ops.iter().zip(&est.ops) {
            let c = e.cost.as_ref().unwrap();
            assert_eq!(o.stats.bytes, c.bytes, "{}", o.name);
        }
    }
}

fn small(epochs: usize) -> sim::scenario::Plan {
    variant(
        "train-digits-logreg.ron",
        &[
            ("epochs: 2", &format!("epochs: {epochs}")),
            ("batch_size: 32", "batch_size: 256"),
        ],
    )
}

/// One seed, one training run: the kept traces, the per-epoch numbers and the costs repeat;
/// another seed gives another run.
#[test]
fn one_seed_gives_the_same_training_trace() {
    let a = train(&small(1)).unwrap();
    let b = train(&small(1)).unwrap();
    assert_eq!(a.traces, b.traces);
    assert_eq!(a.per_epoch.len(), b.per_epoch.len());
    for (x, y) in a.per_epoch.iter().zip(&b.per_epoch) {
        assert_eq!(x.private, y.private);
        assert_eq!(x.plaintext, y.plaintext);
        assert_eq!(x.cost.bytes, y.cost.bytes);
        assert_eq!(x.cost.virtual_time_ns, y.cost.virtual_time_ns);
    }
    let c = train(&sim::train::reseeded(&small(1), 99).unwrap()).unwrap();
    assert_ne!(a.traces, c.traces);
}

/// The trace kept is the first and last iterations' whatever the number of iterations; the
/// rest keep per-epoch totals only.
#[test]
fn the_kept_trace_does_not_grow_with_the_iterations() {
    let one = train(&small(1)).unwrap();
    let three = train(&small(3)).unwrap();
    assert_eq!(three.total.iterations, 3 * one.total.iterations);
    let kept = |r: &TrainingResult| -> Vec<usize> { r.traces.iter().map(|(k, _)| *k).collect() };
    assert_eq!(kept(&one), vec![0, one.total.iterations - 1]);
    assert_eq!(kept(&three), vec![0, three.total.iterations - 1]);
    let steps = |r: &TrainingResult| -> usize { r.traces.iter().map(|(_, t)| t.steps.len()).sum() };
    assert_eq!(steps(&one), steps(&three));
    assert_eq!(three.per_epoch.len(), 3);
    // Totals add up over the epochs.
    let sum: u64 = three.per_epoch.iter().map(|e| e.cost.bytes).sum();
    assert_eq!(sum, three.total.bytes);
}

fn refused(text: &str) -> String {
    match load_source(&Source {
        name: "t.ron".into(),
        dir: scenario(""),
        text: text.into(),
    }) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const BASE: &str = r#"Scenario(
    name: "t",
    protocol: SecureNN,
    fixed_point: (frac_bits: 16, int_bits: 11, weak_security: true),
    roles: (input_providers: ["alice", "bob"], output_receivers: ["bob"]),
    seed: 1,
    inputs: [],
    program: [
        (name: "z", op: MatMul("x", "w")),
        (name: "h", op: Relu("z")),
    ],
    training: (
        input: "x",
        prediction: "h",
        owner: "bob",
        parameters: [(name: "w", shape: [3, 2], init: GlorotUniform)],
        features: [(owner: "alice", data: Random(Uniform(0.0, 1.0)), shape: [16, 3])],
        labels: [(owner: "alice", data: Random(Uniform(0.0, 1.0)), shape: [16, 2])],
        loss: Mse,
        optimizer: Sgd(learning_rate: 0.25),
        epochs: 1,
        batch_size: 4,
    ),
)"#;

/// A bad training section is refused with the line and column of what is wrong.
#[test]
fn bad_training_sections_are_refused_where_they_are_wrong() {
    // The base is fine.
    load_source(&Source {
        name: "t.ron".into(),
        dir: scenario(""),
        text: BASE.into(),
    })
    .unwrap();
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "owner: \"bob\"",
            "owner: \"carol\"",
            "`carol` is not an input provider",
            "owner: \"carol\"",
        ),
        ("epochs: 1", "epochs: 1, epoch: 2", "epoch", "epoch: 2"),
        (
            "epochs: 1",
            "epochs: 0",
            "epochs must be at least 1",
            "epochs: 0",
        ),
        (
            "batch_size: 4",
            "batch_size: 40",
            "larger than the training data",
            "batch_size: 40",
        ),
        (
            "MatMul(\"x\", \"w\")",
            "MatMul(\"x\", \"v\")",
            "reads `v`",
            "\"v\"",
        ),
        ("shape: [3, 2]", "shape: [4, 2]", "`z`", "MatMul"),
        (
            "learning_rate: 0.25",
            "learning_rate: -1.0",
            "learning rate",
            "learning_rate: -1.0",
        ),
        (
            "prediction: \"h\"",
            "prediction: \"q\"",
            "computes no `q`",
            "prediction: \"q\"",
        ),
        (
            "epochs: 1,",
            "epochs: 1, trace_iterations: Some([7]),",
            "iteration 7 does not exist",
            "7]",
        ),
        (
            "protocol: SecureNN",
            "protocol: Pond",
            "Pond cannot train this",
            "Relu(\"z\")",
        ),
        (
            "(name: \"h\", op: Relu(\"z\"))",
            "(name: \"h\", op: Log(\"z\"))",
            "cannot differentiate `log`",
            "Log(\"z\")",
        ),
        (
            "epochs: 1,",
            "epochs: 1, reveal: [Model(to: \"alice\")],",
            "`alice` is not an output receiver",
            "(to: \"alice\")",
        ),
    ];
    for (from, to, message, at) in cases {
        assert!(BASE.contains(from), "{from}");
        let text = BASE.replacen(from, to, 1);
        let e = refused(&text);
        assert!(e.contains(message), "{to}: {e}");
        // Located: the error names the line whose text holds the culprit.
        let line = text
            .lines()
            .position(|l| l.contains(at))
            .unwrap_or_else(|| panic!("no line with {at}"))
            + 1;
        assert!(
            e.starts_with(&format!("t.ron:{line}:")),
            "{to}: expected line {line}: {e}"
        );
    }
}

/// Rows split between two providers, momentum, and the Mse loss with Pond's polynomial
/// sigmoid: the private weights follow the f64 ones.
#[test]
fn horizontal_split_momentum_and_pond_train() {
    let text = BASE
        .replace("protocol: SecureNN", "protocol: Pond")
        .replace("Relu(\"z\")", "Sigmoid(\"z\")")
        .replace(
            r#"features: [(owner: "alice", data: Random(Uniform(0.0, 1.0)), shape: [16, 3])],
        labels: [(owner: "alice", data: Random(Uniform(0.0, 1.0)), shape: [16, 2])],"#,
            r#"features: [
            (owner: "alice", data: Random(Uniform(0.0, 1.0)), shape: [16, 3]),
            (owner: "bob", data: Random(Uniform(0.0, 1.0)), shape: [12, 3]),
        ],
        labels: [
            (owner: "alice", data: Random(Uniform(0.0, 1.0)), shape: [16, 2]),
            (owner: "bob", data: Random(Uniform(0.0, 1.0)), shape: [12, 2]),
        ],"#,
        )
        .replace(
            "Sgd(learning_rate: 0.25)",
            "Sgd(learning_rate: 0.5, momentum: 0.5)",
        )
        .replace("epochs: 1", "epochs: 3");
    let plan = load_source(&Source {
        name: "t.ron".into(),
        dir: scenario(""),
        text,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let labels: Vec<String> = plan.ops.iter().map(|o| o.label()).collect();
    assert!(
        labels.contains(&"input it0/x.alice".to_string()),
        "{labels:?}"
    );
    assert!(labels.contains(&"it0/v.w".to_string()), "{labels:?}");
    let r = train(&plan).unwrap();
    // 12 / 2 = 6 batches per epoch (each takes 2 of alice's rows and 2 of bob's).
    assert_eq!(r.batches_per_epoch, 6);
    let e = r.per_epoch.last().unwrap();
    assert!(e.max_weight_error < 0.02, "{}", e.max_weight_error);
    assert!((e.private.train_loss - e.plaintext.train_loss).abs() < 0.01);
    assert!(e.plaintext.train_loss < r.initial.1.train_loss);
}

/// Columns split (vertical): each provider holds some features of every example, one holds
/// the labels; ABY3 trains it with its exact ReLU.
#[test]
fn vertical_split_trains_under_aby3() {
    let text = BASE
        .replace("protocol: SecureNN", "protocol: ABY3")
        .replace(
            r#"features: [(owner: "alice", data: Random(Uniform(0.0, 1.0)), shape: [16, 3])],"#,
            r#"features: [
            (owner: "alice", data: Random(Uniform(0.0, 1.0)), shape: [16, 2]),
            (owner: "bob", data: Random(Uniform(0.0, 1.0)), shape: [16, 1]),
        ],
        split: Columns,"#,
        )
        .replace("epochs: 1", "epochs: 2");
    let plan = load_source(&Source {
        name: "t.ron".into(),
        dir: scenario(""),
        text,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let r = train(&plan).unwrap();
    assert_eq!(r.batches_per_epoch, 4);
    let e = r.per_epoch.last().unwrap();
    assert!(e.max_weight_error < 0.02, "{}", e.max_weight_error);
    assert_eq!(e.hazards, 0);
}

/// The debugger goes on from one training iteration into the next: stepping past the end of
/// iteration K opens K+1 before its first step, continuing runs on to a breakpoint of a later
/// iteration (`Op("it2/…")`, a divergence), and iteration K reached so equals iteration K
/// opened directly (`--iteration K`): the same steps, messages and values.
#[test]
fn the_debugger_continues_from_one_iteration_into_the_next() {
    use sim::control::{Breakpoint, Controller, RunState, Stop};
    let plan = small(1);
    let n = plan.training.as_ref().unwrap().training.iterations();
    assert!(n >= 3, "{n} iterations");
    let mut c = Controller::new(plan.clone());
    assert_eq!(c.iteration().unwrap().index, 0);
    assert_eq!(
        c.iteration().unwrap().to_string(),
        format!("iteration 0 of {n} (epoch 1 of 1, batch 1 of {n})")
    );
    assert_eq!(c.last(), Stop::End);
    assert_eq!(c.state(), &RunState::Finished);
    // One step past the end opens iteration 1, before its first step.
    assert_eq!(c.step(1), Stop::Done);
    assert_eq!(c.iteration().unwrap().index, 1);
    assert_eq!(c.position(), 0);
    assert!(c.trace().ops.iter().all(|o| !o.name.contains("it0/")));
    // Continue stops at iteration 2's gradient of w, a label iteration 1 does not have.
    let grad = c
        .trace()
        .ops
        .iter()
        .find(|o| o.name.starts_with("it1/d.w"))
        .map(|o| o.name.replace("it1/", "it2/"))
        .unwrap();
    c.add_breakpoint(Breakpoint::Op(grad.clone()));
    assert!(matches!(c.resume(), Stop::Breakpoint(_)), "{grad}");
    assert_eq!(c.iteration().unwrap().index, 2);
    let at = c.position();
    let op = c.next_step().unwrap().op;
    assert_eq!(c.trace().ops[op].name, grad);
    // The same iteration opened directly: the same history up to the cursor.
    let mut direct = Controller::new(plan_at(&plan, 2).unwrap());
    assert_eq!(direct.goto(at), Stop::Done);
    assert_eq!(c.trace().steps[..at], direct.trace().steps[..at]);
    assert_eq!(c.last(), Stop::End);
    assert_eq!(direct.last(), Stop::End);
    assert_eq!(c.trace(), direct.trace());
    // A preset `Op("it2/…")` is an op breakpoint from iteration 0 on.
    assert_eq!(
        Breakpoint::from_spec(&sim::scenario::BreakpointSpec::Op(grad.clone()), &plan),
        Breakpoint::Op(grad)
    );
    // Jumping: to a later iteration (headless in between), back to an earlier one.
    c.open_iteration(n - 1).unwrap();
    assert_eq!(c.iteration().unwrap().index, n - 1);
    c.open_iteration(1).unwrap();
    assert_eq!(c.iteration().unwrap().index, 1);
    assert_eq!(c.position(), 0);
    assert!(c.open_iteration(n).unwrap_err().contains("does not exist"));
    // A divergence breakpoint fires in a later iteration when continuing: the shadow's
    // error of the first op past the tolerance (0 here: any fixed-point error).
    c.open_iteration(n - 1).unwrap();
    assert_eq!(c.last(), Stop::End);
    // The last iteration ends the run: a step past it stays at its end.
    assert_eq!(c.step(1), Stop::End);
    assert_eq!(c.iteration().unwrap().index, n - 1);
    c.open_iteration(0).unwrap();
    c.add_breakpoint(Breakpoint::Divergence(0.0));
    c.remove_breakpoint(0);
    assert_eq!(c.last(), Stop::End);
    // From the end of iteration 0, continue goes into iteration 1 and stops at its first
    // op whose value strays from the shadow's.
    assert!(matches!(c.resume(), Stop::Breakpoint(_)));
    assert_eq!(c.iteration().unwrap().index, 1);
}

/// The gradient of `forward`'s last value against finite differences of the plaintext meaning
/// (`eval_f64`), for L = Σ out ∘ G with a fixed G: the backward pass's ops, evaluated in f64,
/// give ∂L/∂w for every parameter element.
fn check_gradient(forward: &[(&str, protocols::program::Op)], params: &[(&str, Vec<usize>)]) {
    use ndarray::{ArrayD, IxDyn};
    use protocols::program::{eval_f64, infer_shape};
    use sim::scenario::Stmt;
    use std::collections::{HashMap, HashSet};
    let stmts: Vec<Stmt> = forward
        .iter()
        .map(|(n, op)| Stmt {
            name: n.to_string(),
            op: op.clone(),
        })
        .collect();
    let mut shapes: HashMap<String, Vec<usize>> = HashMap::new();
    let mut vals: HashMap<String, ArrayD<f64>> = HashMap::new();
    // A deterministic spread of values in [-1, 1].
    let fill = |shape: &[usize], salt: usize| {
        let n: usize = shape.iter().product();
        let v = (0..n)
            .map(|i| (((i * 7919 + salt * 104_729) % 2001) as f64 / 1000.0 - 1.0) * 0.8)
            .collect();
        ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
    };
    shapes.insert("x".into(), vec![3, 4]);
    vals.insert("x".into(), fill(&[3, 4], 1));
    for (k, (p, s)) in params.iter().enumerate() {
        shapes.insert(p.to_string(), s.clone());
        vals.insert(p.to_string(), fill(s, k + 2));
    }
    shapes.insert("one".into(), vec![1]);
    vals.insert("one".into(), ArrayD::from_elem(IxDyn(&[1]), 1.0));
    for s in &stmts {
        let ops: Vec<&[usize]> =
            s.op.operands()
                .iter()
                .map(|o| shapes[*o].as_slice())
                .collect();
        let sh = infer_shape(&s.op, &ops).unwrap();
        shapes.insert(s.name.clone(), sh);
    }
    let out = stmts.last().unwrap().name.clone();
    let g = fill(&shapes[&out], 99);
    shapes.insert("g".into(), g.shape().to_vec());
    let names: HashSet<String> = params.iter().map(|(p, _)| p.to_string()).collect();
    let origins: Vec<usize> = (0..stmts.len()).collect();
    let bw =
        sim::train::autodiff::backward(&stmts, &origins, &names, &out, "g", &mut shapes, "one")
            .unwrap_or_else(|(at, m)| panic!("statement {at}: {m}"));
    let run = |vals: &mut HashMap<String, ArrayD<f64>>, more: &[Stmt]| {
        for s in more {
            let args: Vec<&ArrayD<f64>> = s.op.operands().iter().map(|o| &vals[*o]).collect();
            let v = eval_f64(&s.op, &args);
            vals.insert(s.name.clone(), v);
        }
    };
    let loss = |vals: &HashMap<String, ArrayD<f64>>| -> f64 {
        let mut v = vals.clone();
        run(&mut v, &stmts);
        (&v[&out] * &g).sum()
    };
    let mut all = vals.clone();
    all.insert("g".into(), g.clone());
    run(&mut all, &stmts);
    let back: Vec<Stmt> = bw.stmts.iter().map(|(s, _)| s.clone()).collect();
    run(&mut all, &back);
    for (p, _) in params {
        let grad = &all[&bw.grads[*p]];
        assert_eq!(grad.shape(), vals[*p].shape(), "{p}");
        for (i, analytic) in grad.iter().enumerate() {
            let h = 1e-5;
            let mut plus = vals.clone();
            plus.get_mut(*p).unwrap().as_slice_mut().unwrap()[i] += h;
            let mut minus = vals.clone();
            minus.get_mut(*p).unwrap().as_slice_mut().unwrap()[i] -= h;
            let numeric = (loss(&plus) - loss(&minus)) / (2.0 * h);
            assert!(
                (analytic - numeric).abs() < 1e-6 * (1.0 + numeric.abs()),
                "{p}[{i}]: backward {analytic}, finite differences {numeric} ({forward:?})"
            );
        }
    }
}

/// Issue 13 (train2): Mean, ReduceSum, Exp and a Softmax inside the model have gradients, and
/// they agree with finite differences of the plaintext meaning (every axis form).
#[test]
fn mean_reduce_sum_exp_and_softmax_gradients_match_finite_differences() {
    use protocols::program::Op;
    let s = |x: &str| x.to_string();
    let mm = ("z", Op::MatMul(s("x"), s("w")));
    let w = vec![("w", vec![4, 5])];
    check_gradient(&[mm.clone(), ("y", Op::Exp(s("z")))], &w);
    check_gradient(&[mm.clone(), ("y", Op::Softmax(s("z")))], &w);
    for axis in [None, Some(0), Some(1)] {
        check_gradient(
            &[
                mm.clone(),
                (
                    "y",
                    Op::Mean {
                        input: s("z"),
                        axis,
                    },
                ),
            ],
            &w,
        );
        check_gradient(
            &[
                mm.clone(),
                (
                    "y",
                    Op::ReduceSum {
                        input: s("z"),
                        axis,
                    },
                ),
            ],
            &w,
        );
    }
    // Over a rank-3 parameter, and chained: softmax of the mean, exp of the sum.
    check_gradient(
        &[
            (
                "m",
                Op::Mean {
                    input: s("u"),
                    axis: Some(1),
                },
            ),
            ("z", Op::MatMul(s("x"), s("m"))),
            ("a", Op::Softmax(s("z"))),
            ("e", Op::Exp(s("a"))),
            (
                "y",
                Op::ReduceSum {
                    input: s("e"),
                    axis: Some(1),
                },
            ),
        ],
        &[("u", vec![4, 3, 5])],
    );
}

/// A model with a Softmax inside it (not the loss's), Exp, Mean and ReduceSum over weights
/// trains privately (SecureNN) and follows the f64 model: every updated weight within 0.02 of
/// the shadow's, no hazard.
#[test]
fn a_model_with_an_inner_softmax_exp_mean_and_reduce_sum_trains() {
    let text = BASE
        .replace(
            r#"        (name: "z", op: MatMul("x", "w")),
        (name: "h", op: Relu("z")),"#,
            r#"        (name: "z", op: MatMul("x", "w")),
        (name: "a", op: Softmax("z")),
        (name: "e", op: Exp("v")),
        (name: "s", op: Mul("a", "e")),
        (name: "m", op: Mean(input: "u", axis: Some(1))),
        (name: "p", op: MatMul("s", "m")),
        (name: "r", op: ReduceSum(input: "q", axis: Some(0))),
        (name: "h", op: Add("p", "r")),"#,
        )
        .replace(
            r#"parameters: [(name: "w", shape: [3, 2], init: GlorotUniform)],"#,
            r#"parameters: [
            (name: "w", shape: [3, 4], init: GlorotUniform),
            (name: "v", shape: [4], init: Zeros),
            (name: "u", shape: [4, 3, 2], init: GlorotUniform),
            (name: "q", shape: [2, 2], init: Zeros),
        ],"#,
        )
        .replace("epochs: 1", "epochs: 2");
    let plan = load_source(&Source {
        name: "t.ron".into(),
        dir: scenario(""),
        text,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let labels: Vec<String> = plan.ops.iter().map(|o| o.label()).collect();
    for grad in ["it0/d.w", "it0/d.v", "it0/d.u", "it0/d.q"] {
        assert!(
            labels.iter().any(|l| l.starts_with(grad)),
            "{grad}: {labels:?}"
        );
    }
    let r = train(&plan).unwrap();
    let e = r.per_epoch.last().unwrap();
    assert!(e.max_weight_error < 0.02, "{}", e.max_weight_error);
    assert_eq!(e.hazards, 0);
    assert!(e.private.train_loss < r.initial.0.train_loss);
    assert!((e.private.train_loss - e.plaintext.train_loss).abs() < 0.01);
}

/// A classifier on random data whose held-out set is `test_parts`: `TestAccuracy` computed on
/// parts input by their providers (joined by a Concat), split as `split` says.
fn split_test_scenario(split: &str, features: &str, test_parts: &str) -> String {
    let labels = |n: usize| {
        (0..n)
            .map(|i| ((i * 5 + 1) % 3).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    BASE.replace("(name: \"h\", op: Relu(\"z\")),", "")
        .replace("prediction: \"h\"", "prediction: \"z\"")
        .replace("[(name: \"w\", shape: [3, 2]", "[(name: \"w\", shape: [3, 3]")
        .replace(
            r#"features: [(owner: "alice", data: Random(Uniform(0.0, 1.0)), shape: [16, 3])],
        labels: [(owner: "alice", data: Random(Uniform(0.0, 1.0)), shape: [16, 2])],"#,
            &format!(
                "{features}\n        labels: [(owner: \"alice\", data: Values([{}]), shape: [16])],\n        split: {split},\n        classes: Some(3),\n        {test_parts}\n        reveal: [TestAccuracy(to: \"bob\")],",
                labels(16)
            ),
        )
        .replace("loss: Mse", "loss: SoftmaxCrossEntropy")
        .replace("labels_of(5)", &labels(5))
        .replace("labels_of(7)", &labels(7))
        .replace("labels_of(6)", &labels(6))
}

/// Issue 13 (train2): `TestAccuracy` on a held-out set split between providers, by Rows (each
/// holds some examples and their labels) and by Columns (each holds some features of every
/// example, one the labels): the receiver learns the private model's own count of errors.
#[test]
fn test_accuracy_with_a_test_set_split_between_providers() {
    let rows = split_test_scenario(
        "Rows",
        r#"features: [(owner: "alice", data: Random(Uniform(0.0, 1.0)), shape: [16, 3])],"#,
        r#"test_parts: Some((
            features: [
                (owner: "alice", data: Random(Uniform(0.0, 1.0)), shape: [5, 3]),
                (owner: "bob", data: Random(Uniform(0.0, 1.0)), shape: [7, 3]),
            ],
            labels: [
                (owner: "alice", data: Values([labels_of(5)])),
                (owner: "bob", data: Values([labels_of(7)])),
            ],
        )),"#,
    );
    let columns = split_test_scenario(
        "Columns",
        r#"features: [
            (owner: "alice", data: Random(Uniform(0.0, 1.0)), shape: [16, 2]),
            (owner: "bob", data: Random(Uniform(0.0, 1.0)), shape: [16, 1]),
        ],"#,
        r#"test_parts: Some((
            features: [
                (owner: "alice", data: Random(Uniform(0.0, 1.0)), shape: [6, 2]),
                (owner: "bob", data: Random(Uniform(0.0, 1.0)), shape: [6, 1]),
            ],
            labels: [(owner: "bob", data: Values([labels_of(6)]))],
        )),"#,
    );
    for (text, n, axis_parts) in [
        (rows, 12, ["x.alice", "x.bob"]),
        (columns, 6, ["x.alice", "x.bob"]),
    ] {
        let plan = load_source(&Source {
            name: "t.ron".into(),
            dir: scenario(""),
            text: text.clone(),
        })
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
        let r = train(&plan).unwrap();
        let (errors, total) = r.revealed_test_errors.expect("TestAccuracy revealed");
        assert_eq!(total, n);
        let acc = r.per_epoch.last().unwrap().private.test_accuracy.unwrap();
        assert_eq!(errors, ((1.0 - acc) * n as f64).round() as usize, "{acc}");
        let reveal = r.reveal.expect("the final reveal ran");
        let ops: Vec<&str> = reveal.trace.ops.iter().map(|o| o.name.as_str()).collect();
        for part in axis_parts {
            let input = format!("input final/{part}");
            assert!(ops.contains(&input.as_str()), "{ops:?}");
        }
        assert!(ops.contains(&"final/x"), "{ops:?}");
    }
    // Refused where it is wrong: both forms, a Rows label part of another provider.
    let base = split_test_scenario(
        "Rows",
        r#"features: [(owner: "alice", data: Random(Uniform(0.0, 1.0)), shape: [16, 3])],"#,
        r#"test_parts: Some((
            features: [
                (owner: "alice", data: Random(Uniform(0.0, 1.0)), shape: [5, 3]),
                (owner: "bob", data: Random(Uniform(0.0, 1.0)), shape: [7, 3]),
            ],
            labels: [
                (owner: "alice", data: Values([labels_of(5)])),
                (owner: "alice", data: Values([labels_of(7)])),
            ],
        )),"#,
    );
    let e = refused(&base);
    assert!(
        e.contains("test label part 1 is `alice`'s, its features `bob`'s"),
        "{e}"
    );
    let both = base.replace(
        "test_parts:",
        "test: Some((owner: \"alice\", features: Random(Uniform(0.0, 1.0)), shape: Some([4, 3]), labels: Values([0, 1, 2, 0]))),\n        test_parts:",
    );
    assert!(refused(&both).contains("both `test` and `test_parts`"));
}

/// Issue 13 (pooling): the same CNN trains under ABY3 — its MaxPool2dGrad is ABY3's DMaxPool
/// (the comparison tree carrying the one-hot) — within 2 points of the f64 CNN.
#[test]
fn private_cnn_trains_one_epoch_under_aby3() {
    let plan = variant(
        "train-digits-cnn.ron",
        &[("protocol: SecureNN", "protocol: ABY3")],
    );
    let r = train(&plan).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.per_epoch.len(), 1);
    let (private, plain) = last_test_accuracy(&r);
    assert!(
        (private - plain).abs() <= 0.02,
        "private {private} plaintext {plain}"
    );
    assert!(private > 0.6, "private accuracy {private}");
    assert_eq!(r.per_epoch[0].hazards, 0);
}

/// Issue 13 (pooling): in training the forward max pool keeps its one-hot
/// (`MaxPool2dWithOneHot`: one tree for the maxima and the one-hot) and the backward pass
/// multiplies the gradient by it (`MaxPool2dGradOneHot`), instead of a forward MaxPool2d and a
/// backward DMaxPool that runs the comparison tree a second time. One iteration of the digits
/// CNN (m = 32·8·3·3 windows of 2×2) under SecureNN and ABY3: the run equals the estimate, the
/// two ops cost docs/costs.md's formulas, and together far less than the two trees did.
#[test]
fn the_backward_max_pool_reuses_the_forward_one_hot() {
    use protocols::cost::Cost;
    let m = 32 * 8 * 3 * 3u64;
    let n = 4 * m; // the pool's input elements (non-overlapping 2×2 windows)
    for protocol in ["SecureNN", "ABY3"] {
        let plan = variant(
            "train-digits-cnn.ron",
            &[("protocol: SecureNN", &format!("protocol: {protocol}"))],
        );
        let p = plan_at(&plan, 0).unwrap();
        let est = sim::estimate::estimate(&p);
        let run = sim::run(&p).unwrap();
        let mut pool = Cost::ZERO;
        for (o, e) in run.trace.ops.iter().zip(&est.ops) {
            let c = e.cost.as_ref().unwrap();
            let st = &o.stats;
            assert_eq!(
                (st.bytes, st.offline_bytes, st.messages, st.rounds),
                (c.bytes, c.offline_bytes, c.messages, c.rounds),
                "{protocol} `{}`",
                o.name
            );
            if o.kind.starts_with("maxpool2d") {
                pool.bytes += st.bytes;
                pool.offline_bytes += st.offline_bytes;
                pool.rounds += st.rounds;
                let want = match (protocol, o.kind.as_str()) {
                    // The tree with the maxima: DReLU(2m) + SelectShare(2m), DReLU(m) +
                    // SelectShare(5m); then Beaver(one-hot 4m + dY m fresh, 4m) + T(4m) dealer.
                    ("SecureNN", "maxpool2d_with_onehot") => (1448 * m, 18),
                    ("SecureNN", "maxpool2d_grad_onehot") => (80 * m + 16 * n, 2),
                    // drelu + b2a_bit + product(2m), drelu + b2a_bit + product(5m); then
                    // product(4m) + Π_trunc2(4m).
                    ("ABY3", "maxpool2d_with_onehot") => (792 * m, 20),
                    ("ABY3", "maxpool2d_grad_onehot") => (96 * m + 16 * n, 2),
                    other => panic!("unexpected {other:?}"),
                };
                assert_eq!((st.bytes, st.rounds), want, "{protocol} `{}`", o.name);
            }
        }
        // The design replaced: a forward MaxPool2d and a backward MaxPool2dGrad (DMaxPool's
        // tree again, then E · dY).
        let (old_bytes, old_rounds) = match protocol {
            "SecureNN" => {
                use protocols::securenn::{cost as snn, Variant};
                let fwd = snn::maxpool(Variant::Secure, 4, m);
                let bwd = protocols::securenn::dmaxpool::cost(Variant::Secure, 4, m as usize);
                (fwd.bytes + bwd.bytes + 80 * m, fwd.rounds + bwd.rounds + 1)
            }
            _ => {
                use protocols::aby3::boolean_cost as bc;
                let fwd = bc::maxpool2d(4, m).cost();
                let bwd =
                    protocols::aby3::dmaxpool::maxpool2d_grad(4, m as usize, true, true).cost();
                (fwd.bytes + bwd.bytes, fwd.rounds + bwd.rounds)
            }
        };
        assert!(
            pool.bytes * 3 < old_bytes * 2 && pool.rounds < old_rounds,
            "{protocol}: {} B, {} rounds now; {old_bytes} B, {old_rounds} rounds before",
            pool.bytes,
            pool.rounds
        );
        eprintln!(
            "{protocol}: pooling {} B online, {} B offline, {} rounds per iteration (before: {old_bytes} B, {old_rounds} rounds)",
            pool.bytes, pool.offline_bytes, pool.rounds
        );
    }
}
