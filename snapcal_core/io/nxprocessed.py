"""Mantid NXprocessed workspaces (SaveNexusProcessed) of focused spectra, whatever their instrument holds.

What Mantid writes (``NexusFileIO::writeNexusProcessedData2D``, ``SaveNexusProcessed::
saveSpectraDetectorMapNexus``, ``Instrument::saveNexus``), under ``mantid_workspace_1``:

- ``workspace/values``, ``errors``: ``(n_spectra, n_bins)``. ``workspace/axis1``: bin edges
  (``n_bins + 1``) or points (``n_bins``); 1-D when every spectrum shares them, else 2-D with one
  row per spectrum; a ragged workspace's rows are padded at the end with NaN (and its values rows
  beyond each spectrum's length are padding). Attributes ``units`` (Mantid unit id) and
  ``distribution`` (``"1"``: values per unit of x). ``workspace/axis2``: spectrum numbers.
- ``instrument/name``; ``instrument/detector/{detector_index, detector_count, detector_list,
  spectra}`` (the detectors of each spectrum) and ``detector_positions`` ``(n_det, 3)`` =
  spherical ``(R m, 2theta deg, phi deg)`` from the sample, all zero without a sample or for a
  detector the instrument lacks.
- ``instrument/physical_detectors/{detector_number, polar_angle (deg), distance (m)}`` for every
  detector of the instrument (absent without detectors; no angle or distance without a sample).
- ``instrument/instrument_parameter_map/data``: ``|``-separated ``component;type;name;value``;
  ``ApplyDiffCal`` stores ``detID:<id>;double;DIFC|DIFA|TZERO;<value>``.
- ``logs/<name>/value`` (time series; the last value is used).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from snapcal_core.errors import CorruptFileError, UnsupportedUnitError

#: Mantid unit ids of ``axis1`` that snapcal reads (d directly; TOF through a DIFC).
UNITS_D = "dSpacing"
UNITS_TOF = "TOF"
#: Logs that may hold the requested central wavelength (angstrom), in order of preference.
WAVELENGTH_LOGS = ("LambdaRequest", "BL3:Chop:Skf1:WavelengthUserReq", "BL3:Chop:Gbl:WavelengthReq",
                   "BL3:Det:TH:BL:Lambda")
_DIFFCAL_PARAMETER = re.compile(rb"detID:(\d+);double;(DIFC|DIFA|TZERO);([^;|]+)")


@dataclass(frozen=True)
class FocusedWorkspace:
    """Spectra of a focused workspace as the file holds them, with what it says about their detectors."""

    path: Path
    units: str  # Mantid unit id of x ("dSpacing" or "TOF")
    histogram: bool  # x holds bin edges (len(y) + 1); else points (len(y))
    distribution: bool  # values are per unit of x
    spectrum_numbers: np.ndarray  # (n,)
    x: list[np.ndarray]  # per spectrum, increasing, file units
    values: list[np.ndarray]
    errors: list[np.ndarray]
    detector_ids: list[np.ndarray]  # per spectrum (empty when the file maps no detectors)
    two_theta_deg: list[np.ndarray]  # per spectrum, aligned with detector_ids; NaN where unknown
    l2_m: list[np.ndarray]
    geometry_source: str  # "physical_detectors", "detector_positions" or "none"
    instrument_name: str
    diffcal: list[np.ndarray] | None  # per spectrum (n_det, 3) DIFC, DIFA, TZERO (NaN: not in the map)
    wavelength_angstrom: float | None  # from the logs, when one of WAVELENGTH_LOGS is there

    @property
    def n_spectra(self) -> int:
        return len(self.values)

    def has_geometry(self, index: int) -> bool:
        """Whether the file locates at least one detector of spectrum ``index``."""
        return bool(np.any(np.isfinite(self.two_theta_deg[index])))


def _need(group: h5py.Group, name: str, path: Path) -> h5py.Dataset:
    if name not in group:
        raise CorruptFileError(f"{path}: not a Mantid focused workspace: dataset '{group.name}/{name}' is missing")
    return group[name]


def _text(value: Any) -> str:
    """A NeXus string (scalar or one-element array; Mantid writes an empty string as a blank) stripped."""
    if np.ndim(value):
        flat = np.asarray(value).ravel()
        value = flat[0] if flat.size else b""
    return (value.decode(errors="replace") if isinstance(value, bytes) else str(value)).strip()


def _attr(dataset: h5py.Dataset, name: str) -> str:
    return _text(dataset.attrs[name]) if name in dataset.attrs else ""


def _finite_prefix(row: np.ndarray, path: Path, index: int) -> int:
    """Length of a ragged row (Mantid pads it with NaN at the end)."""
    finite = np.isfinite(row)
    n = int(finite.sum())
    if not finite[:n].all():
        raise CorruptFileError(f"{path}: axis1 row {index} has non-finite values before its end")
    return n


def _spectra(ws: h5py.Group, path: Path) -> tuple[bool, list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """``(histogram, x, y, e)`` per spectrum from ``axis1``, ``values`` and ``errors``."""
    axis = _need(ws, "axis1", path)
    y = np.atleast_2d(np.asarray(_need(ws, "values", path)[()], dtype=np.float64))
    e = np.atleast_2d(np.asarray(_need(ws, "errors", path)[()], dtype=np.float64))
    x = np.asarray(axis[()], dtype=np.float64)
    if e.shape != y.shape:
        raise CorruptFileError(f"{path}: workspace/errors {e.shape} and workspace/values {y.shape} differ in shape")
    if x.ndim == 1:
        x = np.broadcast_to(x, (y.shape[0], x.shape[0]))
    if x.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[1] not in (y.shape[1], y.shape[1] + 1):
        raise CorruptFileError(f"{path}: workspace/axis1 {axis.shape} fits neither bin edges nor points of "
                               f"workspace/values {y.shape}")
    histogram = x.shape[1] == y.shape[1] + 1
    xs, ys, es = [], [], []
    for i in range(y.shape[0]):
        n = _finite_prefix(x[i], path, i)
        m = max(n - 1, 0) if histogram else n
        xi, yi, ei = x[i, :n], y[i, :m], e[i, :m]
        if n > 1 and xi[-1] < xi[0]:
            xi, yi, ei = xi[::-1], yi[::-1], ei[::-1]
        xs.append(np.ascontiguousarray(xi))
        ys.append(np.ascontiguousarray(yi))
        es.append(np.ascontiguousarray(ei))
    return histogram, xs, ys, es


def _units(ws: h5py.Group, path: Path) -> tuple[str, bool]:
    axis = _need(ws, "axis1", path)
    units = _attr(axis, "units")
    if units not in (UNITS_D, UNITS_TOF):
        raise UnsupportedUnitError(
            f"{path}: workspace/axis1 is in {units or 'no unit'!r} (attribute 'units'); snapcal reads focused "
            f"spectra in {UNITS_D!r} or {UNITS_TOF!r}: convert them first (Mantid ConvertUnits Target=dSpacing)")
    return units, _attr(axis, "distribution") == "1"


def _spectrum_numbers(ws: h5py.Group, det: h5py.Group | None, n: int, path: Path) -> np.ndarray:
    """``detector/spectra``, else ``axis2`` when it holds spectrum numbers, else 1..n."""
    if det is not None and "spectra" in det:
        numbers = np.asarray(det["spectra"][()]).ravel()
        where = f"{det.name}/spectra"
    elif "axis2" in ws and _attr(ws["axis2"], "units") == "spectraNumber":
        numbers, where = np.asarray(ws["axis2"][()]).ravel(), f"{ws.name}/axis2"
    else:
        return np.arange(1, n + 1)
    if numbers.shape != (n,):
        raise CorruptFileError(f"{path}: {where} has {numbers.size} spectrum numbers for {n} spectra")
    return numbers.astype(np.int64)


def _members(det: h5py.Group | None, n: int, path: Path) -> list[np.ndarray]:
    """Detector ids of each spectrum from ``detector_{index, count, list}`` (empty when absent)."""
    if det is None or "detector_list" not in det:
        return [np.zeros(0, np.int64) for _ in range(n)]
    index, count = (np.asarray(_need(det, k, path)[()]).ravel() for k in ("detector_index", "detector_count"))
    members = np.asarray(det["detector_list"][()]).ravel().astype(np.int64)
    if index.shape != (n,) or count.shape != (n,) or np.any(index + count > members.size):
        raise CorruptFileError(f"{path}: {det.name}/detector_index, detector_count and detector_list do not "
                               f"describe {n} spectra")
    return [members[i:i + c] for i, c in zip(index, count)]


def _physical(inst: h5py.Group | None) -> dict[int, tuple[float, float]] | None:
    """``detector id -> (polar deg, distance m)`` from ``physical_detectors`` when it has both."""
    phys = inst.get("physical_detectors") if inst is not None else None
    if not isinstance(phys, h5py.Group) or not {"detector_number", "polar_angle", "distance"} <= set(phys):
        return None
    ids, polar, dist = (np.asarray(phys[k][()]).ravel() for k in ("detector_number", "polar_angle", "distance"))
    if not ids.size == polar.size == dist.size:
        return None
    return {int(i): (float(p), float(d)) for i, p, d in zip(ids, polar, dist)}


def _geometry(det: h5py.Group | None, inst: h5py.Group | None, members: list[np.ndarray],
              ) -> tuple[list[np.ndarray], list[np.ndarray], str]:
    """Per spectrum ``(2theta deg, L2 m)`` of each detector: ``physical_detectors`` first, then
    ``detector_positions`` rows; NaN where neither locates it (missing, or distance 0)."""
    n_det = sum(m.size for m in members)
    spherical = np.zeros((n_det, 3))
    if det is not None and "detector_positions" in det and det["detector_positions"].shape == (n_det, 3):
        spherical = np.asarray(det["detector_positions"][()], dtype=np.float64)
    physical = _physical(inst) or {}
    tt, l2, sources, start = [], [], set(), 0
    for ids in members:
        rows = spherical[start:start + ids.size]
        start += ids.size
        table = np.array([physical.get(int(i), (np.nan, np.nan)) for i in ids]).reshape(-1, 2)
        use_phys = table[:, 1] > 0
        use_pos = ~use_phys & (rows[:, 0] > 0)
        if use_phys.any():
            sources.add("physical_detectors")
        if use_pos.any():
            sources.add("detector_positions")
        tt.append(np.where(use_phys, table[:, 0], np.where(use_pos, rows[:, 1], np.nan)))
        l2.append(np.where(use_phys, table[:, 1], np.where(use_pos, rows[:, 0], np.nan)))
    return tt, l2, "+".join(sorted(sources, reverse=True)) or "none"


def _diffcal(inst: h5py.Group | None, members: list[np.ndarray]) -> list[np.ndarray] | None:
    """Per spectrum ``(n_det, 3)`` DIFC, DIFA, TZERO from the parameter map; None if it has no DIFC."""
    note = inst.get("instrument_parameter_map/data") if inst is not None else None
    if not isinstance(note, h5py.Dataset):
        return None
    text = np.asarray(note[()]).ravel()
    blob = b"|".join(t if isinstance(t, bytes) else str(t).encode() for t in text)
    values: dict[str, dict[int, float]] = {"DIFC": {}, "DIFA": {}, "TZERO": {}}
    for match in _DIFFCAL_PARAMETER.finditer(blob):
        try:
            values[match.group(2).decode()][int(match.group(1))] = float(match.group(3))
        except ValueError:
            continue  # a value Mantid would not parse either
    if not values["DIFC"]:
        return None
    return [np.array([[values["DIFC"].get(int(i), np.nan), values["DIFA"].get(int(i), 0.0),
                       values["TZERO"].get(int(i), 0.0)] for i in ids]).reshape(-1, 3) for ids in members]


def _last_log(entry: h5py.Group, names: tuple[str, ...]) -> float | None:
    for name in names:
        value = entry.get(f"logs/{name}/value")
        if isinstance(value, h5py.Dataset) and value.dtype.kind in "fiu":
            finite = np.asarray(value[()], dtype=np.float64).ravel()
            finite = finite[np.isfinite(finite)]
            if finite.size:
                return float(finite[-1])
    return None


def _open_entry(f: h5py.File, path: Path) -> tuple[h5py.Group, h5py.Group]:
    entry = f.get("mantid_workspace_1")
    if entry is None:
        raise CorruptFileError(f"{path}: no 'mantid_workspace_1' group (not a Mantid NXprocessed file)")
    ws = entry.get("workspace")
    if ws is None and "event_workspace" in entry:
        raise CorruptFileError(f"{path}: 'mantid_workspace_1/event_workspace' holds events, not focused histograms: "
                               f"save the workspace after Rebin, or with SaveNexusProcessed PreserveEvents=False")
    if ws is None:
        raise CorruptFileError(f"{path}: dataset group 'mantid_workspace_1/workspace' is missing")
    return entry, ws


def read_focused_workspace(path: Path | str) -> FocusedWorkspace:
    """Read a focused NXprocessed file in any layout SaveNexusProcessed writes.

    :class:`CorruptFileError` names the file and the dataset; :class:`UnsupportedUnitError` the
    unit of ``axis1`` when it is neither dSpacing nor TOF. Missing geometry is not an error here:
    :attr:`FocusedWorkspace.geometry_source` is ``"none"`` and the caller decides.
    """
    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise CorruptFileError(f"cannot open {path}: {exc}") from exc
    with f:
        entry, ws = _open_entry(f, path)
        units, distribution = _units(ws, path)
        histogram, x, y, e = _spectra(ws, path)
        inst = entry.get("instrument")
        inst = inst if isinstance(inst, h5py.Group) else None
        det = inst.get("detector") if inst is not None else None
        det = det if isinstance(det, h5py.Group) else None
        members = _members(det, len(y), path)
        tt, l2, source = _geometry(det, inst, members)
        name = _text(inst["name"][()]) if inst is not None and "name" in inst else ""
        return FocusedWorkspace(
            path=path, units=units, histogram=histogram, distribution=distribution,
            spectrum_numbers=_spectrum_numbers(ws, det, len(y), path), x=x, values=y, errors=e, detector_ids=members,
            two_theta_deg=tt, l2_m=l2, geometry_source=source, instrument_name=name,
            diffcal=_diffcal(inst, members) if units == UNITS_TOF else None,
            wavelength_angstrom=_last_log(entry, WAVELENGTH_LOGS))
