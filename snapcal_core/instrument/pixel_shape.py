"""SNAP pixel shapes as the real IDFs define them, and what Mantid computes from them.

Both IDFs give each pixel a ``<cuboid>`` by four corners (left-front-bottom, left-front-top,
left-back-bottom, right-front-bottom) in the panel frame, front face at z = 0 facing the sample.
The native pixel is a 0.618 x 0.618 x 0.1 mm box. The Lite IDF's right-front-bottom point repeats
the left-front-top one, so the cuboid is degenerate: Mantid (no check, no repair) sees a flat
9.888 x 0.1 mm strip in the plane x = -2.472 mm, edge-on to the sample. SNAPRed's Lite group
resolutions come from that shape, and so do ours, to agree with them (docs/formats.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from snapcal_core.constants import LITE_BLOCK, PIXEL_DEPTH_M, PIXEL_PITCH_M
from snapcal_core.instrument.geometry import InstrumentGeometry

#: Mantid ``CSGObject::cuboidSolidAngle``'s 12 triangles over its 8 corners (0-based).
_TRIANGLES = np.array([(1, 4, 3), (3, 2, 1), (5, 6, 7), (7, 8, 5), (1, 2, 6), (6, 5, 1),
                       (2, 3, 7), (7, 6, 2), (3, 4, 8), (8, 7, 3), (1, 5, 8), (8, 4, 1)]) - 1


@dataclass(frozen=True)
class Cuboid:
    """An IDF ``<cuboid>`` by its four defining points (m, panel frame)."""

    left_front_bottom: tuple[float, float, float]
    left_front_top: tuple[float, float, float]
    left_back_bottom: tuple[float, float, float]
    right_front_bottom: tuple[float, float, float]

    def corners_m(self) -> np.ndarray:
        """The 8 corners in Mantid's order (``cuboidSolidAngle``), (8, 3)."""
        lfb, lft, lbb, rfb = (np.array(p) for p in (self.left_front_bottom, self.left_front_top,
                                                     self.left_back_bottom, self.right_front_bottom))
        dx, dz = lft - lfb, rfb - lfb
        return np.array([lbb, lbb + dx, lft, lfb, lbb + dz, lbb + dz + dx, lft + dz, lfb + dz])

    def extent_m(self) -> tuple[float, float, float]:
        """Width, height, depth as Mantid's ``getWidth/getHeight/getDepth``: the bounding box."""
        lfb, lft, lbb, rfb = (np.array(p) for p in (self.left_front_bottom, self.left_front_top,
                                                     self.left_back_bottom, self.right_front_bottom))
        up, back = lft - lfb, lbb - lfb
        points = np.array([lfb, lft, lbb, rfb, lbb + up, rfb + up, rfb + back, rfb + back + up])
        size = points.max(axis=0) - points.min(axis=0)
        return float(size[0]), float(size[1]), float(size[2])


#: Half widths of the native pixel and of the Lite superpixel (0.309 mm, 2.472 mm), and the depth.
_A_NATIVE, _A_LITE, _DEPTH = 0.5 * PIXEL_PITCH_M, 0.5 * LITE_BLOCK * PIXEL_PITCH_M, PIXEL_DEPTH_M
#: SNAP_Definition.xml's pixel.
NATIVE_PIXEL = Cuboid((-_A_NATIVE, -_A_NATIVE, 0.0), (-_A_NATIVE, _A_NATIVE, 0.0),
                      (-_A_NATIVE, -_A_NATIVE, -_DEPTH), (_A_NATIVE, -_A_NATIVE, 0.0))
#: SNAPLite_Definition.xml's pixel, degenerate as the real file has it.
LITE_PIXEL = Cuboid((-_A_LITE, -_A_LITE, 0.0), (-_A_LITE, _A_LITE, 0.0),
                    (-_A_LITE, -_A_LITE, -_DEPTH), (-_A_LITE, _A_LITE, 0.0))


def pixel_shape(*, lite: bool) -> Cuboid:
    """The IDF pixel of the mode."""
    return LITE_PIXEL if lite else NATIVE_PIXEL


def cuboid_solid_angle_sr(*, observer_m: np.ndarray, cuboid: Cuboid) -> np.ndarray:
    r"""Solid angle of a cuboid seen from each observer (panel frame, (n, 3)), as Mantid computes it.

    Sum over the 12 surface triangles that face the observer of the Van Oosterom-Strackee angle

    .. math:: \Omega = 2 \arctan \frac{\mathbf a \cdot (\mathbf b \times \mathbf c)}
              {abc + c\,\mathbf a\cdot\mathbf b + b\,\mathbf a\cdot\mathbf c + a\,\mathbf b\cdot\mathbf c}

    with :math:`\mathbf a, \mathbf b, \mathbf c` the corners relative to the observer; triangles
    with a negative angle (facing away) count zero.
    """
    observer = np.ascontiguousarray(observer_m, dtype=np.float64)
    out = np.empty(observer.shape[0])
    _solid_angle_kernel(observer, np.ascontiguousarray(cuboid.corners_m()), _TRIANGLES, out)
    return out


@numba.njit(nogil=True, cache=True, inline="always")
def _dot(p: np.ndarray, i: int, q: np.ndarray, j: int) -> float:  # pragma: no cover - compiled
    dot: float = p[i, 0] * q[j, 0] + p[i, 1] * q[j, 1] + p[i, 2] * q[j, 2]
    return dot


@numba.njit(parallel=True, nogil=True, cache=True)
def _solid_angle_kernel(observer: np.ndarray, corners: np.ndarray, triangles: np.ndarray,
                        out: np.ndarray) -> None:  # pragma: no cover - compiled
    n_corners = corners.shape[0]
    for n in numba.prange(observer.shape[0]):
        rel = np.empty((n_corners, 3))
        dist = np.empty(n_corners)
        for c in range(n_corners):
            for x in range(3):
                rel[c, x] = corners[c, x] - observer[n, x]
            dist[c] = np.sqrt(_dot(rel, c, rel, c))
        total = 0.0
        for t in range(triangles.shape[0]):
            i, j, k = triangles[t, 0], triangles[t, 1], triangles[t, 2]
            triple = (rel[i, 0] * (rel[j, 1] * rel[k, 2] - rel[j, 2] * rel[k, 1])
                      + rel[i, 1] * (rel[j, 2] * rel[k, 0] - rel[j, 0] * rel[k, 2])
                      + rel[i, 2] * (rel[j, 0] * rel[k, 1] - rel[j, 1] * rel[k, 0]))
            den = (dist[i] * dist[j] * dist[k] + dist[k] * _dot(rel, i, rel, j) + dist[j] * _dot(rel, i, rel, k)
                   + dist[i] * _dot(rel, j, rel, k))
            if den != 0.0:
                angle = 2.0 * np.arctan2(triple, den)
                if angle > 0.0:
                    total += angle
        out[n] = total


def pixel_solid_angle_sr(geometry: InstrumentGeometry) -> np.ndarray:
    """Each pixel's solid angle seen from the sample, Mantid's ``componentInfo.solidAngle``.

    The sample (origin) is taken into each pixel's own frame: ``R_k^T (0 - position)``.
    """
    per_panel = geometry.n_pixels // geometry.panel_rotation.shape[0]
    observer = np.empty_like(geometry.position_m)
    for k, rot in enumerate(geometry.panel_rotation):
        block = slice(k * per_panel, (k + 1) * per_panel)
        observer[block] = -geometry.position_m[block] @ rot  # row-wise R^T (0 - p)
    return cuboid_solid_angle_sr(observer_m=observer, cuboid=pixel_shape(lite=geometry.lite))
