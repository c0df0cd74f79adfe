"""MNIST-format IDX files: the format's reader and the names of MNIST's four files.

An IDX file is a 4-byte magic (00 00, an element type, the number of dimensions), one big-endian 32-bit size
per dimension, then the elements; the files may be gzipped. Read within cosim's size limit for data files.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from cosim import input_files
from cosim.errors import ConfigError
from cosim.limits import MAX_IDX_BYTES

IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
             0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
MNIST_FILES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
               "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}


def read_idx(path: Path) -> np.ndarray:
    """One IDX file (plain or .gz) as an array of its declared type and shape."""
    path = Path(path)
    raw = input_files.read_bytes(path, MAX_IDX_BYTES, "data file")
    if raw[:2] == b"\x1f\x8b":
        try:
            unzip = zlib.decompressobj(wbits=31)  # gzip
            raw = unzip.decompress(raw, MAX_IDX_BYTES + 1)
        except zlib.error as exc:
            raise ConfigError(f"{path}: broken gzip file: {exc}") from None
        if len(raw) > MAX_IDX_BYTES:
            raise ConfigError(f"{path}: unpacks to more than {MAX_IDX_BYTES} bytes, the limit for a data file")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES or raw[3] == 0:
        raise ConfigError(f"{path}: not an IDX file (expected magic 00 00 <type> <ndim>)")
    dtype, ndim = np.dtype(IDX_TYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ConfigError(f"{path}: IDX header truncated")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    count = int(np.prod(shape))
    if len(raw) - header != count * dtype.itemsize:
        raise ConfigError(f"{path}: IDX body has {len(raw) - header} bytes, header says {count * dtype.itemsize}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
