#!/usr/bin/env python3
"""Train three small models on scikit-learn's 8x8 digits and export them as ONNX files.

    pip install numpy scikit-learn onnx onnxruntime
    python3 scenarios/models/export.py     # writes scenarios/models/*.onnx and reference/*.npy

The files it writes are committed: CI and the Rust tests never need Python. Everything is seeded.

Data: the digits scenarios' split (scenarios/data/train_digits.py): load_digits(), pixels / 16,
train_test_split(test_size=0.2, random_state=2024, stratify=y), the first 100 held-out images.
The held-out images and labels are scenarios/data/digits/test_images.npy / test_labels.npy.

Models (the ONNX graphs are built with onnx.helper from the trained weights, in the form
PyTorch's exporter writes them: Gemm with transB=1, NCHW Conv with pads, BatchNormalization in
inference mode, a final Softmax, a dynamic batch dimension "N"):
  logreg.onnx  scikit-learn LogisticRegression:  Gemm(64 -> 10) -> Softmax
  mlp.onnx     scikit-learn MLPClassifier (64-32-10, ReLU): MatMul + Add -> Relu -> Dropout
               (inference: identity) -> MatMul + Add -> Softmax
  cnn.onnx     Conv 8x3x3 (pads 1, bias) -> BatchNormalization -> Relu -> MaxPool 2x2
               -> Flatten -> Gemm(128 -> 10) -> Softmax.  The filters are trained by the numpy
               SGD loop of scenarios/data/train_digits.py (torch is not used: its PyPI wheel pulls
               gigabytes of CUDA libraries); the BatchNormalization statistics are the training
               set's per-channel mean and variance of the conv output, with a seeded gamma/beta;
               the final Gemm is a LogisticRegression trained on the network's features.

Reference outputs (reference/): the exporting framework's own outputs on the 100 held-out images:
  NAME_logits.npy [100, 10]  the logits (input of the final Softmax), as onnxruntime computes them
                             from the .onnx file (float32)
  NAME_pred.npy   [100]      the framework's predicted class (scikit-learn's predict() for logreg
                             and mlp; onnxruntime's argmax for the cnn), int64
The script checks that scikit-learn's and onnxruntime's predictions agree.

  ops.onnx     not a classifier: every other operator the importer translates, with seeded random
               weights, to check the translation against onnxruntime (reference/ops_out.npy, the
               output on the 100 held-out images): Conv (no bias) -> BatchNormalization (folded,
               no bias to shift) -> Sigmoid -> AveragePool -> Tanh -> Mul by a Constant -> Sub
               -> BatchNormalization (not after a linear layer) -> GlobalAveragePool -> Identity
               -> Reshape -> Transpose -> Transpose -> Flatten -> Gemm (alpha, beta, transB=0).
"""

import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "data"))
import train_digits  # noqa: E402  (the numpy CNN training loop, same seed)

SEED = 2024
N_TEST = 100
REF = os.path.join(HERE, "reference")
OPSET = 13


def f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def init(name, array):
    return numpy_helper.from_array(f32(array), name)


