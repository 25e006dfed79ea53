"""The control program that runs on the simulated hardware."""
