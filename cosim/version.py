"""cosim's version, in a module of its own so that every layer can record it (run folders, `cosim --version`)
while the package's `__init__` stays the Python API on top of them all."""

__version__ = "0.1.0"
