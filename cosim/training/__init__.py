"""Learning methods, one module each; every trainer is written against the HardwareSession protocol and asks a
device family, never a device module, for what it needs of the devices."""
