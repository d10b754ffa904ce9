"""Crystal structure of a SNAPRed-style calibrant, composed into an NCrystal material.

A SNAPRed sample gives the space group (Hermann-Mauguin symbol), the cell and the asymmetric
unit. The unit cell is filled by applying the space group's symmetry operations (gemmi's tables;
for groups with two origin choices, choice 1, as Mantid's CrystalStructure reads the bare symbol:
Si and C at 8a (0,0,0) in Fd-3m). NCrystal's ``NCMATComposer`` then turns cell, atoms and
displacements into a material, checks it against the space group with spglib, and computes the
reflections with neutron scattering lengths and the Debye-Waller factor.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import gemmi
import numpy as np
from NCrystal.ncmat import NCMATComposer

from snapcal_core.calibrant.models import Atom, Crystallography
from snapcal_core.errors import CalibrantError

#: Temperature at which ``adp`` (Uiso) is taken to hold, and of the composed material.
DEFAULT_TEMPERATURE_K = 293.15
#: Two fractional positions closer than this (per axis, modulo 1) are the same site.
_SAME_SITE_TOL = 1e-4
_ELEMENT = re.compile(r"^([A-Z][a-z]?)")


def space_group(symbol: str) -> gemmi.SpaceGroup:
    """The space group of a Hermann-Mauguin symbol (``'F d -3 m'``, ``'Fd-3m'``, ``'F d -3 m :2'``).

    A bare symbol of a group with two origin choices means origin choice 1.
    """
    sg = gemmi.find_spacegroup_by_name(" ".join(symbol.split()).replace(" :", ":"))
    if sg is None:
        raise CalibrantError(f"unknown space group '{symbol}' (expected a Hermann-Mauguin symbol such as 'F d -3 m')")
    return sg


def orbit(*, sg: gemmi.SpaceGroup, xyz: tuple[float, float, float]) -> np.ndarray:
    r"""All distinct positions in the unit cell equivalent to ``xyz``, shape ``(n, 3)`` in [0, 1).

    .. math:: \{ (R_i \mathbf{x} + \mathbf{t}_i) \bmod 1 \}_i
    over the space group's operations (centring included), duplicates merged periodically.
    """
    points = np.array([sg_op.apply_to_xyz(list(xyz)) for sg_op in sg.operations()]) % 1.0
    points[np.isclose(points, 1.0, atol=_SAME_SITE_TOL)] = 0.0
    kept: list[np.ndarray] = []
    for p in points:
        if not any(np.all(np.abs((p - q + 0.5) % 1.0 - 0.5) < _SAME_SITE_TOL) for q in kept):
            kept.append(p)
    return np.array(kept)


def _element(atom: Atom) -> str:
    match = _ELEMENT.match(atom.symbol.strip())
    if not match:
        raise CalibrantError(f"atom symbol '{atom.symbol}' does not start with an element symbol")
    return match.group(1)


def _labels(atoms: list[Atom]) -> list[str]:
    """One NCrystal label per site: the element when its sites share Uiso and occupancy, else ``<el>_site<i>``."""
    elements = [_element(a) for a in atoms]
    labels = []
    for i, el in enumerate(elements):
        same = [(a.adp, a.site_occupation_factor) for e, a in zip(elements, atoms) if e == el]
        labels.append(el if len(set(same)) == 1 else f"{el}_site{i}")
    return labels


def compose_material(crystallography: Crystallography, *, temperature_k: float = DEFAULT_TEMPERATURE_K) -> NCMATComposer:
    """An NCrystal composer holding the full unit cell, each site's Uiso as its mean-squared displacement.

    NCrystal models each element's vibrations by a Debye spectrum whose mean-squared displacement
    at ``temperature_k`` equals the given Uiso, so the Debye-Waller factor is
    :math:`\\exp(-\\langle u^2 \\rangle q^2)` with :math:`q = 2\\pi/d`.
    """
    c = crystallography
    sg = space_group(c.space_group)
    a, b, cc, alpha, beta, gamma = c.lattice_parameters
    composer = NCMATComposer(quiet=True)
    composer.set_cellsg(a=a, b=b, c=cc, alpha=alpha, beta=beta, gamma=gamma, spacegroup=sg.number)
    labels = _labels(c.atoms)
    positions = []
    for label, atom in zip(labels, c.atoms):
        occupancy = () if atom.site_occupation_factor == 1.0 else (atom.site_occupation_factor,)
        positions += [(label, *map(float, p), *occupancy) for p in orbit(sg=sg, xyz=atom.coordinates)]
    composer.set_atompos(positions)
    for label, atom in dict(zip(labels, c.atoms)).items():
        if label != _element(atom):
            composer.set_composition(label, _element(atom))
        composer.set_dyninfo_msd(label, msd=atom.adp, temperature=temperature_k)
    composer.set_default_temperature(temperature_k)
    composer.verify_crystal_structure(quiet=True)
    return composer


@lru_cache(maxsize=32)
def _register(crystallography_json: str) -> str:
    name = f"snapcal_{hashlib.sha256(crystallography_json.encode()).hexdigest()[:16]}.ncmat"
    compose_material(Crystallography.model_validate_json(crystallography_json)).register_as(name)
    return name


def registered_material(crystallography: Crystallography) -> str:
    """Name of the composed material, registered in NCrystal's in-memory file list (once per structure)."""
    try:
        return _register(crystallography.model_dump_json(by_alias=True))
    except CalibrantError:
        raise
    except Exception as exc:  # NCrystal and spglib raise their own exception types
        raise CalibrantError(f"NCrystal cannot build a crystal from space group '{crystallography.space_group}', "
                             f"lattice {crystallography.lattice_parameters} and {len(crystallography.atoms)} "
                             f"site(s): {exc}") from exc
