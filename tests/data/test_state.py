"""Detector state from the DAS logs: PVs, fallbacks, last value, typed errors."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from snapcal_core.constants import REFERENCE_STATE_ID
from snapcal_core.data.state import read_state_file, state_logs
from snapcal_core.errors import MissingLogError
from tests.data.conftest import REFERENCE_STATE, write_run


def test_reference_state_gives_the_snapred_state_id(facility):
    state = read_state_file(facility / "SNAP" / "IPTS-7" / "nexus" / "SNAP_101.nxs.h5")
    assert state == REFERENCE_STATE
    assert state.state_id() == REFERENCE_STATE_ID == "04bd2c53f6bf6754"


def test_the_last_value_of_a_log_is_used(facility):
    path = facility / "SNAP" / "IPTS-7" / "nexus" / "SNAP_101.nxs.h5"
    with h5py.File(path, "a") as f:
        del f["entry/DASlogs/det_arc1/value"]
        f["entry/DASlogs/det_arc1/value"] = np.array([10.0, -20.0, -70.0])
    assert read_state_file(path).arc_deg == (-70.0, 104.95)


@pytest.mark.parametrize(
    ("drop", "add", "field", "expected"),
    [
        ("BL3:Chop:Skf1:WavelengthUserReq", {"BL3:Chop:Gbl:WavelengthReq": 3.3}, "wavelength_angstrom", 3.3),
        ("BL3:Chop:Skf1:WavelengthUserReq", {"BL3:Det:TH:BL:Lambda": 1.9}, "wavelength_angstrom", 1.9),
        ("BL3:Mot:OpticsPos:Pos", {"optics": 2.0}, "guide", 2),
    ],
)
def test_fallback_pvs_are_used(settings_env, drop, add, field, expected):
    logs = {k: v for k, v in state_logs(REFERENCE_STATE).items() if k != drop} | add
    path = write_run(settings_env, logs=logs)
    assert getattr(read_state_file(path), field) == expected


def test_missing_pv_names_the_pv_its_fallbacks_and_the_file(settings_env):
    logs = {k: v for k, v in state_logs(REFERENCE_STATE).items() if k != "BL3:Chop:Skf1:WavelengthUserReq"}
    path = write_run(settings_env, logs=logs)
    with pytest.raises(MissingLogError, match=r"'BL3:Chop:Skf1:WavelengthUserReq'.*SNAP_101.*"
                                              r"BL3:Chop:Gbl:WavelengthReq, BL3:Det:TH:BL:Lambda"):
        read_state_file(path)


def test_a_non_finite_last_value_is_missing(settings_env):
    path = write_run(settings_env, logs=state_logs(REFERENCE_STATE) | {"det_lin2": float("nan")})
    with pytest.raises(MissingLogError, match="'det_lin2'"):
        read_state_file(path)
