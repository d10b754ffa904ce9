"""The recipe's intermediate values on disk (the file-based steps of :mod:`snapcal_core.pipeline`):
a focused group step and a finished pixel result, read back exactly (arrays as ``.npy``/``.npz``
and HDF5 tables in float64, numbers in JSON, which round-trips a float64)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from snapcal_core.calibrant.types import GroupPeakList
from snapcal_core.instrument.types import GroupParameters
from snapcal_core.io.diffcal import read_diffcal, write_diffcal
from snapcal_core.recipe.align import GroupShift
from snapcal_core.recipe.calibrate import GroupStep
from snapcal_core.recipe.focus import FocusedSpectra
from snapcal_core.recipe.held_out import HeldOutTables
from snapcal_core.recipe.mixture import PeakMixture
from snapcal_core.recipe.pixel import PixelCalibrationResult

FOCUSED_NPZ, GROUP_STEP_JSON, CURRENT_TABLE = "focused.npz", "group_step.json", "current.h5"
PIXEL_NPZ, PIXEL_JSON = "pixel_result.npz", "pixel_result.json"
HELD_OUT_FILES = ("held_out_0.h5", "held_out_1.h5")
_PIXEL_ARRAYS = ("difc", "use", "difc_uncertainty", "statistical_bound", "offsets_bins", "counts_in_windows")


def write_group_step(step: GroupStep, folder: Path) -> None:
    """The focused spectra, the peak lists and every group's focusing constants (not ``current``)."""
    f = step.focused
    np.savez(folder / FOCUSED_NPZ, group_ids=f.group_ids, d_edges_angstrom=f.d_edges_angstrom, counts=f.counts)
    meta = {"groups": [g.model_dump(mode="json") for g in step.groups],
            "peaks": [p.model_dump(mode="json") for p in step.peak_lists],
            "difc_arb": {str(k): v for k, v in step.difc_arb.items()},
            "difc_tail": {str(k): v for k, v in step.difc_tail.items()},
            "shifts": {str(k): v.model_dump(mode="json") for k, v in step.shifts.items()},
            "mixtures": {str(k): [m.model_dump(mode="json") if m is not None else None for m in v]
                         for k, v in step.mixtures.items()}}
    (folder / GROUP_STEP_JSON).write_text(json.dumps(meta))
    write_diffcal(folder / CURRENT_TABLE, step.current)
    _write_held_out(folder, step.held_out)


def read_group_step(folder: Path, *, held_out: bool = True) -> GroupStep:
    """The group step written by :func:`write_group_step` (the group fits need no held-out tables)."""
    with np.load(folder / FOCUSED_NPZ) as z:
        focused = FocusedSpectra(group_ids=z["group_ids"], d_edges_angstrom=z["d_edges_angstrom"], counts=z["counts"])
    meta = json.loads((folder / GROUP_STEP_JSON).read_text())
    return GroupStep(current=read_diffcal(folder / CURRENT_TABLE),
                     groups=[GroupParameters.model_validate(g) for g in meta["groups"]],
                     peak_lists=[GroupPeakList.model_validate(p) for p in meta["peaks"]], focused=focused,
                     difc_arb={int(k): v for k, v in meta["difc_arb"].items()},
                     difc_tail={int(k): v for k, v in meta["difc_tail"].items()},
                     held_out=_read_held_out(folder) if held_out else None,
                     shifts={int(k): GroupShift.model_validate(v) for k, v in meta["shifts"].items()},
                     mixtures={int(k): [PeakMixture.model_validate(m) if m is not None else None for m in v]
                               for k, v in meta["mixtures"].items()})


def write_pixel_result(folder: Path, result: PixelCalibrationResult, *, held_out: HeldOutTables | None) -> None:
    """A finished pixel step: its arrays, mask reasons, split-half factors and held-out tables."""
    arrays = {name: getattr(result, name) for name in _PIXEL_ARRAYS}
    if result.mask_reason is not None:
        arrays["mask_reason"] = result.mask_reason
    np.savez(folder / PIXEL_NPZ, **arrays)
    meta = {"log_step": result.log_step, "converged": result.converged, "stop_reason": result.stop_reason,
            "error_scale": {str(k): v for k, v in result.error_scale.items()}}
    (folder / PIXEL_JSON).write_text(json.dumps(meta))
    _write_held_out(folder, held_out)


def read_pixel_result(folder: Path) -> tuple[PixelCalibrationResult, HeldOutTables | None]:
    """The pixel result and held-out tables written by :func:`write_pixel_result` (iterations not included)."""
    meta = json.loads((folder / PIXEL_JSON).read_text())
    with np.load(folder / PIXEL_NPZ) as z:
        arrays = {name: z[name] for name in _PIXEL_ARRAYS}
        reason = z["mask_reason"] if "mask_reason" in z.files else None
    result = PixelCalibrationResult(**arrays, log_step=meta["log_step"], converged=meta["converged"],
                                    stop_reason=meta["stop_reason"], mask_reason=reason,
                                    error_scale={int(k): v for k, v in meta["error_scale"].items()})
    return result, _read_held_out(folder)


def _write_held_out(folder: Path, held: HeldOutTables | None) -> None:
    for name, table in zip(HELD_OUT_FILES, held.tables if held is not None else (), strict=False):
        write_diffcal(folder / name, table)


def _read_held_out(folder: Path) -> HeldOutTables | None:
    if not (folder / HELD_OUT_FILES[0]).is_file():
        return None
    a, b = (read_diffcal(folder / name) for name in HELD_OUT_FILES)
    return HeldOutTables(tables=(a, b))
