"""Netlist IR (validated names, formatted numbers) and dialect writers (one module per dialect)."""
