"""The packages to install: every package under cosim/ as found (a new device family's folder needs no line
here), and the top-level data folders that pyproject.toml maps into the package (package-dir)."""

from setuptools import find_packages, setup

DATA_PACKAGES = ["cosim.device_models", "cosim.netlists", "cosim.sweeps",
                 # reference exports, one folder per system (data only; listed so setuptools ships them)
                 "cosim.netlists.eslami2024", "cosim.netlists.ellis2023", "cosim.netlists.islam2024"]

setup(packages=find_packages(include=["cosim", "cosim.*"]) + DATA_PACKAGES)
