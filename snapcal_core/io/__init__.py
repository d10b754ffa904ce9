"""File formats shared by several steps (Mantid diffcal HDF5)."""
