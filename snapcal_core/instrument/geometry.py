"""SNAP pixel geometry built from the instrument facts (no IDF parsing at run time).

Frame: beam along +z, y up, sample at the origin, moderator at z = -L1.
An arm sits at radius ``0.5 + det_lin`` m and polar angle ``det_arc`` in the x-z plane and is
rotated about y by ``180 + det_arc`` degrees; East (panels 0-8) follows ``det_arc2/det_lin2``,
West (panels 9-17) ``det_arc1/det_lin1``. Within a panel ``id = start + ix * n + iy``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snapcal_core.constants import (
    ARM_BASE_RADIUS_M,
    DIFC_FACTOR_US_PER_ANGSTROM_M,
    L1_M,
    LITE_BLOCK,
    N_PANELS,
    PANEL_OFFSETS_M,
    PANEL_PIXELS_PER_SIDE,
    PIXEL_PITCH_M,
)

#: Panel k -> index of its local x and y offset (0, 1, 2 for -, 0, +) within its arm, in id order.
#: Both arms fill x = -, 0, + with panels (0-2, 3-5, 6-8) and (9-11, 12-14, 15-17).
_PANEL_X_INDEX = (0, 0, 0, 1, 1, 1, 2, 2, 2, 0, 0, 0, 1, 1, 1, 2, 2, 2)
_PANEL_Y_INDEX = (0, 1, 2) * 6


@dataclass(frozen=True)
class InstrumentGeometry:
    """Per-pixel geometry of SNAP for one detector position, native or Lite."""

    lite: bool
    position_m: np.ndarray  # (n_pixels, 3) float64
    l2_m: np.ndarray  # (n_pixels,)
    two_theta_rad: np.ndarray  # (n_pixels,)
    #: (18, 3, 3): each panel's rotation from its own frame (pixel face in local x-y, local +z towards
    #: the sample) to the instrument frame.
    panel_rotation: np.ndarray
    pixel_pitch_m: float = PIXEL_PITCH_M
    l1_m: float = L1_M

    @property
    def n_pixels(self) -> int:
        return int(self.l2_m.shape[0])

    @property
    def difc_us_per_angstrom(self) -> np.ndarray:
        """Geometric DIFC of every pixel (see :func:`difc_from_geometry`)."""
        return difc_from_geometry(l_total_m=self.l1_m + self.l2_m, two_theta_rad=self.two_theta_rad)


def difc_from_geometry(*, l_total_m: np.ndarray | float, two_theta_rad: np.ndarray | float) -> np.ndarray:
    r"""Geometric DIFC in us/angstrom.

    .. math:: \mathrm{DIFC} = \frac{2 m_n}{h} L_\mathrm{total} \sin(2\theta / 2)
    """
    return DIFC_FACTOR_US_PER_ANGSTROM_M * np.asarray(l_total_m) * np.sin(0.5 * np.asarray(two_theta_rad))


def _rotation_y(angle_deg: float) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _panel_local_positions(pixels_per_side: int) -> np.ndarray:
    """Pixel centres in a panel's own frame, (n*n, 3), ordered ``ix * n + iy``."""
    pitch = PIXEL_PITCH_M * (PANEL_PIXELS_PER_SIDE // pixels_per_side)
    centres = (np.arange(pixels_per_side) - 0.5 * (pixels_per_side - 1)) * pitch
    ix, iy = np.meshgrid(centres, centres, indexing="ij")
    return np.stack([ix.ravel(), iy.ravel(), np.zeros(ix.size)], axis=1)


def panel_rotations(*, arc_deg: tuple[float, float]) -> np.ndarray:
    """(18, 3, 3) rotation of every panel: its arm's ``roty = 180 + det_arc`` (East: arc2, West: arc1)."""
    return np.stack([_rotation_y(180.0 + (arc_deg[1] if k < 9 else arc_deg[0])) for k in range(N_PANELS)])


def pixel_positions_m(
    *, arc_deg: tuple[float, float], lin_m: tuple[float, float], pixels_per_side: int
) -> np.ndarray:
    """Positions (m) of all pixels in detector-id order for ``arc=(arc1, arc2)``, ``lin=(lin1, lin2)``.

    East arm (panels 0-8) uses ``arc2, lin2``; West arm (panels 9-17) uses ``arc1, lin1``.
    """
    local = _panel_local_positions(pixels_per_side)
    out = np.empty((N_PANELS * local.shape[0], 3))
    rotations = panel_rotations(arc_deg=arc_deg)
    for k in range(N_PANELS):
        east = k < 9
        arc, lin = (arc_deg[1], lin_m[1]) if east else (arc_deg[0], lin_m[0])
        trans = np.array([PANEL_OFFSETS_M[_PANEL_X_INDEX[k]], PANEL_OFFSETS_M[_PANEL_Y_INDEX[k]], 0.0])
        radius = ARM_BASE_RADIUS_M + lin
        t = np.deg2rad(arc)
        arm = np.array([radius * np.sin(t), 0.0, radius * np.cos(t)])
        out[k * local.shape[0] : (k + 1) * local.shape[0]] = arm + (local + trans) @ rotations[k].T
    return out


def snap_geometry(*, arc_deg: tuple[float, float], lin_m: tuple[float, float], lite: bool = False) -> InstrumentGeometry:
    """Build the SNAP geometry for detector arcs ``(arc1, arc2)`` deg and lins ``(lin1, lin2)`` m."""
    n_side = PANEL_PIXELS_PER_SIDE // LITE_BLOCK if lite else PANEL_PIXELS_PER_SIDE
    pos = pixel_positions_m(arc_deg=arc_deg, lin_m=lin_m, pixels_per_side=n_side)
    l2 = np.linalg.norm(pos, axis=1)
    two_theta = np.arccos(np.clip(pos[:, 2] / l2, -1.0, 1.0))
    return InstrumentGeometry(lite=lite, position_m=pos, l2_m=l2, two_theta_rad=two_theta,
                              panel_rotation=panel_rotations(arc_deg=arc_deg),
                              pixel_pitch_m=PIXEL_PITCH_M * (PANEL_PIXELS_PER_SIDE // n_side))
