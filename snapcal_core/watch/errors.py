"""Typed errors of the acquisition watcher; every message names the file (and field) at fault."""

from __future__ import annotations

from snapcal_core.errors import ConfigurationError, SnapcalError


class WatchError(SnapcalError):
    """Base of the errors the acquisition watcher raises on purpose."""


class RuleFileError(WatchError, ConfigurationError):
    """A calibrant rule file is missing, unparsable or has an invalid field."""


class WatchStateError(WatchError):
    """The watcher's state file cannot be read or written."""


class UnreadyFileError(WatchError):
    """A raw file is not (yet) a readable NeXus file with its run number and title."""
