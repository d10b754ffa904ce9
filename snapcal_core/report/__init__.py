"""Quality reports: markdown tables and PNG plots of a calibration, and comparisons."""
