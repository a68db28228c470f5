//! `sharescope import` (issue 12): the committed ONNX models of scenarios/models/ (exported by
//! export.py, with the framework's own outputs in reference/) are imported, run privately with
//! SecureNN and compared with the framework; refused models give located errors, and truncated
//! or garbage files never panic.

use sim::import::onnx::*;
use sim::import::{self, Options};
use sim::scenario::ProtocolKind;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn models() -> PathBuf {
    repo().join("scenarios/models")
}

fn digits(file: &str) -> PathBuf {
    repo().join("scenarios/data/digits").join(file)
}

fn protocol(name: &str) -> ProtocolKind {
    sim::compare::parse_protocol(name).unwrap()
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sharescope-import-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn import_digits(model: &str, out: &Path) -> import::Imported {
    import::import(&Options {
        model: models().join(format!("{model}.onnx")),
        output: out.join(format!("{model}.ron")),
        protocol: protocol("securenn"),
        batch: None,
        inputs: Some(digits("test_images.npy")),
        labels: Some(digits("test_labels.npy")),
    })
    .unwrap()
}

fn argmax(row: &[f64]) -> usize {
    protocols::program::first_max(row)
}

/// float32 rounding in the framework's own arithmetic (onnxruntime computes in float32; the
/// bound is against exact real arithmetic on the same weights). docs/import.md.
const FLOAT32_ALLOWANCE: f64 = 1e-4;

/// Imports `model`, runs it with SecureNN, and checks it against the framework: returns
/// (agreement, max |error|, bound).
fn agree_with_framework(model: &str) -> (f64, f64, f64) {
    let dir = temp(model);
    let imp = import_digits(model, &dir);
    let bound = imp.bound.clone().unwrap();
    let r = sim::run(&imp.plan).unwrap();
    let out = r.outputs.iter().find(|o| o.name == "logits").unwrap();
    assert_eq!(out.shape, vec![100, 10]);
    let refs = sim::npy::read_npy(&models().join(format!("reference/{model}_logits.npy"))).unwrap();
    let pred = sim::npy::read_npy(&models().join(format!("reference/{model}_pred.npy"))).unwrap();
    assert_eq!(refs.values.len(), out.values.len());
    let err = out
        .values
        .iter()
        .zip(&refs.values)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let agree = out
        .values
        .chunks(10)
        .zip(&pred.values)
        .filter(|(row, &p)| argmax(row) == p as usize)
        .count() as f64
        / 100.0;
    let m = r.metrics.as_ref().expect("labels give metrics");
    eprintln!(
        "{model}: agreement with the framework {agree:.2}, max |logit error| {err:.3e} (bound {bound:.3e}), accuracy {:.2}, agreement with the shadow {:.2}",
        m.accuracy, m.agreement
    );
    let _ = std::fs::remove_dir_all(&dir);
    (agree, err, bound)
}

#[test]
fn logistic_regression_agrees_with_scikit_learn() {
    let (agree, err, bound) = agree_with_framework("logreg");
    assert!(agree >= 0.99, "agreement {agree}");
    assert!(
        err <= bound + FLOAT32_ALLOWANCE,
        "error {err} above the bound {bound}"
    );
}

#[test]
fn mlp_agrees_with_scikit_learn() {
    let (agree, err, bound) = agree_with_framework("mlp");
    assert!(agree >= 0.99, "agreement {agree}");
    assert!(
        err <= bound + FLOAT32_ALLOWANCE,
        "error {err} above the bound {bound}"
    );
}

#[test]
fn cnn_with_batch_norm_agrees_with_onnxruntime() {
    let (agree, err, bound) = agree_with_framework("cnn");
    assert!(agree >= 0.99, "agreement {agree}");
    assert!(
        err <= bound + FLOAT32_ALLOWANCE,
        "error {err} above the bound {bound}"
    );
}

#[test]
fn the_cnn_scenario_folds_batch_norm_and_drops_the_softmax() {
    let dir = temp("cnn-shape");
    let imp = import_digits("cnn", &dir);
    let kinds: Vec<&str> = imp
        .plan
        .scenario
        .program
        .iter()
        .map(|s| s.op.kind())
        .collect();
    assert_eq!(
        kinds,
        [
            "conv2d",
            "add",
            "relu",
            "maxpool2d",
            "flatten",
            "matmul",
            "add"
        ],
        "BatchNormalization folded (no mul), Softmax dropped"
    );
    let text = std::fs::read_to_string(dir.join("cnn.ron")).unwrap();
    assert!(text.contains("padding:1"), "{text}");
    assert!(text.contains("metrics: (prediction: \"logits\""), "{text}");
    assert!(dir.join("cnn-weights/conv_weight.npy").is_file());
    assert!(imp
        .notes
        .iter()
        .any(|n| n.contains("BatchNormalization") && n.contains("folded")));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every other operator, against onnxruntime: the plaintext shadow (the translated program's
/// exact meaning) must match the framework to float32 rounding; the private run within Pond's
/// sigmoid/tanh polynomial error.
#[test]
fn every_other_operator_matches_onnxruntime() {
    let dir = temp("ops");
    let imp = import::import(&Options {
        model: models().join("ops.onnx"),
        output: dir.join("ops.ron"),
        protocol: protocol("securenn"),
        batch: None,
        inputs: Some(digits("test_images.npy")),
        labels: None,
    })
    .unwrap();
    let kinds: Vec<&str> = imp
        .plan
        .scenario
        .program
        .iter()
        .map(|s| s.op.kind())
        .collect();
    for k in [
        "conv2d",
        "sigmoid",
        "avgpool2d",
        "tanh",
        "mul",
        "sub",
        "reshape",
        "transpose",
        "matmul",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    let r = sim::run(&imp.plan).unwrap();
    let out = &r.outputs[0];
    let refs = sim::npy::read_npy(&models().join("reference/ops_out.npy")).unwrap();
    let max = |a: &[f64]| {
        a.iter()
            .zip(&refs.values)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    };
    let (shadow, private) = (max(&out.plaintext), max(&out.values));
    eprintln!("ops: shadow vs onnxruntime {shadow:.3e}, private vs onnxruntime {private:.3e}");
    assert!(
        shadow < 1e-5,
        "the translation differs from onnxruntime by {shadow}"
    );
    assert!(private < 0.05, "private error {private}");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// Hand-built models for the refusals.

fn value(name: &str, elem: i32, dims: &[Option<i64>]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: elem,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|d| Dimension {
                            dim_value: *d,
                            dim_param: if d.is_none() { Some("N".into()) } else { None },
                        })
                        .collect(),
                }),
            }),
        }),
    }
}