def model(nodes, inits, in_shape, name):
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *in_shape])
    y = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10])
    graph = helper.make_graph(nodes, name, [x], [y], initializer=inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                          producer_name="sharescope export.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def logits_of(m, x):
    """onnxruntime's logits (the Softmax's input) and probabilities for x."""
    m2 = onnx.ModelProto()
    m2.CopyFrom(m)
    softmax = [n for n in m2.graph.node if n.op_type == "Softmax"][0]
    m2.graph.output.append(helper.make_tensor_value_info(softmax.input[0], TensorProto.FLOAT, None))
    sess = ort.InferenceSession(m2.SerializeToString(), providers=["CPUExecutionProvider"])
    prob, logits = sess.run(None, {"input": f32(x)})
    return logits, prob


def export(name, m, x_test, framework_pred, y_test):
    path = os.path.join(HERE, name + ".onnx")
    onnx.save(m, path)
    logits, _ = logits_of(m, x_test)
    ort_pred = logits.argmax(axis=1)
    agree = float((ort_pred == framework_pred).mean())
    acc = float((framework_pred == y_test).mean())
    print(f"{name}: {os.path.getsize(path)} bytes, framework accuracy {acc:.2f}, "
          f"onnxruntime agrees with the framework on {agree:.2f}")
    assert agree == 1.0, name
    np.save(os.path.join(REF, name + "_logits.npy"), f32(logits))
    np.save(os.path.join(REF, name + "_pred.npy"), framework_pred.astype(np.int64))


def main():
    os.makedirs(REF, exist_ok=True)
    digits = load_digits()
    x = digits.data.astype(np.float64) / 16.0
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, random_state=SEED, stratify=y
    )
    x_test, y_test = x_test[:N_TEST], y_test[:N_TEST]
    same = np.load(os.path.join(HERE, "..", "data", "digits", "test_images.npy"))
    assert np.array_equal(same, x_test), "the split differs from scenarios/data/digits"

    # (a) Logistic regression: Gemm(transB=1) as torch.nn.Linear exports it.
    lr = LogisticRegression(C=10.0, max_iter=5000).fit(x_train, y_train)
    nodes = [
        helper.make_node("Gemm", ["input", "W", "B"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["probabilities"], name="softmax", axis=1),
    ]
    m = model(nodes, [init("W", lr.coef_), init("B", lr.intercept_)], [64], "logreg")
    export("logreg", m, x_test, lr.predict(x_test), y_test)

    # (b) MLP 64-32-10: MatMul + Add as Keras/TF exporters write a Dense layer.
    mlp = MLPClassifier(hidden_layer_sizes=(32,), activation="relu", alpha=1e-3,
                        max_iter=600, random_state=SEED).fit(x_train, y_train)
    (w1, w2), (b1, b2) = mlp.coefs_, mlp.intercepts_
    nodes = [
        helper.make_node("MatMul", ["input", "w1"], ["z1"], name="dense1/MatMul"),
        helper.make_node("Add", ["z1", "b1"], ["h1"], name="dense1/Add"),
        helper.make_node("Relu", ["h1"], ["a1"], name="relu1"),
        helper.make_node("Dropout", ["a1"], ["d1"], name="dropout1"),
        helper.make_node("MatMul", ["d1", "w2"], ["z2"], name="dense2/MatMul"),
        helper.make_node("Add", ["z2", "b2"], ["logits"], name="dense2/Add"),
        helper.make_node("Softmax", ["logits"], ["probabilities"], name="softmax", axis=1),
    ]
    inits = [init("w1", w1), init("b1", b1), init("w2", w2), init("b2", b2)]
    m = model(nodes, inits, [64], "mlp")
    export("mlp", m, x_test, mlp.predict(x_test), y_test)

    # (c) CNN with BatchNormalization.
    p = train_digits.cnn_train(x_train.reshape(-1, 1, 8, 8), y_train)
    filters, fbias = p["f"], p["fb"].reshape(8)
    conv_only = [
        helper.make_node("Conv", ["input", "conv.weight", "conv.bias"], ["conv"], name="/conv/Conv",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
    ]
    feats = conv_only + [
        helper.make_node("BatchNormalization", ["conv", "bn.weight", "bn.bias", "bn.running_mean",
                                                "bn.running_var"], ["bn"], name="/bn/BatchNormalization",
                         epsilon=1e-5),
        helper.make_node("Relu", ["bn"], ["act"], name="/relu/Relu"),
        helper.make_node("MaxPool", ["act"], ["pool"], name="/pool/MaxPool", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("Flatten", ["pool"], ["flat"], name="/Flatten", axis=1),
    ]

    def run_nodes(nodes, out, inits, xs):
        g = helper.make_graph(nodes, "part", [helper.make_tensor_value_info(
            "input", TensorProto.FLOAT, ["N", 1, 8, 8])],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], initializer=inits)
        mm = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
        mm.ir_version = 8
        s = ort.InferenceSession(mm.SerializeToString(), providers=["CPUExecutionProvider"])
        return s.run(None, {"input": f32(xs.reshape(-1, 1, 8, 8))})[0]

    conv_inits = [init("conv.weight", filters), init("conv.bias", fbias)]
    conv_train = run_nodes(conv_only, "conv", conv_inits, x_train)
    rng = np.random.default_rng(SEED)
    mean = conv_train.mean(axis=(0, 2, 3))
    var = conv_train.var(axis=(0, 2, 3))
    gamma = rng.uniform(0.5, 1.5, 8)
    beta = rng.uniform(-0.2, 0.2, 8)
    bn_inits = [init("bn.weight", gamma), init("bn.bias", beta), init("bn.running_mean", mean),
                init("bn.running_var", var)]
    feat_train = run_nodes(feats, "flat", conv_inits + bn_inits, x_train)
    head = LogisticRegression(C=1.0, max_iter=5000).fit(feat_train, y_train)
    nodes = feats + [
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], name="/fc/Gemm",
                         transB=1),
        helper.make_node("Softmax", ["logits"], ["probabilities"], name="/Softmax", axis=1),
    ]
    inits = conv_inits + bn_inits + [init("fc.weight", head.coef_), init("fc.bias", head.intercept_)]
    m = model(nodes, inits, [1, 8, 8], "cnn")
    logits, _ = logits_of(m, x_test.reshape(-1, 1, 8, 8))
    export("cnn", m, x_test.reshape(-1, 1, 8, 8), logits.argmax(axis=1), y_test)

    export_ops(x_test)


