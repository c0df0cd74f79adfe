"""Netlist export: the circuit as simulated, for other simulators."""
