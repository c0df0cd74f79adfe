"""The loop's hardware side: HardwareSession backends, pulse schedules and the energy/time ledger."""
