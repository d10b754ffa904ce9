"""Group parameters equal SNAPRed's, computed here from SNAPRed's and Mantid's formulas alone.

The reference below follows, step by step and independently of ``snapcal_core``:
- SNAPRed v2.3.1 ``PixelGroupingParametersCalculation.PyExec``: for each group, skip masked
  detectors; weight two-theta and L2 by ``sin(twoTheta/2)``; ``dMin = C / (2 sin(max2theta/2)) *
  tofMin / L + lowdSpacingCrop``, ``dMax = C / (2 sin(min2theta/2)) * tofMax / L -
  highdSpacingCrop`` with ``C = m2cm * h / m_n``, ``L = L1 + L2`` of the instrument config and the
  state's TOF band ``lambda * L / C`` (``LocalDataService.generateInstrumentState``);
- Mantid ``EstimateResolutionDiffraction::estimateDetectorResolution`` on the grouped workspace
  (``GroupDetectors`` keeps masked detectors as members, so ``numDet`` counts them; the sums skip
  them): ``term1 = (dT/T)^2``, ``term2 = sum((dx^2+dy^2+dz^2)/4 + dL_src^2) / (L1+L2)^2 / numDet``,
  ``term3 = sum((solidAngle + dTheta_src^2) cot^2(theta)) / numDet``, with the pixel's bounding
  box and ``CSGObject::cuboidSolidAngle`` of the IDF's ``<cuboid>`` seen from the sample;
- the real IDFs (walked with xml.etree) and the real SNAPFocGroup grouping files from ../shared.
Instrument numbers: SNAPRed's test ``SNAPInstPrm.json`` (L1 15, L2 0.5, delTOverT 0.002, delLOverL
6.453e-5, delTh 3.2e-3, bandwidth 3.0, lowWavelengthCrop 0.05) and ``application.yml`` crops.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.constants as sc

from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.instrument.groupings import builtin_grouping
from snapcal_core.instrument.parameters import group_parameters
from tests.instrument.idf_walk import walk_idf

ARC, LIN, WAVELENGTH = (-65.3, 104.95), (0.045, 0.043), 2.1
L1, L2_CONFIG, DT_T, DL_L, DTHETA, BANDWIDTH, LOW_WAV_CROP = 15.0, 0.5, 0.002, 6.453e-5, 3.2e-3, 3.0, 0.05
LOW_D_CROP, HIGH_D_CROP = 0.1, 0.15
C = 10000.0 * sc.h / sc.m_n  # SNAPRed's CONVERSION_FACTOR: m2cm * h / m_n
TRIANGLES = np.array([(1, 4, 3), (3, 2, 1), (5, 6, 7), (7, 8, 5), (1, 2, 6), (6, 5, 1),
                      (2, 3, 7), (7, 6, 2), (3, 4, 8), (8, 7, 3), (1, 5, 8), (8, 4, 1)]) - 1


def mantid_cuboid(cuboid: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(8 corners as ``cuboidSolidAngle`` builds them, bounding-box size as ``calcBoundingBoxByGeometry``)."""
    lfb, lft = cuboid["left-front-bottom-point"], cuboid["left-front-top-point"]
    lbb, rfb = cuboid["left-back-bottom-point"], cuboid["right-front-bottom-point"]
    dx, dz = lft - lfb, rfb - lfb
    corners = np.array([lbb, lbb + dx, lft, lfb, lbb + dz, lbb + dz + dx, lft + dz, lfb + dz])
    box = np.array([lfb, lft, lbb, rfb, lbb + (lft - lfb), rfb + (lft - lfb), rfb + (lbb - lfb),
                    rfb + (lbb - lfb) + (lft - lfb)])
    return corners, box.max(axis=0) - box.min(axis=0)


