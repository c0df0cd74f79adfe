"""Reader for SPICE raw files (binary and ASCII, real and complex, one or several plots)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cosim.errors import SimulationError


@dataclass
class Plot:
    title: str
    name: str
    flags: str
    variables: list[str]
    data: np.ndarray  # shape (points, variables), float64 or complex128

    def vectors(self) -> dict[str, np.ndarray]:
        """Columns keyed by SPICE vector name (`time`, `v(out)`, `i(v1)` for `v1#branch`)."""
        return {vector_name(n): self.data[:, k].copy() for k, n in enumerate(self.variables)}


def vector_name(raw_name: str) -> str:
    """Normalise raw-file names to the names the engines are asked for."""
    name = raw_name.strip().lower()
    if name.endswith("#branch"):
        return f"i({name[: -len('#branch')]})"
    if name.startswith(("v(", "i(")) or name in ("time", "frequency"):
        return name
    return f"v({name})"


def read(path: Path) -> list[Plot]:
    blob = Path(path).read_bytes()
    plots, pos = [], 0
    while pos < len(blob):
        try:
            plot, pos = _read_plot(blob, pos, path)
        except (IndexError, KeyError, ValueError, StopIteration) as exc:  # e.g. the header of a failed analysis
            raise SimulationError(f"raw file {path}: malformed plot ({type(exc).__name__}: {exc})") from None
        plots.append(plot)
        while pos < len(blob) and blob[pos : pos + 1] in (b"\n", b"\r", b" "):
            pos += 1
    if not plots:
        raise SimulationError(f"raw file {path} holds no plot")
    return plots


def _read_plot(blob: bytes, pos: int, path: Path) -> tuple[Plot, int]:
    header: dict[str, str] = {}
    variables: list[str] = []
    while True:
        end = blob.find(b"\n", pos)
        if end < 0:
            raise SimulationError(f"raw file {path}: truncated header")
        line = blob[pos:end].decode("ascii", "replace").rstrip("\r")
        pos = end + 1
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "variables":
            count = int(header["no. variables"])
            for _ in range(count):
                end = blob.find(b"\n", pos)
                fields = blob[pos:end].decode("ascii", "replace").split()
                variables.append(fields[1])
                pos = end + 1
        elif key in ("binary", "values"):
            kind = key
            break
        else:
            header[key] = value.strip()
    points, nvars = int(header["no. points"]), int(header["no. variables"])
    is_complex = "complex" in header.get("flags", "").lower()
    if kind == "binary":
        width = 16 if is_complex else 8
        size = points * nvars * width
        if pos + size > len(blob):
            raise SimulationError(f"raw file {path}: {points} points announced, file truncated")
        raw = np.frombuffer(blob, dtype="<f8", count=points * nvars * (2 if is_complex else 1), offset=pos)
        data = raw.view("<c16") if is_complex else raw
        data = data.reshape(points, nvars).astype(np.complex128 if is_complex else np.float64)
        pos += size
    else:
        data, pos = _read_ascii(blob, pos, points, nvars, is_complex)
    plot = Plot(header.get("title", ""), header.get("plotname", ""), header.get("flags", ""), variables, data)
    return plot, pos


def _read_ascii(blob: bytes, pos: int, points: int, nvars: int, is_complex: bool) -> tuple[np.ndarray, int]:
    data = np.zeros((points, nvars), dtype=np.complex128 if is_complex else np.float64)
    tokens = re.finditer(rb"\S+", blob[pos:])
    last = pos
    for p in range(points):
        for k in range(nvars):
            token = next(tokens)
            text = token.group().decode()
            if k == 0:  # the point index precedes the first value
                token = next(tokens)
                text = token.group().decode()
            last = pos + token.end()
            if is_complex:
                re_, im = text.split(",")
                data[p, k] = complex(float(re_), float(im))
            else:
                data[p, k] = float(text)
    return data, last
