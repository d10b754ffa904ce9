r"""TOF <-> d with a pixel's diffractometer constants (Mantid's DIFC, DIFA, TZERO).

.. math:: \mathrm{TOF} = \mathrm{DIFC}\,d + \mathrm{DIFA}\,d^2 + \mathrm{TZERO}

and its inverse, the smallest positive root, in the form that does not cancel for small DIFA:
:math:`s = 1 + 4\,\mathrm{DIFA}(\mathrm{TOF}-\mathrm{TZERO})/\mathrm{DIFC}^2`,
:math:`d = (\mathrm{TOF}-\mathrm{TZERO}) / (\tfrac12 \mathrm{DIFC} (1 + \sqrt s))`; NaN where s < 0
(for DIFA = 0 this is :math:`(\mathrm{TOF}-\mathrm{TZERO})/\mathrm{DIFC}` exactly).

The scalar forms are numba functions the kernels inline; :func:`d_from_tof` is the same
expression on arrays (``tests/instrument/test_tof.py`` checks the two agree bit for bit).
numba's cache does not see changes in a function another file's kernel calls: after editing
this file, delete the ``__pycache__`` folders of ``recipe/`` and ``simulate/``.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True, inline="always")
def tof_from_d_scalar(d: float, difc: float, difa: float, tzero: float) -> float:
    """``DIFC d + DIFA d^2 + TZERO`` of one event (us, d in angstrom)."""
    return difc * d + difa * d * d + tzero


@numba.njit(nogil=True, cache=True, inline="always")
def d_from_tof_scalar(tof: float, difc: float, difa: float, tzero: float) -> float:
    """Smallest positive root of ``DIFC d + DIFA d^2 + TZERO = TOF`` (module docstring; NaN if none)."""
    t = tof - tzero
    if difa == 0.0:
        return t / difc
    s = 1.0 + 4.0 * difa * t / (difc * difc)
    if s < 0.0:
        return np.nan
    d: float = t / (0.5 * difc * (1.0 + np.sqrt(s)))
    return d


def d_from_tof(*, tof_us: np.ndarray, difc: np.ndarray | float, difa: np.ndarray | float = 0.0,
               tzero: np.ndarray | float = 0.0) -> np.ndarray:
    """:func:`d_from_tof_scalar` on arrays (broadcast), in angstrom; NaN where there is no root."""
    t = np.asarray(tof_us, dtype=np.float64) - tzero
    difc = np.asarray(difc, dtype=np.float64)
    s = 1.0 + 4.0 * np.asarray(difa) * t / difc**2
    with np.errstate(invalid="ignore"):
        return np.where(s >= 0, t / (0.5 * difc * (1.0 + np.sqrt(np.where(s >= 0, s, 0.0)))), np.nan)
