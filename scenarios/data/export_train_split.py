#!/usr/bin/env python3
"""Export the digits scenarios' training split and the whole held-out split as .npy files, for
the private-training scenarios (scenarios/train-digits-*.ron, docs/training.md).

    pip install numpy scikit-learn
    python3 scenarios/data/export_train_split.py     # writes scenarios/data/digits/train_*.npy

The split is scenarios/data/train_digits.py's: load_digits(), pixels / 16,
train_test_split(test_size=0.2, random_state=2024, stratify=y). The script checks that the first
100 held-out images are the committed test_images.npy. The files are committed: CI and the
Rust tests never need Python.

Files (float64 images, int64 labels):
  train_images.npy [1437, 64]   train_labels.npy [1437]
  heldout_images.npy [360, 64]  heldout_labels.npy [360]
"""

import os

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 2024
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "digits")


def main():
    digits = load_digits()
    x = digits.data / 16.0
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, random_state=SEED, stratify=y
    )
    committed = np.load(os.path.join(OUT, "test_images.npy"))
    assert np.array_equal(committed, x_test[:100]), "the split differs from test_images.npy"
    assert np.array_equal(np.load(os.path.join(OUT, "test_labels.npy")), y_test[:100])
    for name, a in [
        ("train_images", x_train),
        ("train_labels", y_train),
        ("heldout_images", x_test),
        ("heldout_labels", y_test),
    ]:
        np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(a))
    print("train", x_train.shape, "held out", x_test.shape)


if __name__ == "__main__":
    main()