def export_ops(x_test):
    rng = np.random.default_rng(SEED + 1)
    c = 4
    # Small values: Pond's degree-9 sigmoid polynomial overflows int_bits 11 beyond |x| ≈ 2.3.
    bn = lambda p: [init(p + ".g", rng.uniform(0.3, 0.6, c)), init(p + ".b", rng.uniform(-0.5, 0.5, c)),
                    init(p + ".m", rng.uniform(-0.2, 0.2, c)), init(p + ".v", rng.uniform(0.5, 2.0, c))]
    inits = [init("conv.w", rng.normal(0, 0.2, (c, 1, 3, 3)))] + bn("bn1") + bn("bn2") + [
        init("sub.b", rng.uniform(-0.3, 0.3, (c, 1, 1))),
        numpy_helper.from_array(np.array([-1, c], dtype=np.int64), "shape"),
        init("fc.w", rng.normal(0, 1.0, (c, 3))), init("fc.b", rng.normal(0, 0.1, 3)),
    ]
    mk = helper.make_node
    nodes = [
        mk("Conv", ["input", "conv.w"], ["conv"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        mk("BatchNormalization", ["conv", "bn1.g", "bn1.b", "bn1.m", "bn1.v"], ["bn1"], name="bn1"),
        mk("Sigmoid", ["bn1"], ["sig"], name="sig"),
        mk("AveragePool", ["sig"], ["avg"], name="avg", kernel_shape=[2, 2], strides=[2, 2]),
        mk("Tanh", ["avg"], ["tanh"], name="tanh"),
        mk("Constant", [], ["half"], name="half", value_float=0.5),
        mk("Mul", ["tanh", "half"], ["mul"], name="mul"),
        mk("Sub", ["mul", "sub.b"], ["sub"], name="sub"),
        mk("BatchNormalization", ["sub", "bn2.g", "bn2.b", "bn2.m", "bn2.v"], ["bn2"], name="bn2"),
        mk("GlobalAveragePool", ["bn2"], ["gap"], name="gap"),
        mk("Identity", ["gap"], ["id"], name="id"),
        mk("Reshape", ["id", "shape"], ["flat"], name="reshape"),
        mk("Transpose", ["flat"], ["t1"], name="t1", perm=[1, 0]),
        mk("Transpose", ["t1"], ["t2"], name="t2"),
        mk("Flatten", ["t2"], ["f"], name="flatten"),
        mk("Gemm", ["f", "fc.w", "fc.b"], ["scores"], name="fc", alpha=0.5, beta=2.0),
    ]
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 8, 8])
    y = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 3])
    m = helper.make_model(helper.make_graph(nodes, "ops", [x], [y], initializer=inits),
                          opset_imports=[helper.make_opsetid("", OPSET)], producer_name="sharescope export.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(HERE, "ops.onnx"))
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"input": f32(x_test.reshape(-1, 1, 8, 8))})[0]
    np.save(os.path.join(REF, "ops_out.npy"), f32(out))
    print(f"ops: {os.path.getsize(os.path.join(HERE, 'ops.onnx'))} bytes, output range "
          f"[{out.min():.3f}, {out.max():.3f}]")


if __name__ == "__main__":
    main()
