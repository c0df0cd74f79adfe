"""cosim: SPICE-level co-simulation of neuromorphic hardware that learns."""

__version__ = "0.1.0"
