"""Experiments: an experiment is a config, a training run, the circuit it exports and its report extras."""
