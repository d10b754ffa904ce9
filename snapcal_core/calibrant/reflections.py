"""Reflections (d, |F|^2, multiplicity) of a crystalline calibrant, computed by NCrystal.

NCrystal includes the neutron scattering lengths and the Debye-Waller factor at the material's
temperature. Reflections at the same d (e.g. (511) and (333) in diamond) are merged: they are
one peak in a powder pattern.
"""

from __future__ import annotations

from functools import lru_cache

import NCrystal as NC
from pydantic import BaseModel, ConfigDict, Field

from snapcal_core.errors import CalibrantError

#: Relative tolerance for reflections that coincide in d.
_SAME_D_RTOL = 1e-7


class Reflection(BaseModel):
    """One powder reflection family (all symmetry-equivalent planes at one d)."""

    model_config = ConfigDict(frozen=True)

    d_angstrom: float = Field(description="Interplanar spacing")
    f2_barn: float = Field(description="|F|^2 per plane (barn), Debye-Waller included")
    multiplicity: int = Field(description="Number of planes in the family (summed over merged families)")
    hkl: tuple[tuple[int, int, int], ...] = Field(description="Representative (h,k,l) of each merged family, largest first")

    @property
    def powder_intensity(self) -> float:
        """Relative TOF powder intensity ``|F|^2 * m * d^4`` (before the incident spectrum)."""
        return self.f2_barn * self.multiplicity * self.d_angstrom**4


@lru_cache(maxsize=32)
def reflections(material: str, *, d_min_angstrom: float = 0.4, d_max_angstrom: float = 100.0) -> tuple[Reflection, ...]:
    """All reflections of an NCrystal material with ``d_min <= d <= d_max``, by decreasing d.

    ``material`` is an NCrystal cfg string such as ``stdlib::Si_sg227.ncmat`` or a file path.
    """
    try:
        info = NC.createInfo(f"{material};dcutoff={d_min_angstrom:.6g}")
    except Exception as exc:  # NCrystal raises its own exception types
        raise CalibrantError(f"NCrystal cannot load material '{material}': {exc}") from exc
    return reflections_from_info(info, material=material, d_min_angstrom=d_min_angstrom, d_max_angstrom=d_max_angstrom)


def reflections_from_info(
    info: NC.Info, *, material: str, d_min_angstrom: float, d_max_angstrom: float
) -> tuple[Reflection, ...]:
    """Merged reflections of a loaded NCrystal ``Info`` (see :func:`reflections`)."""
    if not info.isCrystalline() or not info.hasHKLInfo():
        raise CalibrantError(f"material '{material}' has no crystal reflections")
    merged: list[Reflection] = []
    for h in sorted(info.hklObjects(), key=lambda h: -h.d):
        if not d_min_angstrom <= h.d <= d_max_angstrom:
            continue
        label = tuple(int(v) for v in h.hkl_label)
        if merged and abs(merged[-1].d_angstrom - h.d) <= _SAME_D_RTOL * h.d:
            prev = merged[-1]
            m = prev.multiplicity + int(h.mult)
            f2 = (prev.f2_barn * prev.multiplicity + h.f2 * h.mult) / m
            merged[-1] = Reflection(d_angstrom=prev.d_angstrom, f2_barn=f2, multiplicity=m,
                                    hkl=tuple(sorted(prev.hkl + (label,), reverse=True)))
        else:
            merged.append(Reflection(d_angstrom=float(h.d), f2_barn=float(h.f2), multiplicity=int(h.mult), hkl=(label,)))
    return tuple(merged)
