"""Learning methods, one module each; every trainer is written against the HardwareSession protocol."""
