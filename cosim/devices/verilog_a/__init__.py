"""A device a user brings as a Verilog-A model and a small preset file."""
