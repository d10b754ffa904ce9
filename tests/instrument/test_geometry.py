"""The geometry built from SCIENCE.md facts agrees with Mantid's real SNAP IDFs."""

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from snapcal_core.constants import DIFC_FACTOR_US_PER_ANGSTROM_M, L1_M
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.instrument.lite import lite_map

ARC = (-65.3, 104.95)  # (det_arc1, det_arc2)
LIN = (0.045, 0.043)
NS = {"m": "http://www.mantidproject.org/IDF/1.0"}


def _rot_y(deg):
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


def positions_from_idf(path):
    """Every pixel position computed independently from the IDF XML (detector id -> xyz)."""
    root = ET.parse(path).getroot()
    logs = {"det_arc1": ARC[0], "det_arc2": ARC[1], "det_lin1": LIN[0], "det_lin2": LIN[1]}
    types = {t.attrib["name"]: t for t in root.findall("m:type", NS)}
    panel = types["panel"]
    nx, ny = int(panel.attrib["xpixels"]), int(panel.attrib["ypixels"])
    xs = float(panel.attrib["xstart"]) + np.arange(nx) * float(panel.attrib["xstep"])
    ys = float(panel.attrib["ystart"]) + np.arange(ny) * float(panel.attrib["ystep"])
    out = {}
    for arm in ("East", "West"):
        loc = root.find(f"m:component[@type='{arm}']/m:location", NS)
        params = {p.attrib["name"]: p.find("m:logfile", NS) for p in loc.findall("m:parameter", NS)}

        def value(name):
            lf = params[name]
            v = logs[lf.attrib["id"]]
            return eval(lf.attrib.get("eq", "value"), {}, {"value": v})  # IDF equations like 0.5+value

        r, t, roty = value("r-position"), np.deg2rad(value("t-position")), value("roty")
        origin = np.array([r * np.sin(t), 0.0, r * np.cos(t)])
        rot = _rot_y(roty)
        for col in types[arm].findall("m:component", NS):
            for comp in types[col.attrib["type"]].findall("m:component", NS):
                trans = comp.find("m:location/m:trans", NS).attrib
                tx, ty = float(trans.get("x", 0)), float(trans.get("y", 0))
                start, step = int(comp.attrib["idstart"]), int(comp.attrib["idstepbyrow"])
                ix, iy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
                ids = start + ix * step + iy  # idfillbyfirst="y"
                local = np.stack([xs[ix] + tx, ys[iy] + ty, np.zeros_like(xs[ix])], axis=-1).reshape(-1, 3)
                out[start] = (ids.ravel(), origin + local @ rot.T)
    ids = np.concatenate([v[0] for v in out.values()])
    pos = np.concatenate([v[1] for v in out.values()])
    result = np.empty_like(pos)
    result[ids] = pos
    assert np.array_equal(np.sort(ids), np.arange(ids.size))
    return result


@pytest.mark.parametrize("lite,name", [(False, "SNAP_Definition.xml"), (True, "SNAPLite_Definition.xml")])
def test_pixel_positions_match_snap_idf(shared_reference, lite, name):
    expected = positions_from_idf(shared_reference / "snap" / name)
    geometry = snap_geometry(arc_deg=ARC, lin_m=LIN, lite=lite)
    assert geometry.position_m.shape == expected.shape
    assert np.abs(geometry.position_m - expected).max() < 1e-6


def test_lite_centres_are_means_of_their_native_pixels():
    native = snap_geometry(arc_deg=ARC, lin_m=LIN)
    lite = snap_geometry(arc_deg=ARC, lin_m=LIN, lite=True)
    mapping = lite_map()
    mean = np.stack([np.bincount(mapping, weights=native.position_m[:, k]) / 64 for k in range(3)], axis=1)
    assert np.abs(mean - lite.position_m).max() < 1e-9


def test_difc_is_factor_times_flight_path_times_sin_theta():
    g = snap_geometry(arc_deg=ARC, lin_m=LIN, lite=True)
    i = 12345
    pos = g.position_m[i]
    l2 = np.linalg.norm(pos)
    theta = 0.5 * np.arccos(pos[2] / l2)
    assert g.difc_us_per_angstrom[i] == pytest.approx(DIFC_FACTOR_US_PER_ANGSTROM_M * (L1_M + l2) * np.sin(theta), rel=1e-12)
    assert g.l2_m[i] == pytest.approx(l2)


def test_columns_sit_at_decreasing_angles_on_the_east_arm():
    g = snap_geometry(arc_deg=ARC, lin_m=LIN, lite=True)
    col_mean = [np.rad2deg(g.two_theta_rad[k * 3072:(k + 1) * 3072].mean()) for k in range(3)]
    assert col_mean[0] > col_mean[1] > col_mean[2]
    assert 115 < col_mean[0] < 125
