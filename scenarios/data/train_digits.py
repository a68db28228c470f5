#!/usr/bin/env python3
"""Train three small models on scikit-learn's 8x8 digits, in plaintext, and export them as .npy.

    pip install numpy scikit-learn
    python3 scenarios/data/train_digits.py          # writes scenarios/data/digits/*.npy

The exported files are committed: CI and the scenarios never need Python. Everything is seeded,
so a re-run writes the same models (up to the BLAS's floating-point summation order).

Data: sklearn.datasets.load_digits() (1,797 images of 8x8 pixels valued 0..16, bundled in the
scikit-learn wheel), pixels scaled to [0, 1] by dividing by 16, split 80/20 with a fixed seed.
The scenarios run on the first 100 images of the held-out split.

Models (shapes as the scenarios use them; x is [N, 64] row-major, or [N, 1, 8, 8] for the CNN):
  logreg  multinomial logistic regression: logits = x @ logreg_w + logreg_b      (64 -> 10)
  mlp     tf-encrypted's Network A scaled to 8x8, 64-128-128-10 with ReLU:
          h1 = relu(x @ mlp_w1 + mlp_b1); h2 = relu(h1 @ mlp_w2 + mlp_b2); logits = h2 @ mlp_w3 + mlp_b3
  cnn     Network B/D style scaled to 8x8:
          conv = conv2d(x, cnn_filters [8,1,3,3]) + cnn_fbias [8,1,1]   -> [N, 8, 6, 6]
          pool = maxpool 2x2 stride 2                                     -> [N, 8, 3, 3]
          act  = relu(pool); logits = flatten(act) @ cnn_w [72, 10] + cnn_b [10]

Files in scenarios/data/digits/ (float64 unless noted):
  test_images.npy [100, 64]  test_labels.npy [100] (int64)
  logreg_w [64, 10], logreg_b [10]
  mlp_w1 [64, 128], mlp_b1 [128], mlp_w2 [128, 128], mlp_b2 [128], mlp_w3 [128, 10], mlp_b3 [10]
  cnn_filters [8, 1, 3, 3], cnn_fbias [8, 1, 1], cnn_w [72, 10], cnn_b [10]
  plaintext.txt: the plaintext accuracies this script measured (for people; tests recompute them).
"""

import os

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

SEED = 2024
N_TEST = 100
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "digits")


def save(name, array):
    np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(array))


# ---------------------------------------------------------------------------------------------
# The CNN, trained with a tiny numpy loop (scikit-learn has no CNN).


def im2col(x):
    """[N, 1, 8, 8] -> [N, 36, 9]: every 3x3 window (stride 1, no padding), row-major."""
    n = x.shape[0]
    cols = np.empty((n, 36, 9))
    k = 0
    for i in range(6):
        for j in range(6):
            cols[:, k, :] = x[:, 0, i : i + 3, j : j + 3].reshape(n, 9)
            k += 1
    return cols


def cnn_forward(x, p):
    n = x.shape[0]
    cols = im2col(x)  # [N, 36, 9]
    conv = cols @ p["f"].reshape(8, 9).T  # [N, 36, 8]
    conv = conv.transpose(0, 2, 1).reshape(n, 8, 6, 6) + p["fb"]  # [N, 8, 6, 6]
    windows = conv.reshape(n, 8, 3, 2, 3, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, 8, 3, 3, 4)
    arg = windows.argmax(axis=-1)
    pool = windows.max(axis=-1)  # [N, 8, 3, 3]
    act = np.maximum(pool, 0.0)
    flat = act.reshape(n, 72)
    logits = flat @ p["w"] + p["b"]
    return logits, (cols, arg, pool, flat)


