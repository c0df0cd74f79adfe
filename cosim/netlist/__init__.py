"""Netlist IR (validated names, formatted numbers) and the dialect writers (`writers`, one module per dialect)."""
