"""Versioned calibration store: SNAPRed-compatible folders and index, atomic, locked, reconcilable."""
