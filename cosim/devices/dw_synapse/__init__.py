"""The domain-wall binary stochastic synapse: model, SPICE read circuit and its twin."""
