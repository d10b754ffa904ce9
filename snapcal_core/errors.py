"""Typed errors. Every message names the thing at fault (run, file, PV, field, group)."""

from __future__ import annotations


class SnapcalError(Exception):
    """Base of every error snapcal raises on purpose."""


# --- input and configuration --------------------------------------------------------------
class InvalidRunNumberError(SnapcalError, ValueError):
    """A run number that is not a positive integer."""


class ConfigurationError(SnapcalError):
    """A setting or configuration file is unusable."""


# --- data component -------------------------------------------------------------------------
class RunNotFoundError(SnapcalError, FileNotFoundError):
    """No raw (or Lite) file exists for the run anywhere in the facility tree."""


class IptsNotFoundError(RunNotFoundError):
    """The run number belongs to no IPTS folder of the facility tree."""


class CorruptFileError(SnapcalError):
    """An HDF5/NeXus file cannot be opened or is truncated."""


class MissingBankError(SnapcalError):
    """An expected ``bank<N>_events`` group is absent or malformed."""


class MissingLogError(SnapcalError):
    """A DAS log (PV) needed for the instrument state is absent."""


class NoEventsInBandError(SnapcalError):
    """No event of the run falls inside the TOF band of its state."""


# --- instrument -------------------------------------------------------------------------------
class GroupingError(SnapcalError):
    """A grouping name or file is unknown or does not fit the instrument."""


# --- recipe -----------------------------------------------------------------------------------
class CalibrantError(SnapcalError):
    """A calibrant sample is unknown or malformed."""


class PeakListError(SnapcalError):
    """A group has too few predicted peaks to be calibrated."""


class CalibrationError(SnapcalError):
    """The calibration recipe cannot produce a trustworthy result (e.g. too many masked)."""


# --- storage ----------------------------------------------------------------------------------
class StorageError(SnapcalError):
    """The calibration store is unusable, corrupt or was asked for something invalid."""
