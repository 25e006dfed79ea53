"""The machine's hardware: models with signals, not logic. Time comes only from `hw.clock`."""
