"""Rows and files the LETOR tests share."""

from __future__ import annotations

import numpy as np

from training.letor.data import LetorData


def random_rows(rng: np.random.Generator, n_lists: int = 40, n_features: int = 12):
    """Lists of random sizes; features sparse, a mix of whole numbers and arbitrary doubles
    (random bit patterns: subnormals, 17-digit mantissas, huge and tiny exponents)."""
    sizes = rng.integers(1, 15, n_lists)
    n = int(sizes.sum())
    bits = rng.integers(0, 2**63, size=(n, n_features), dtype=np.int64).view(np.float64)
    bits[~np.isfinite(bits)] = 0.5
    signs = np.where(rng.random((n, n_features)) < 0.5, -1.0, 1.0)
    whole = rng.integers(-1000, 1000, size=(n, n_features)).astype(np.float64)
    features = np.where(rng.random((n, n_features)) < 0.5, whole, bits * signs)
    features[rng.random((n, n_features)) < 0.4] = 0.0
    labels = rng.integers(0, 5, n)
    list_index = np.repeat(np.arange(n_lists), sizes)
    qids = rng.permutation(10 * n_lists)[:n_lists] + 1  # distinct, in no particular order
    return features, labels, list_index, qids


def write_text(path, text: str):
    path.write_text(text)
    return path


def assert_same_rows(data: LetorData, features, labels, list_index):
    assert data.features.dtype == np.float64
    assert data.labels.dtype == np.int64
    assert np.array_equal(data.features, features)
    assert np.array_equal(data.labels, labels)
    assert np.array_equal(data.list_index, list_index)
