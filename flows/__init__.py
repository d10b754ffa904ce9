"""Prefect flows: orchestration of the calibration mission (resolve, load, recipe, approve, save)."""
