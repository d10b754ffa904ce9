"""Walk a Mantid IDF (SNAP's) with xml.etree alone, independently of ``snapcal_core``.

Mantid IDF semantics: arm components placed by log-driven ``r-position``/``t-position``/``roty``
parameters, column types holding panels at ``<trans x y>``, rectangular panels with
``xstart/xstep/ystart/ystep`` and ids ``idstart + ix * idstepbyrow + iy`` (``idfillbyfirst="y"``),
and the pixel type's ``<cuboid>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import numpy as np

NS = {"m": "http://www.mantidproject.org/IDF/1.0"}


def _rot_y(deg: float) -> np.ndarray:
    """Right-handed rotation about +y (Mantid ``roty``)."""
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


def _log_value(parameter: ET.Element, logs: dict[str, float]) -> float:
    """A ``<parameter><logfile id=... eq=.../>`` value; only the IDF's ``value`` and ``A+value`` forms."""
    logfile = parameter.find("m:logfile", NS)
    value = logs[logfile.attrib["id"]]
    eq = logfile.attrib.get("eq", "value").replace(" ", "")
    if eq == "value":
        return value
    assert eq.endswith("+value"), f"unsupported IDF equation {eq!r}"
    return float(eq[: -len("+value")]) + value


def _placement(location: ET.Element, logs: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """(origin, rotation) of a ``<location>``: x/y/z attributes or r/t/p parameters, roty, <trans>."""
    assert location.find("m:rot", NS) is None, "nested <rot> is not handled by this test's IDF walker"
    params = {p.attrib["name"]: _log_value(p, logs) for p in location.findall("m:parameter", NS)}
    if "r-position" in params:
        r, t, p = params["r-position"], np.deg2rad(params["t-position"]), np.deg2rad(params.get("p-position", 0.0))
        origin = r * np.array([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)])
    else:
        origin = np.array([float(location.attrib.get(k, 0.0)) for k in "xyz"])
    trans = location.find("m:trans", NS)
    if trans is not None:
        origin = origin + np.array([float(trans.attrib.get(k, 0.0)) for k in "xyz"])
    return origin, _rot_y(params.get("roty", 0.0))


def _panel_pixels(panel: ET.Element, component: ET.Element) -> tuple[np.ndarray, np.ndarray]:
    """Ids and local centres of a rectangular_detector placed by ``component``."""
    nx, ny = int(panel.attrib["xpixels"]), int(panel.attrib["ypixels"])
    xs = float(panel.attrib["xstart"]) + np.arange(nx) * float(panel.attrib["xstep"])
    ys = float(panel.attrib["ystart"]) + np.arange(ny) * float(panel.attrib["ystep"])
    assert component.attrib["idfillbyfirst"] == "y"
    ix, iy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    ids = int(component.attrib["idstart"]) + ix * int(component.attrib["idstepbyrow"]) + iy
    local = np.stack([xs[ix], ys[iy], np.zeros(ix.shape)], axis=-1)
    return ids.ravel(), local.reshape(-1, 3)


def positions_from_idf(path, *, arc_deg, lin_m) -> tuple[np.ndarray, float]:
    """Every pixel position (detector-id order) and L1, computed from the IDF XML alone."""
    idf = walk_idf(path, arc_deg=arc_deg, lin_m=lin_m)
    return idf.position_m, idf.l1_m


@dataclass(frozen=True)
class WalkedIdf:
    position_m: np.ndarray  # (n, 3), detector-id order
    rotation: np.ndarray  # (n, 3, 3): each pixel's frame -> instrument frame
    l1_m: float
    cuboid: dict[str, np.ndarray]  # the pixel type's <cuboid> points by tag


def walk_idf(path, *, arc_deg, lin_m) -> WalkedIdf:
    """Pixel positions and orientations (detector-id order), L1 and the pixel cuboid, from the IDF XML."""
    root = ET.parse(path).getroot()
    logs = {"det_arc1": arc_deg[0], "det_arc2": arc_deg[1], "det_lin1": lin_m[0], "det_lin2": lin_m[1]}
    types = {t.attrib["name"]: t for t in root.findall("m:type", NS)}
    ids_all, pos_all, rot_all = [], [], []

    def walk(component: ET.Element, origin: np.ndarray, rot: np.ndarray) -> None:
        kind = types[component.attrib["type"]]
        for location in component.findall("m:location", NS):
            o_local, r_local = _placement(location, logs)
            o, r = origin + rot @ o_local, rot @ r_local
            if kind.attrib.get("is") == "rectangular_detector":
                ids, local = _panel_pixels(kind, component)
                ids_all.append(ids)
                pos_all.append(o + local @ r.T)
                rot_all.append(np.broadcast_to(r, (ids.size, 3, 3)))
            else:
                for child in kind.findall("m:component", NS):
                    walk(child, o, r)

    for arm in ("East", "West"):
        walk(root.find(f"m:component[@type='{arm}']", NS), np.zeros(3), np.eye(3))
    ids, pos = np.concatenate(ids_all), np.concatenate(pos_all)
    assert np.array_equal(np.sort(ids), np.arange(ids.size)), "IDF ids are not a permutation of 0..n-1"
    result = np.empty_like(pos)
    result[ids] = pos
    rotation = np.empty((ids.size, 3, 3))
    rotation[ids] = np.concatenate(rot_all)
    moderator = root.find("m:component[@type='moderator']/m:location", NS)
    shape = types["pixel"].find("m:cuboid", NS)
    cuboid = {child.tag.split("}")[1]: np.array([float(child.attrib[k]) for k in "xyz"]) for child in shape}
    return WalkedIdf(position_m=result, rotation=rotation, l1_m=-float(moderator.attrib["z"]), cuboid=cuboid)
