"""Device models in numpy: parameter sets, presets, fast twins of the SPICE models and fitting to measurements."""
