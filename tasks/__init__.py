"""Prefect tasks: thin wrappers around snapcal_core functions; they pass paths and small models."""
