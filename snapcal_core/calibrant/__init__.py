"""Calibrant samples: crystal structures, reflections (NCrystal) and predicted peaks."""
