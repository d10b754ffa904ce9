"""SNAP instrument model: geometry, Lite mapping, groupings and per-group parameters."""
