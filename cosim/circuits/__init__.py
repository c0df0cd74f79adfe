"""Circuit generators: crossbars with wire resistance and select switches, neurons, networks of layers."""
