"""Talks to ngspice and knows nothing about learning: engines (made by `engines.open_engine`), OSDI compile cache,
raw reader."""
