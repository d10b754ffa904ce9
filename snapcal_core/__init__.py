"""snapcal_core: the science and data layer of snapcal (never imports Prefect)."""

__version__ = "0.1.0"
