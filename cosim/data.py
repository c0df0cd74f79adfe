"""Datasets: the 3×3 binary pattern task of the M-SDC demonstrator.

The published 30-memristor network classifies 3×3-pixel images into two classes; its patterns are not
published. cosim uses two classes that differ in structure rather than pixel count, so that no single
pixel decides:

    class 0 "X" (diagonals)     class 1 "+" (cross)
        1 0 1                       0 1 0
        0 1 0                       1 1 1
        1 0 1                       0 1 0

Both have five lit pixels and share the centre. The training set is the two prototypes and their
one-pixel-flipped variants (20 images); the test set draws noisy variants: a prototype with up to
`test_flips` random pixels flipped. Analogue input noise is added at evaluation (`add_input_noise`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cosim.errors import ConfigError

PATTERN_X = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=float)
PATTERN_PLUS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=float)
CLASS_NAMES = ("X", "+")


@dataclass(frozen=True)
class Dataset:
    """Inputs in [0, 1] of shape (n, features) and integer labels of shape (n,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]


def pattern_variants(prototype: np.ndarray) -> np.ndarray:
    """The prototype and its 9 one-pixel-flipped variants, flattened: shape (10, 9)."""
    flat = prototype.reshape(-1)
    variants = [flat.copy()]
    for k in range(flat.size):
        v = flat.copy()
        v[k] = 1.0 - v[k]
        variants.append(v)
    return np.array(variants)


def patterns_3x3(n_test: int = 200, test_flips: int = 1, seed: int = 0) -> Dataset:
    """The two-class 3×3 task (see the module docstring); reproducible from `seed`."""
    if n_test < 1:
        raise ConfigError(f"data.n_test must be >= 1, got {n_test}")
    if not 0 <= test_flips <= 4:
        raise ConfigError(f"data.test_flips must be in 0..4 (the classes differ in 8 pixels), got {test_flips}")
    prototypes = (PATTERN_X, PATTERN_PLUS)
    x_train = np.concatenate([pattern_variants(p) for p in prototypes])
    y_train = np.repeat(np.arange(2), 10)
    rng = np.random.default_rng(seed)
    y_test = rng.integers(0, 2, size=n_test)
    x_test = np.array([prototypes[y].reshape(-1) for y in y_test])
    for row in x_test:
        flips = rng.choice(9, size=rng.integers(0, test_flips + 1), replace=False)
        row[flips] = 1.0 - row[flips]
    return Dataset(x_train, y_train, x_test, y_test, CLASS_NAMES)


def add_input_noise(x: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise of std `level` (relative to the full-scale input 1), clipped to [0, 1]."""
    if level < 0 or not np.isfinite(level):
        raise ConfigError(f"input noise level must be finite and >= 0, got {level}")
    return np.clip(x + rng.normal(0.0, level, size=x.shape), 0.0, 1.0)
