"""Open an event file's ``/entry`` with typed errors, and read its small fields and attributes.

Shared by :mod:`~snapcal_core.data.state` (the DAS logs), :mod:`~snapcal_core.data.read` (the
events) and :mod:`~snapcal_core.data.pulses`, so none of them imports another.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np

from snapcal_core.errors import CorruptFileError, RunNotFoundError, SnapcalError


@contextmanager
def open_event_file(path: Path | str) -> Iterator[h5py.Group]:
    """``/entry`` of an event file; typed errors for a missing, unreadable or non-NeXus file.

    Any ``OSError``, ``KeyError``, ``RuntimeError``, ``ValueError`` or ``TypeError`` raised inside
    the block (HDF5 failures while reading) becomes a :class:`CorruptFileError` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise RunNotFoundError(f"event file {path} does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise CorruptFileError(f"cannot open event file {path} as HDF5 (truncated or not HDF5): {exc}") from exc
    try:
        if not isinstance(f.get("entry"), h5py.Group):
            raise CorruptFileError(f"{path} has no /entry group: not a NeXus event file")
        yield f["entry"]
    except SnapcalError:
        raise
    except (OSError, KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise CorruptFileError(f"cannot read event file {path}: {exc}") from exc
    finally:
        try:
            f.close()
        except Exception:  # noqa: BLE001 - a broken file may fail to close; the error above is the one to report
            pass


#: Time units -> factor to microseconds (absent units mean microseconds for TOF, seconds for pulses).
_TIME_UNIT_TO_US = {"microsecond": 1.0, "microseconds": 1.0, "us": 1.0, "nanosecond": 1e-3, "nanoseconds": 1e-3,
                    "ns": 1e-3, "millisecond": 1e3, "milliseconds": 1e3, "ms": 1e3, "second": 1e6, "seconds": 1e6,
                    "s": 1e6}


def attr_text(obj: h5py.HLObject, name: str) -> str | None:
    """A string attribute as str, whether stored as bytes, str or a one-element array; None if absent."""
    value = obj.attrs.get(name)
    if isinstance(value, np.ndarray):
        value = value.ravel()[0] if value.size else ""
    if value is None:
        return None
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def dataset(group: h5py.Group, name: str) -> h5py.Dataset | None:
    """``group[name]`` if it is a dataset, else None (absent, a group or a dangling link)."""
    obj = group.get(name)
    return obj if isinstance(obj, h5py.Dataset) else None


def unit_factor(ds: h5py.Dataset, *, default: str, to_us: float, path: Path) -> float:
    """Factor from ``ds``'s ``units`` attribute (``default`` when absent) to microseconds / ``to_us``."""
    unit = (attr_text(ds, "units") or default).strip().lower()
    if unit not in _TIME_UNIT_TO_US:
        raise CorruptFileError(f"{path}: {ds.name} has units {unit!r}; expected a time unit")
    return _TIME_UNIT_TO_US[unit] / to_us
