"""Netlist export: the circuit as simulated, for other simulators (`write`), from a config or a run folder
(`source`), with a README (`readme`); `references` regenerates the shipped reference exports."""

from cosim.export.write import STIMULI, ExportResult, circuit, export

__all__ = ["STIMULI", "ExportResult", "circuit", "export"]
