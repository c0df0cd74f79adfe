"""What user input may be: the validation settings of every model that reads user input, and the bounds of
file sizes, counts and physical values, in one place so that error messages and docs/reliability.md quote the
same numbers.

The bounds are generous for real use (MNIST's 60 000 / 10 000 images, 784-input layers, sweeps of 10 000
points, pulses from 1 ps to 1 s) and keep every run finite: no value can make cosim allocate without bound,
overflow a float or loop for hours before it reports a mistake.
"""

from __future__ import annotations

from pydantic import ConfigDict

# Every model validating user input (`cosim.config.Strict`): unknown keys are refused, NaN and inf are refused, and
# types are strict (true is not an integer, 1.0e12 is not an integer, the text "many" is not a number; an integer
# is a number). Text that spells a SPICE-style number (`1u`, `47k`) is that number: Strict reads it, once.
USER_INPUT = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)

# --- files -------------------------------------------------------------------------------------------------
MAX_YAML_BYTES = 1 << 20  # a config, sweep spec, preset or parameter file
MAX_VERILOG_A_BYTES = 4 << 20  # the Verilog-A source of a device a user brings (verilog_a family)
MAX_RECORD_BYTES = 64 << 20  # files cosim writes itself and reads back (a sweep record holds every point's config)
MAX_IDX_BYTES = 256 << 20  # an MNIST-format image or label file, unpacked (MNIST's largest: 47 MB)
MAX_YAML_VALUES = 100_000  # values in one YAML document, an alias counting as often as it is used
MAX_RECORD_VALUES = 10_000_000  # values in a file cosim wrote (a 10 000-point sweep record: about 600 000)
MAX_YAML_DEPTH = 64  # nesting of mappings and lists
MAX_SHOWN_CHARS = 80  # of a refused value quoted in an error message

# --- counts ------------------------------------------------------------------------------------------------
MAX_SEED = 2**32 - 1
MAX_SWEEP_POINTS = 10_000
MAX_EPOCHS = 10_000
MAX_REPEATS = 10_000  # evaluation repeats and passes, programming and characterisation pulses
MAX_SAMPLES = 1_000_000  # images, test variants, batch sizes
MAX_LAYER_SIZE = 4096  # neurons or inputs of one layer
MAX_LAYERS = 16
MAX_DEVICES = 1_000_000  # devices of one crossbar network
MAX_POOL = 64  # max-pool factor of images

# --- physical values -----------------------------------------------------------------------------------------
MAX_VOLTAGE_V = 100.0
MIN_TIME_S = 1e-12  # pulse widths, edges, read plateaus, slots
MAX_TIME_S = 1.0
MAX_TIME_CONSTANT_S = 1e6  # device switching time constants
MIN_RESISTANCE_OHM = 1e-6  # resistances that must be > 0
MAX_RESISTANCE_OHM = 1e12
MAX_CURRENT_A = 1.0
MIN_CAPACITANCE_F = 1e-18
MAX_CAPACITANCE_F = 1e-3
MAX_EVENT_ENERGY_J = 1.0  # peripheral energy of one controller step, switch event or conversion
MIN_TEMPERATURE_K = 1.0
MAX_TEMPERATURE_K = 1000.0
MAX_EXPONENT_PER_V = 100.0  # slopes of exponential device branches (an ideal junction: q/kT ≈ 39 /V)
MAX_REL_STD = 3.0  # relative standard deviation of device-to-device variation
MAX_CONTROL_STD = 10.0  # absolute spread of a domain-wall synapse's sigmoid midpoint, in units of its control
MAX_LEARNING_RATE = 100.0
MAX_GAIN = 1000.0  # dimensionless gains and ratios (output gain, weight scale, drive range)