fn tensor(name: &str, dims: &[i64], values: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 1,
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: 7,
        ints: v.to_vec(),
        ..Default::default()
    }
}

fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: 2,
        i: v,
        ..Default::default()
    }
}

fn node(
    op: &str,
    name: &str,
    inputs: &[&str],
    outputs: &[&str],
    attrs: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: name.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute: attrs,
        ..Default::default()
    }
}

fn model(
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    input: ValueInfoProto,
    output: &str,
    opset: i64,
) -> Vec<u8> {
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: opset,
        }],
        graph: Some(GraphProto {
            node: nodes,
            name: "test".into(),
            initializer: inits,
            input: vec![input],
            output: vec![value(output, 1, &[])],
            ..Default::default()
        }),
        ..Default::default()
    }
    .to_bytes()
}

fn image() -> ValueInfoProto {
    value("x", 1, &[None, Some(1), Some(4), Some(4)])
}

fn filters() -> TensorProto {
    tensor("w", &[2, 1, 3, 3], &[0.1; 18])
}

fn refused(bytes: &[u8], protocol_name: &str, batch: Option<usize>) -> String {
    match import::translate_bytes(bytes, Path::new("m.onnx"), protocol(protocol_name), batch) {
        Ok(_) => panic!("accepted"),
        Err(e) => {
            assert!(matches!(e, sim::SimError::Import(_)), "{e:?}");
            let s = e.to_string();
            assert!(s.starts_with("m.onnx: "), "{s}");
            assert!(s.contains("\nhint: "), "no hint: {s}");
            s
        }
    }
}

#[test]
fn an_unsupported_operator_is_refused_with_its_name_type_and_position() {
    let b = model(
        vec![
            node("Relu", "r", &["x"], &["a"], vec![]),
            node("Erf", "the_erf", &["a"], &["y"], vec![]),
        ],
        vec![],
        image(),
        "y",
        13,
    );
    let e = refused(&b, "securenn", Some(2));
    assert!(
        e.contains("node 2 of 2 `the_erf` (Erf): operator Erf is not supported"),
        "{e}"
    );
    assert!(
        e.contains("Gemm"),
        "the hint lists the supported operators: {e}"
    );
}

