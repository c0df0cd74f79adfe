"""Parameter sweeps: spec, points, executors, results, plots."""