def cnn_train(x, y, epochs=40, batch=32, lr=0.05, momentum=0.9, seed=SEED):
    rng = np.random.default_rng(seed)
    p = {
        "f": rng.normal(0.0, np.sqrt(2.0 / 9.0), (8, 1, 3, 3)),
        "fb": np.zeros((8, 1, 1)),
        "w": rng.normal(0.0, np.sqrt(1.0 / 72.0), (72, 10)),
        "b": np.zeros(10),
    }
    v = {k: np.zeros_like(a) for k, a in p.items()}
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for s in range(0, len(x), batch):
            idx = order[s : s + batch]
            xb, yb = x[idx], y[idx]
            n = len(idx)
            logits, (cols, arg, pool, flat) = cnn_forward(xb, p)
            prob = np.exp(logits - logits.max(axis=1, keepdims=True))
            prob /= prob.sum(axis=1, keepdims=True)
            g = prob
            g[np.arange(n), yb] -= 1.0
            g /= n  # d loss / d logits
            grads = {"w": flat.T @ g + 1e-4 * p["w"], "b": g.sum(axis=0)}
            d_act = (g @ p["w"].T).reshape(n, 8, 3, 3)
            d_pool = d_act * (pool > 0)
            d_win = np.zeros((n, 8, 3, 3, 4))
            np.put_along_axis(d_win, arg[..., None], d_pool[..., None], axis=-1)
            d_conv = d_win.reshape(n, 8, 3, 3, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, 8, 6, 6)
            grads["fb"] = d_conv.sum(axis=(0, 2, 3)).reshape(8, 1, 1)
            d_conv_cols = d_conv.reshape(n, 8, 36).transpose(0, 2, 1)  # [N, 36, 8]
            grads["f"] = np.einsum("nko,nkc->oc", d_conv_cols, cols).reshape(8, 1, 3, 3)
            for k in p:
                v[k] = momentum * v[k] - lr * grads[k]
                p[k] += v[k]
    return p


def main():
    os.makedirs(OUT, exist_ok=True)
    digits = load_digits()
    x = digits.data.astype(np.float64) / 16.0
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, random_state=SEED, stratify=y
    )
    x_test, y_test = x_test[:N_TEST], y_test[:N_TEST]
    save("test_images", x_test)
    save("test_labels", y_test)
    lines = []

    def report(name, pred):
        acc = float((pred == y_test).mean())
        line = f"{name}: plaintext accuracy on the {N_TEST} test images = {acc:.2f}"
        print(line)
        lines.append(line)

    # (a) Multinomial logistic regression.
    lr = LogisticRegression(C=10.0, max_iter=5000)
    lr.fit(x_train, y_train)
    save("logreg_w", lr.coef_.T)
    save("logreg_b", lr.intercept_)
    report("logreg", (x_test @ lr.coef_.T + lr.intercept_).argmax(axis=1))

    # (b) Network A at 8x8: 64-128-128-10, ReLU.
    mlp = MLPClassifier(
        hidden_layer_sizes=(128, 128),
        activation="relu",
        alpha=1e-3,
        max_iter=400,
        random_state=SEED,
    )
    mlp.fit(x_train, y_train)
    for i, (w, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_), start=1):
        save(f"mlp_w{i}", w)
        save(f"mlp_b{i}", b)
    h = x_test
    for w, b in zip(mlp.coefs_[:-1], mlp.intercepts_[:-1]):
        h = np.maximum(h @ w + b, 0.0)
    report("mlp", (h @ mlp.coefs_[-1] + mlp.intercepts_[-1]).argmax(axis=1))

    # (c) Conv8 3x3 -> MaxPool 2 -> ReLU -> FC10.
    p = cnn_train(x_train.reshape(-1, 1, 8, 8), y_train)
    save("cnn_filters", p["f"])
    save("cnn_fbias", p["fb"])
    save("cnn_w", p["w"])
    save("cnn_b", p["b"])
    logits, _ = cnn_forward(x_test.reshape(-1, 1, 8, 8), p)
    report("cnn", logits.argmax(axis=1))

    with open(os.path.join(OUT, "plaintext.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
