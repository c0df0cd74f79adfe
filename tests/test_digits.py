"""Image data: the built-in digits and the MNIST-format IDX reader (on small files the test writes)."""

import gzip
import struct

import numpy as np
import pytest

from cosim import digits
from cosim.errors import ConfigError


def write_idx(path, array, gz=False):
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">f4"): 0x0D}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


def test_reads_mnist_format_files(tmp_path):
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    y_train = np.array([0, 1, 2, 3, 9], dtype=np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte", x_train)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", y_train, gz=True)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", x_train[:2])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", y_train[:2])
    images = digits.load(tmp_path)
    assert images.x_train.shape == (5, 28, 28) and images.n_classes == 10
    np.testing.assert_allclose(images.x_train * 255, x_train)
    np.testing.assert_array_equal(images.y_test, [0, 1])
    pooled = digits.max_pool(images.x_train, 2)
    assert pooled.shape == (5, 14, 14)
    assert pooled[0, 0, 0] == x_train[0, :2, :2].max() / 255


def test_bad_idx_files_are_named(tmp_path):
    (tmp_path / "junk").write_bytes(b"not idx at all")
    with pytest.raises(ConfigError, match="not an IDX file"):
        digits.read_idx(tmp_path / "junk")
    write_idx(tmp_path / "short", np.zeros((3, 2, 2), dtype=np.uint8))
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-1])
    with pytest.raises(ConfigError, match="body has"):
        digits.read_idx(tmp_path / "short")
    with pytest.raises(ConfigError, match="missing MNIST file"):
        digits.load(tmp_path)


def test_builtin_digits_split_is_reproducible():
    a, b = digits.load_digits(seed=3), digits.load_digits(seed=3)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert a.x_train.shape[1:] == (8, 8) and 0.0 <= a.x_train.min() and a.x_train.max() <= 1.0
    assert len(a.y_train) + len(a.y_test) == 1797 and a.n_classes == 10
