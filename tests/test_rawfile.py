"""Our raw-file reader on hand-made files (binary, ASCII, complex, several plots) and on ngspice's own."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.errors import SimulationError
from cosim.spice import rawfile


def header(points: int, flags: str = "real", kind: str = "Binary") -> bytes:
    return (
        "Title: t\nDate: today\nPlotname: Transient Analysis\n"
        f"Flags: {flags}\nNo. Variables: 3\nNo. Points: {points}\n"
        "Variables:\n\t0\ttime\ttime\n\t1\tout\tvoltage\n\t2\tv1#branch\tcurrent\n"
        f"{kind}:\n"
    ).encode()


def test_binary_real_and_names_are_normalised(tmp_path):
    data = np.arange(12, dtype="<f8").reshape(4, 3)
    path = tmp_path / "a.raw"
    path.write_bytes(header(4) + data.tobytes())
    (plot,) = rawfile.read(path)
    vectors = plot.vectors()
    assert list(vectors) == ["time", "v(out)", "i(v1)"]
    np.testing.assert_array_equal(vectors["i(v1)"], data[:, 2])


def test_two_plots_in_one_file(tmp_path):
    a, b = np.ones((2, 3)), np.zeros((3, 3))
    path = tmp_path / "two.raw"
    path.write_bytes(header(2) + a.tobytes() + header(3) + b.tobytes())
    plots = rawfile.read(path)
    assert [p.data.shape for p in plots] == [(2, 3), (3, 3)]


def test_complex_binary(tmp_path):
    data = (np.arange(6) + 1j * np.arange(6)).astype("<c16").reshape(2, 3)
    path = tmp_path / "c.raw"
    path.write_bytes(header(2, "complex") + data.tobytes())
    (plot,) = rawfile.read(path)
    np.testing.assert_array_equal(plot.data, data)


def test_ascii(tmp_path):
    body = "0\t0.0\n\t1.5\n\t-2e-3\n1\t1e-6\n\t1.25\n\t-1e-3\n"
    path = tmp_path / "a.raw"
    path.write_bytes(header(2, kind="Values") + body.encode())
    (plot,) = rawfile.read(path)
    np.testing.assert_allclose(plot.data, [[0.0, 1.5, -2e-3], [1e-6, 1.25, -1e-3]])


def test_truncated_file_is_an_error(tmp_path):
    path = tmp_path / "t.raw"
    path.write_bytes(header(10) + np.zeros(5).tobytes())
    with pytest.raises(SimulationError, match="truncated"):
        rawfile.read(path)


@pytest.mark.spice
def test_reads_what_ngspice_writes(tmp_path, batch_engine):
    circuit = tmp_path / "rc.cir"
    circuit.write_text("rc\nV1 in 0 DC 1\nR1 in out 1000.0\nC1 out 0 1e-06 ic=0.0\n.tran 1e-05 0.005 0.0 1e-05 uic\n.end\n")
    plots, transcript = batch_engine.run_file(circuit)
    assert not transcript.errors()
    v = plots[-1].vectors()
    assert np.max(np.abs(v["v(out)"] - (1 - np.exp(-v["time"] / 1e-3)))) < 1e-3