#[test]
fn a_dynamic_batch_needs_batch_and_other_dynamic_dimensions_are_refused() {
    let b = model(
        vec![node("Relu", "r", &["x"], &["y"], vec![])],
        vec![],
        image(),
        "y",
        13,
    );
    let e = refused(&b, "securenn", None);
    assert!(
        e.contains("input `x`") && e.contains("batch dimension is dynamic"),
        "{e}"
    );
    assert!(e.contains("fix the batch size with --batch"), "{e}");
    assert!(
        import::translate_bytes(&b, Path::new("m.onnx"), protocol("securenn"), Some(3)).is_ok()
    );
    let b = model(
        vec![node("Relu", "r", &["x"], &["y"], vec![])],
        vec![],
        value("x", 1, &[Some(1), Some(1), None, Some(4)]),
        "y",
        13,
    );
    assert!(refused(&b, "securenn", None).contains("dimension 2 is dynamic"));
    let fixed = model(
        vec![node("Relu", "r", &["x"], &["y"], vec![])],
        vec![],
        value("x", 1, &[Some(1), Some(4)]),
        "y",
        13,
    );
    assert!(refused(&fixed, "securenn", Some(5)).contains("fixes the batch size at 1"));
}

#[test]
fn unsupported_opsets_data_types_and_external_weights_are_refused() {
    let relu = || vec![node("Relu", "r", &["x"], &["y"], vec![])];
    let e = refused(&model(relu(), vec![], image(), "y", 5), "securenn", Some(1));
    assert!(
        e.contains("the model: opset 5") && e.contains("convert_version"),
        "{e}"
    );
    let e = refused(
        &model(relu(), vec![], value("x", 3, &[Some(1), Some(4)]), "y", 13),
        "securenn",
        None,
    );
    assert!(e.contains("data type is INT8"), "{e}");
    let mut half = filters();
    half.data_type = 10;
    let conv = vec![node("Conv", "c", &["x", "w"], &["y"], vec![])];
    let e = refused(
        &model(conv.clone(), vec![half], image(), "y", 13),
        "securenn",
        Some(1),
    );
    assert!(
        e.contains("initialiser `w`") && e.contains("FLOAT16"),
        "{e}"
    );
    let mut ext = filters();
    ext.data_location = 1;
    let e = refused(
        &model(conv, vec![ext], image(), "y", 13),
        "securenn",
        Some(1),
    );
    assert!(e.contains("external file"), "{e}");
}

#[test]
fn conv_and_pool_attributes_the_program_lacks_are_refused() {
    let conv = |attrs: Vec<AttributeProto>| {
        model(
            vec![node("Conv", "conv1", &["x", "w"], &["y"], attrs)],
            vec![filters()],
            image(),
            "y",
            13,
        )
    };
    let e = refused(
        &conv(vec![ints("pads", &[0, 0, 1, 1])]),
        "securenn",
        Some(1),
    );
    assert!(
        e.contains("node 1 of 1 `conv1` (Conv): pads [0, 0, 1, 1] are not the same on every side"),
        "{e}"
    );
    assert!(
        refused(&conv(vec![ints("strides", &[1, 2])]), "securenn", Some(1))
            .contains("strides [1, 2]")
    );
    assert!(
        refused(&conv(vec![ints("dilations", &[2, 2])]), "securenn", Some(1)).contains("dilations")
    );
    assert!(refused(&conv(vec![int("group", 2)]), "securenn", Some(1)).contains("group 2"));
    let ok = conv(vec![ints("pads", &[1, 1, 1, 1]), ints("strides", &[2, 2])]);
    let (_, t) =
        import::translate_bytes(&ok, Path::new("m.onnx"), protocol("securenn"), Some(1)).unwrap();
    assert_eq!(t.shapes["y"], vec![1, 2, 2, 2]);

    let pool = model(
        vec![node(
            "MaxPool",
            "mp",
            &["x"],
            &["y"],
            vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])],
        )],
        vec![],
        image(),
        "y",
        13,
    );
    let e = refused(&pool, "pond", Some(1));
    assert!(
        e.contains("`mp` (MaxPool)") && e.contains("Pond does not run"),
        "{e}"
    );
    assert!(e.contains("--protocol"), "{e}");
    assert!(
        import::translate_bytes(&pool, Path::new("m.onnx"), protocol("securenn"), Some(1)).is_ok()
    );
    let rect = model(
        vec![node(
            "AveragePool",
            "ap",
            &["x"],
            &["y"],
            vec![ints("kernel_shape", &[2, 1])],
        )],
        vec![],
        image(),
        "y",
        13,
    );
    assert!(refused(&rect, "securenn", Some(1)).contains("square windows"));
}

