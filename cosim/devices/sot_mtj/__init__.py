"""The SOT-MTJ stochastic neuron: numpy model and twin, SPICE neuron bank, characterisation."""
