"""Mantid diffcal HDF5 (SaveDiffCal / LoadDiffCal layout), used for tables and groupings.

Layout: group ``/calibration`` (NX_class=NXentry) with ``detid`` int32 (sorted), ``difc``,
``difa``, ``tzero`` float64, ``group`` int32, ``use`` int32 (1 = use, 0 = masked), optional
``dasid``; ``/calibration/instrument`` (NX_class=NXinstrument) with ``name`` and
``instrument_source`` as fixed-length byte strings of shape (1,).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from snapcal_core.errors import CorruptFileError

_REQUIRED = ("detid", "difc", "difa", "tzero", "group", "use")


@dataclass(frozen=True)
class DiffCalTable:
    """A calibration (or grouping) table: one row per detector id, sorted by ``detid``."""

    detid: np.ndarray  # int32
    difc: np.ndarray  # float64, us/angstrom
    difa: np.ndarray  # float64, us/angstrom^2
    tzero: np.ndarray  # float64, us
    group: np.ndarray  # int32, 0 = in no group
    use: np.ndarray  # int32, 1 = use, 0 = masked
    instrument_name: str = "SNAP"
    instrument_source: str = "snapcal"
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.detid.shape[0]
        for name in _REQUIRED:
            if getattr(self, name).shape != (n,):
                raise ValueError(f"diffcal column '{name}' has shape {getattr(self, name).shape}, expected ({n},)")

    @property
    def n_rows(self) -> int:
        return int(self.detid.shape[0])

    @classmethod
    def from_difc(
        cls, difc: np.ndarray, *, group: np.ndarray | None = None, instrument_name: str = "SNAP", **kw: Any
    ) -> DiffCalTable:
        """A table for detector ids ``0..n-1`` with DIFA = TZERO = 0 and every pixel in use."""
        n = difc.shape[0]
        return cls(
            detid=np.arange(n, dtype=np.int32),
            difc=np.asarray(difc, dtype=np.float64),
            difa=np.zeros(n),
            tzero=np.zeros(n),
            group=np.zeros(n, np.int32) if group is None else np.asarray(group, dtype=np.int32),
            use=np.ones(n, np.int32),
            instrument_name=instrument_name,
            **kw,
        )


def write_diffcal(path: Path | str, table: DiffCalTable) -> Path:
    """Write ``table`` in Mantid's diffcal layout; atomic (temp file + rename) and fsynced."""
    path = Path(path)
    order = np.argsort(table.detid, kind="stable")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with h5py.File(tmp, "w") as f:
            cal = f.create_group("calibration")
            cal.attrs["NX_class"] = np.bytes_("NXentry")
            cal.create_dataset("detid", data=table.detid[order].astype(np.int32))
            for name in ("difc", "difa", "tzero"):
                cal.create_dataset(name, data=getattr(table, name)[order].astype(np.float64))
            for name in ("group", "use"):
                cal.create_dataset(name, data=getattr(table, name)[order].astype(np.int32))
            for name, values in table.extra.items():
                cal.create_dataset(name, data=np.asarray(values)[order])
            inst = cal.create_group("instrument")
            inst.attrs["NX_class"] = np.bytes_("NXinstrument")
            for name, text in (("name", table.instrument_name), ("instrument_source", table.instrument_source)):
                raw = text.encode()
                inst.create_dataset(name, data=np.array([raw], dtype=f"S{max(len(raw), 1)}"))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _text(ds: h5py.Dataset) -> str:
    value = ds[()]
    if isinstance(value, np.ndarray):
        value = value.ravel()[0] if value.size else b""
    return value.decode() if isinstance(value, bytes) else str(value)


def read_diffcal(path: Path | str) -> DiffCalTable:
    """Read a Mantid diffcal (or grouping) HDF5 file; missing difc/difa/tzero/use get defaults."""
    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        raise CorruptFileError(f"cannot open diffcal file {path}: {exc}") from exc
    with f:
        if "calibration" not in f or "detid" not in f["calibration"]:
            raise CorruptFileError(f"{path} is not a diffcal file: no /calibration/detid dataset")
        cal = f["calibration"]
        detid = cal["detid"][()].astype(np.int32)
        n = detid.shape[0]

        def col(name: str, default: np.ndarray) -> np.ndarray:
            if name not in cal:
                return default
            data: np.ndarray = cal[name][()]
            if data.shape != (n,):
                raise CorruptFileError(f"{path}: /calibration/{name} has shape {data.shape}, expected ({n},)")
            return data

        inst = cal.get("instrument")
        return DiffCalTable(
            detid=detid,
            difc=col("difc", np.zeros(n)).astype(np.float64),
            difa=col("difa", np.zeros(n)).astype(np.float64),
            tzero=col("tzero", np.zeros(n)).astype(np.float64),
            group=col("group", np.zeros(n, np.int32)).astype(np.int32),
            use=col("use", np.ones(n, np.int32)).astype(np.int32),
            instrument_name=_text(inst["name"]) if inst is not None and "name" in inst else "",
            instrument_source=_text(inst["instrument_source"])
            if inst is not None and "instrument_source" in inst
            else "",
            extra={k: cal[k][()] for k in cal if k not in _REQUIRED and k != "instrument"},
        )


def read_mask(path: Path | str, *, n_pixels: int) -> np.ndarray:
    """Masked pixels (True) from a diffcal table's ``use`` column (0 = masked), indexed by detector id.

    Detector ids absent from the table count as unmasked; an id outside ``0..n_pixels-1`` (a native
    table given for Lite pixels, say) is an error naming the file.
    """
    table = read_diffcal(path)
    if table.n_rows and (table.detid.min() < 0 or table.detid.max() >= n_pixels):
        raise CorruptFileError(f"mask {path}: detector ids {table.detid.min()}..{table.detid.max()} do not fit "
                               f"{n_pixels} pixels (a native table for Lite pixels, or the reverse?)")
    masked = np.zeros(n_pixels, bool)
    masked[table.detid[table.use == 0]] = True
    return masked
