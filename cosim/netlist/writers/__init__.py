"""Netlist dialect writers: the IR as ngspice, VACASK, Spectre, Xyce and LTspice text."""
