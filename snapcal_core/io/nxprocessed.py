"""Mantid NXprocessed workspaces (SaveNexusProcessed) of focused d-spacing spectra.

``mantid_workspace_1/workspace/{axis1, values, errors}`` hold per-spectrum bin edges (or
centres), values and errors; ``instrument/detector/{detector_count, detector_index,
detector_list}`` say which detectors form each spectrum and ``instrument/physical_detectors``
gives their ``polar_angle`` (deg) and ``distance`` (m).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from snapcal_core.errors import CorruptFileError


@dataclass(frozen=True)
class FocusedWorkspace:
    """Focused spectra on a d axis, with the detectors that make up each spectrum."""

    path: Path
    spectrum_numbers: np.ndarray  # (n,)
    d_centres_angstrom: list[np.ndarray]
    values: list[np.ndarray]
    errors: list[np.ndarray]
    two_theta_deg: list[np.ndarray]  # per spectrum: polar angle of each detector
    l2_m: list[np.ndarray]
    units: str


def _need(group: h5py.Group, name: str, path: Path) -> h5py.Dataset:
    if name not in group:
        raise CorruptFileError(f"{path}: not a Mantid focused workspace: dataset '{group.name}/{name}' is missing")
    return group[name]


def read_focused_workspace(path: Path | str) -> FocusedWorkspace:
    """Read a focused NXprocessed file; :class:`CorruptFileError` names the file and the dataset."""
    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise CorruptFileError(f"cannot open {path}: {exc}") from exc
    with f:
        entry = f.get("mantid_workspace_1")
        if entry is None:
            raise CorruptFileError(f"{path}: no 'mantid_workspace_1' group (not a Mantid NXprocessed file)")
        ws = entry.get("workspace")
        if ws is None:
            raise CorruptFileError(f"{path}: dataset group 'mantid_workspace_1/workspace' is missing")
        axis = _need(ws, "axis1", path)
        units = axis.attrs.get("units", b"")
        units = units.decode() if isinstance(units, bytes) else str(units)
        if units != "dSpacing":
            raise CorruptFileError(f"{path}: axis1 is in '{units}', expected dSpacing")
        x, y, e = axis[()], _need(ws, "values", path)[()], _need(ws, "errors", path)[()]
        if x.ndim == 1:
            x = np.broadcast_to(x, (y.shape[0], x.shape[0]))
        centres = [0.5 * (xi[1:] + xi[:-1]) if xi.shape[0] == y.shape[1] + 1 else xi for xi in x]
        det = entry.get("instrument/detector")
        phys = entry.get("instrument/physical_detectors")
        if det is None or phys is None:
            raise CorruptFileError(f"{path}: 'instrument/detector' or 'instrument/physical_detectors' is missing")
        count, index, members = (_need(det, n, path)[()] for n in ("detector_count", "detector_index", "detector_list"))
        number = _need(phys, "detector_number", path)[()]
        order = {int(n): i for i, n in enumerate(number)}
        polar, dist = _need(phys, "polar_angle", path)[()], _need(phys, "distance", path)[()]
        rows = [np.array([order[int(m)] for m in members[i:i + c]]) for i, c in zip(index, count)]
        spectra = _need(det, "spectra", path)[()] if "spectra" in det else np.arange(1, y.shape[0] + 1)
    return FocusedWorkspace(path=path, spectrum_numbers=np.asarray(spectra), d_centres_angstrom=centres,
                            values=list(y), errors=list(e), two_theta_deg=[polar[r] for r in rows],
                            l2_m=[dist[r] for r in rows], units=units)
