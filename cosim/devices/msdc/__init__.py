"""The Knowm M-SDC memristor: numpy model and twin, SPICE binding, characterisation and fitting."""
