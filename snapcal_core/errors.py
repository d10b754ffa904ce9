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


class DuplicateRunError(SnapcalError):
    """The run number's files are under more than one IPTS folder: which one holds the run is unknown."""


class CorruptFileError(SnapcalError):
    """An HDF5/NeXus file cannot be opened or is truncated."""


class NoEventDataError(CorruptFileError):
    """An event file holds no ``NXevent_data`` group of detector events under ``/entry``."""


class MissingBankError(SnapcalError):
    """A bank (``NXevent_data`` group) is malformed: its event fields disagree in shape or one is missing."""


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


# --- focused files (assess) --------------------------------------------------------------------
class UnsupportedUnitError(SnapcalError):
    """A focused file's x axis is in a unit snapcal does not read (only dSpacing and TOF)."""


class MissingGeometryError(SnapcalError):
    """A focused file locates none of its detectors and no group geometry was given instead."""


class GroupMappingError(GroupingError):
    """A focused file's spectra cannot be matched to the groups of the grouping given for them."""


class InvalidOptionsError(SnapcalError, ValueError):
    """Command-line options that are incomplete or contradict each other (the message names them)."""


# --- pixel masks -------------------------------------------------------------------------------
class MaskFileError(CorruptFileError):
    """A pixel-mask file cannot be read: missing, in no mask format snapcal knows, malformed or truncated."""


class MaskSizeError(MaskFileError):
    """A mask does not fit the mode's pixels: a wrong pixel count, or ids outside them (native ids in a Lite mask)."""


class MaskInstrumentError(MaskFileError):
    """A mask file names another instrument, or SNAP in the other pixel mode (SNAPLite for a native mask)."""


class MaskCoversGroupError(GroupingError):
    """A user mask masks every pixel of a group: the group cannot be calibrated (the message names it)."""
