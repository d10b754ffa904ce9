"""Simulated SNAP runs with a known, seeded calibration truth."""
