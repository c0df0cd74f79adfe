"""Talks to ngspice and knows nothing about learning: engines, OSDI compile cache, raw reader."""
