"""Group alignment: the group-common constants the pixel step leaves free, found before the final group fit.

The pixel step histograms events in TOF-translated d, ``d'' = d_w + (TOF - DIFC_p d_w) / DIFC_g``
(:mod:`~snapcal_core.recipe.pixel_kernels`), so that the back-to-back tail has one shape in
every pixel. That coordinate compares the pixels' *TOF* residuals at each reference peak ``d_w``:
its fixed point (every pixel's peaks on the group reference) is

.. math:: \\mathrm{TOF}_p(d) = (\\mathrm{DIFC}_p + c) d + t_0 + a d^2

with ``c``, ``t_0``, ``a`` common to the group and unknown: the pixel step fixes each pixel's DIFC
up to one *additive* constant per group, not up to a factor. The group fit's combination
(:func:`~snapcal_core.recipe.difc_fit.combine_with_previous`) is a factor, so applied alone it
turns a group-common ``c`` into ``c (DIFC_p - DIFC_g) / DIFC_g``: a trend across the group of up to
+-120 ppm in the widest groups of a simulated Lite run whose panels were 1000-2000 ppm off.
Focusing with that table also moves each reflection by the mean of ``c / DIFC_p`` over the
pixels that see it (a different subset of a wide group for each reflection), which showed as
peak scatter (DIFC-fit chi2 8-14 in group 6) and, with TZERO, a TZERO 3-4 sigma off.

So before the final fit, a provisional fit of the focused group measures ``c``, ``t_0`` and ``a``
(:func:`shift_from_fit`) and every pixel of the group is shifted by them (:func:`shift_table`);
the group is then focused again and fitted, and that fit is combined as SCIENCE.md says (it is
then a change of a few ppm). docs/decisions/0005-group-alignment-and-held-tails.md has the figures.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from pydantic import BaseModel, Field

from snapcal_core.io.diffcal import DiffCalTable
from snapcal_core.recipe.difc_fit import DifcFit, DifcOutcome


class GroupShift(BaseModel):
    """Group-common change added to every pixel of a group before its final focusing."""

    difc_us_per_angstrom: float = Field(0.0, description="Added to each pixel's DIFC (us/angstrom)")
    tzero_us: float = Field(0.0, description="Added to each pixel's TZERO (us)")
    difa_us_per_angstrom2: float = Field(0.0, description="Added to each pixel's DIFA (us/angstrom^2)")


def shift_from_fit(*, fit: DifcFit, difc_arb: float, difc_harmonic: float) -> GroupShift:
    r"""The group-common additive constants measured by a fit of the group focused to ``DIFC_arb d``.

    A pixel whose TOF is off by :math:`\Delta T(d) = c d + t_0 + a d^2` is focused to
    :math:`x = \mathrm{DIFC_{arb}} (d + \Delta T / \mathrm{DIFC}_p)`, so the focused peaks are off
    by :math:`(\mathrm{DIFC_{arb}} / H) \Delta T(d)` with :math:`H = 1/\langle 1/\mathrm{DIFC}_p\rangle`
    (count-weighted harmonic mean). The fit ``x = DIFA_pd d^2 + DIFC_pd d + T_pd`` thus gives

    .. math:: c = \frac{H}{\mathrm{DIFC_{arb}}} (\mathrm{DIFC}_{pd} - \mathrm{DIFC_{arb}}),\quad
              t_0 = \frac{H}{\mathrm{DIFC_{arb}}} T_{pd},\quad a = \frac{H}{\mathrm{DIFC_{arb}}} \mathrm{DIFA}_{pd}

    A fit that was not accepted shifts nothing.
    """
    if fit.outcome is not DifcOutcome.ACCEPTED or not np.isfinite(difc_harmonic):
        return GroupShift()
    k = difc_harmonic / difc_arb
    return GroupShift(difc_us_per_angstrom=k * (fit.difc - difc_arb), tzero_us=k * fit.tzero,
                      difa_us_per_angstrom2=k * fit.difa)


def shift_table(table: DiffCalTable, *, group_of_pixel: np.ndarray, shifts: Mapping[int, GroupShift]) -> DiffCalTable:
    """A copy of ``table`` with each group's shift added to its pixels' DIFC, TZERO and DIFA."""
    difc, tzero, difa = table.difc.copy(), table.tzero.copy(), table.difa.copy()
    for g, s in shifts.items():
        sel = group_of_pixel == g
        difc[sel] += s.difc_us_per_angstrom
        tzero[sel] += s.tzero_us
        difa[sel] += s.difa_us_per_angstrom2
    return DiffCalTable(detid=table.detid, difc=difc, difa=difa, tzero=tzero, group=table.group, use=table.use,
                        instrument_name=table.instrument_name, instrument_source=table.instrument_source)