#[test]
fn softmax_inside_the_network_is_the_softmax_op_and_general_transposes_are_refused() {
    let inner = |op: &str, axis: Option<i64>| {
        let attrs = axis.map(|a| vec![int("axis", a)]).unwrap_or_default();
        model(
            vec![
                node(op, "sm", &["x"], &["s"], attrs),
                node("Relu", "r", &["s"], &["y"], vec![]),
            ],
            vec![],
            image(),
            "y",
            13,
        )
    };
    // SecureNN runs the program's Softmax (issue 13's op set): translated, not refused.
    let (_, done) = import::translate_bytes(
        &inner("Softmax", None),
        Path::new("m.onnx"),
        protocol("securenn"),
        Some(1),
    )
    .unwrap();
    assert!(
        done.program
            .iter()
            .any(|(_, op)| matches!(op, protocols::program::Op::Softmax(_))),
        "{:?}",
        done.program
    );
    // Pond has no exact comparison for the row maximum: refused at the node, with the reason.
    let e = refused(&inner("Softmax", None), "pond", Some(1));
    assert!(
        e.contains("node 1 of 2 `sm` (Softmax)") && e.contains("Pond"),
        "{e}"
    );
    // Over another axis, or a LogSoftmax inside the network: refused, saying what to do.
    for (op, axis) in [("Softmax", Some(1)), ("LogSoftmax", None)] {
        let e = refused(&inner(op, axis), "securenn", Some(1));
        assert!(
            e.contains(&format!("node 1 of 2 `sm` ({op})")) && e.contains("over the last axis"),
            "{e}"
        );
    }
    let perm = model(
        vec![node(
            "Transpose",
            "nhwc",
            &["x"],
            &["y"],
            vec![ints("perm", &[0, 2, 3, 1])],
        )],
        vec![],
        image(),
        "y",
        13,
    );
    assert!(refused(&perm, "securenn", Some(1)).contains("perm [0, 2, 3, 1]"));
    let fixed_batch = model(
        vec![
            node(
                "Constant",
                "k",
                &[],
                &["shape"],
                vec![AttributeProto {
                    name: "value".into(),
                    r#type: 4,
                    t: Some(TensorProto {
                        dims: vec![2],
                        data_type: 7,
                        int64_data: vec![1, 16],
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
            ),
            node("Reshape", "rs", &["x", "shape"], &["y"], vec![]),
        ],
        vec![],
        image(),
        "y",
        13,
    );
    let e = refused(&fixed_batch, "securenn", Some(4));
    assert!(e.contains("`rs` (Reshape)") && e.contains("--batch"), "{e}");
    assert!(import::translate_bytes(
        &fixed_batch,
        Path::new("m.onnx"),
        protocol("securenn"),
        Some(1)
    )
    .is_ok());
}

#[test]
fn a_final_argmax_is_the_protocols_argmax_or_the_logits() {
    let b = model(
        vec![
            node("Flatten", "f", &["x"], &["flat"], vec![]),
            node(
                "ArgMax",
                "am",
                &["flat"],
                &["y"],
                vec![int("axis", 1), int("keepdims", 0)],
            ),
        ],
        vec![],
        image(),
        "y",
        13,
    );
    let (_, t) =
        import::translate_bytes(&b, Path::new("m.onnx"), protocol("securenn"), Some(2)).unwrap();
    assert_eq!(t.program.last().unwrap().1.kind(), "argmax");
    assert_eq!(t.scores.as_deref(), Some("y"), "metrics read the classes");
    let (_, t) =
        import::translate_bytes(&b, Path::new("m.onnx"), protocol("pond"), Some(2)).unwrap();
    assert_eq!(t.program.last().unwrap().1.kind(), "flatten");
    assert_eq!(t.outputs, vec!["flat".to_string()]);
}

#[test]
fn truncated_and_garbage_files_are_errors_never_panics() {
    let cnn = std::fs::read(models().join("cnn.onnx")).unwrap();
    let try_bytes = |b: &[u8]| {
        let _ = import::translate_bytes(b, Path::new("m.onnx"), protocol("securenn"), Some(2));
    };
    // Every prefix (a step keeps it quick) and the file with one byte changed at many places.
    for n in (0..cnn.len()).step_by(3) {
        try_bytes(&cnn[..n]);
    }
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let mut b = cnn.clone();
        for _ in 0..1 + next() % 4 {
            let i = (next() % b.len() as u64) as usize;
            b[i] = next() as u8;
        }
        try_bytes(&b);
    }
    for len in [1usize, 7, 100, 5000] {
        let g: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        try_bytes(&g);
    }
    let e =
        import::translate_bytes(&[], Path::new("m.onnx"), protocol("securenn"), None).unwrap_err();
    assert!(e.to_string().contains("the file is empty"), "{e}");
    let e = import::translate_bytes(
        b"\xff\xff\xff",
        Path::new("m.onnx"),
        protocol("securenn"),
        None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("not an ONNX model"), "{e}");
    // A truncated model that still decodes is refused at a clear place, not accepted half-read.
    let e = import::translate_bytes(
        &cnn[..cnn.len() / 2],
        Path::new("m.onnx"),
        protocol("securenn"),
        Some(2),
    )
    .unwrap_err();
    assert!(matches!(e, sim::SimError::Import(_)), "{e}");
}
