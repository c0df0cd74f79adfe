"""The loop's hardware side: HardwareSession backends, pulse schedules, the energy/time ledger and its summary."""
