"""Device families, one folder each (parameters, presets, variation, SPICE model, numpy twin, characterisation),
behind one protocol (`base`) and one registry (`registry`)."""