def solid_angles(observer: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Sum of the positive Van Oosterom-Strackee angles of the 12 triangles, per observer (n, 3)."""
    out = np.empty(len(observer))
    for s in range(0, len(observer), 1 << 15):
        rel = corners[None] - observer[s:s + (1 << 15), None]  # (m, 8, 3)
        a, b, c = (rel[:, TRIANGLES[:, k]] for k in range(3))
        na, nb, nc = (np.linalg.norm(v, axis=-1) for v in (a, b, c))
        dot = lambda u, v: (u * v).sum(-1)  # noqa: E731
        den = na * nb * nc + nc * dot(a, b) + nb * dot(a, c) + na * dot(b, c)
        angle = np.where(den != 0, 2 * np.arctan2(dot(a, np.cross(b, c)), den), 0.0)
        out[s:s + (1 << 15)] = np.where(angle > 0, angle, 0.0).sum(axis=1)
    return out


def per_detector(idf) -> dict[str, np.ndarray]:
    """Mantid's per-detector quantities in detector-id order: 2theta, L2 and the two resolution terms."""
    pos = idf.position_m
    l2 = np.linalg.norm(pos, axis=1)
    two_theta = np.arccos(pos[:, 2] / l2)  # angle to the beam (+z) seen from the sample
    corners, size = mantid_cuboid(idf.cuboid)
    observer = np.einsum("nji,nj->ni", idf.rotation, -pos)  # the sample in each pixel's frame
    omega = solid_angles(observer, corners)
    return {"two_theta": two_theta, "l2": l2,
            "length_term": ((size**2).sum() / 4 + (DL_L * (L1 + L2_CONFIG)) ** 2) / (L1 + l2) ** 2,
            "angle_term": (omega + DTHETA**2) / np.tan(two_theta / 2) ** 2}


def snapred_parameters(det: dict, detid: np.ndarray, group: np.ndarray, masked: np.ndarray) -> dict[int, dict]:
    """SNAPRed's figures for every group with an unmasked detector (see the module docstring)."""
    two_theta, l2, length_term, angle_term = (det[k][detid] for k in ("two_theta", "l2", "length_term", "angle_term"))
    lam_min, lam_max = WAVELENGTH - BANDWIDTH / 2 + LOW_WAV_CROP, WAVELENGTH + BANDWIDTH / 2
    tof_min, tof_max = lam_min * (L1 + L2_CONFIG) / C, lam_max * (L1 + L2_CONFIG) / C
    out = {}
    for gid in np.unique(group[group > 0]):
        members = group == gid
        ok = members & ~masked
        if not ok.any():
            continue
        w = np.sin(two_theta[ok] / 2)
        lo, hi = two_theta[ok].max(), two_theta[ok].min()
        out[int(gid)] = {
            "two_theta_deg": np.degrees((w * two_theta[ok]).sum() / w.sum()),
            "l2_m": (w * l2[ok]).sum() / w.sum(),
            "dd_d": np.sqrt(DT_T**2 + length_term[ok].sum() / members.sum() + angle_term[ok].sum() / members.sum()),
            "d_min": C / (2 * np.sin(lo / 2)) * tof_min / (L1 + L2_CONFIG) + LOW_D_CROP,
            "d_max": C / (2 * np.sin(hi / 2)) * tof_max / (L1 + L2_CONFIG) - HIGH_D_CROP,
            "n": int(ok.sum()),
        }
    return out


def half_of_each_group(group: np.ndarray, seed: int) -> np.ndarray:
    """A mask of a random half of every group's pixels."""
    rng = np.random.default_rng(seed)
    masked = np.zeros(group.size, bool)
    for gid in np.unique(group[group > 0]):
        members = np.flatnonzero(group == gid)
        masked[rng.choice(members, size=members.size // 2, replace=False)] = True
    return masked


@pytest.fixture(scope="module", params=[True, False], ids=["lite", "native"])
def mode(request, shared_reference):
    lite = request.param
    idf = walk_idf(shared_reference / "snap" / ("SNAPLite_Definition.xml" if lite else "SNAP_Definition.xml"),
                   arc_deg=ARC, lin_m=LIN)
    return lite, per_detector(idf), snap_geometry(arc_deg=ARC, lin_m=LIN, lite=lite)


@pytest.mark.parametrize("with_mask", [False, True], ids=["unmasked", "half-masked"])
@pytest.mark.parametrize("name", ["Column", "Bank", "All"])
def test_group_parameters_equal_snapreds_figures(shared_reference, mode, name, with_mask):
    lite, det, geometry = mode
    with h5py.File(shared_reference / "snap" / f"SNAPFocGroup_{name}{'.lite' if lite else ''}.hdf") as f:
        detid, group = f["calibration/detid"][()], f["calibration/group"][()]
    masked = half_of_each_group(group, seed=3) if with_mask else np.zeros(group.size, bool)
    expected = snapred_parameters(det, detid, group, masked)
    mask_by_pixel = np.zeros(geometry.n_pixels, bool)
    mask_by_pixel[detid[masked]] = True
    got = group_parameters(geometry=geometry, grouping=builtin_grouping(name, lite=lite), wavelength_angstrom=WAVELENGTH,
                           mask=mask_by_pixel if with_mask else None)
    assert [p.group_id for p in got] == sorted(expected)
    for p in got:
        e = expected[p.group_id]
        assert p.n_pixels == e["n"]
        assert p.two_theta_deg == pytest.approx(e["two_theta_deg"], abs=0.01)
        assert p.l2_m == pytest.approx(e["l2_m"], abs=1e-4)
        assert p.delta_d_over_d == pytest.approx(e["dd_d"], rel=0.02)
        assert (p.d_min_angstrom, p.d_max_angstrom) == pytest.approx((e["d_min"], e["d_max"]), abs=1e-4)
