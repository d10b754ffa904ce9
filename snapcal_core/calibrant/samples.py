"""Calibrant samples: SNAPRed-compatible JSON files in a samples home, or NCrystal materials.

A SNAPRed sample gives space group, lattice and the asymmetric unit; the full structure and its
reflections (with neutron scattering lengths) come from NCrystal, which expands the atoms with
the space group's symmetry (through gemmi/spglib, as NCrystal's own CIF import does).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import warnings
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from snapcal_core.calibrant.reflections import Reflection, reflections
from snapcal_core.errors import CalibrantError
from snapcal_core.settings import SnapcalSettings, get_settings

_CAMEL = ConfigDict(populate_by_name=True, extra="allow")
DEFAULT_TEMPERATURE_K = 293.15


class Atom(BaseModel):
    model_config = _CAMEL
    symbol: str
    coordinates: tuple[float, float, float]
    site_occupation_factor: float = Field(1.0, alias="siteOccupationFactor")
    adp: float = Field(0.01, description="Isotropic displacement Uiso (angstrom^2)")


class Crystallography(BaseModel):
    model_config = _CAMEL
    cif_file: str | None = Field(None, alias="cifFile")
    space_group: str = Field(alias="spaceGroup", description="Hermann-Mauguin symbol, e.g. 'F d -3 m'")
    lattice_parameters: tuple[float, float, float, float, float, float] = Field(alias="latticeParameters")
    atoms: list[Atom] = Field(min_length=1)


class Material(BaseModel):
    model_config = _CAMEL
    packing_fraction: float | None = Field(None, alias="packingFraction")
    mass_density: float | None = Field(None, alias="massDensity")
    chemical_formula: str = Field(alias="chemicalFormula")


class Calibrant(BaseModel):
    """A calibrant sample (SNAPRed's CalibrantSample schema, plus an optional NCrystal material)."""

    model_config = _CAMEL
    name: str
    unique_id: str = Field("000", alias="unique_id")
    date: str | None = None
    geometry: dict | None = None
    material: Material | None = None
    crystallography: Crystallography | None = None
    ncrystal_material: str | None = Field(None, alias="ncrystalMaterial")
    source: str = Field("", exclude=True, description="File the sample was read from")

    @model_validator(mode="after")
    def _has_structure(self) -> "Calibrant":
        if self.crystallography is None and self.ncrystal_material is None:
            raise ValueError("needs 'crystallography' or 'ncrystalMaterial'")
        return self


def _cif_text(c: Crystallography) -> str:
    import gemmi

    symbol = c.space_group.strip()
    if ":" not in symbol and gemmi.find_spacegroup_by_name(symbol + ":1") is not None:
        symbol += ":1"  # two origin choices: SNAPRed files place atoms as in origin choice 1 (Si at 0,0,0)
    a, b, cc, al, be, ga = c.lattice_parameters
    rows = "\n".join(f"{t.symbol}{i} {t.symbol} {t.coordinates[0]} {t.coordinates[1]} {t.coordinates[2]} "
                     f"{t.site_occupation_factor} {t.adp}" for i, t in enumerate(c.atoms))
    return (f"data_snapcal\n_symmetry_space_group_name_H-M '{symbol}'\n_space_group_name_H-M_alt '{symbol}'\n_cell_length_a {a}\n_cell_length_b {b}\n"
            f"_cell_length_c {cc}\n_cell_angle_alpha {al}\n_cell_angle_beta {be}\n_cell_angle_gamma {ga}\nloop_\n"
            "_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n"
            f"_atom_site_occupancy\n_atom_site_U_iso_or_equiv\n{rows}\n")


@lru_cache(maxsize=16)
def _register_structure(cif: str) -> str:
    """Compose an NCMAT from CIF text with NCrystal and register it in memory; returns its name."""
    from NCrystal.ncmat import NCMATComposer

    name = f"snapcal_{hashlib.sha256(cif.encode()).hexdigest()[:16]}.ncmat"
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        composer = NCMATComposer.from_cif(cif, uiso_temperature=DEFAULT_TEMPERATURE_K)
        composer.set_default_temperature(DEFAULT_TEMPERATURE_K)
        composer.register_as(name)
    return name


def calibrant_material(calibrant: Calibrant) -> str:
    """NCrystal material (cfg string) of a calibrant: its own, or one composed from its structure."""
    if calibrant.ncrystal_material:
        return calibrant.ncrystal_material
    try:
        return _register_structure(_cif_text(calibrant.crystallography))
    except Exception as exc:
        raise CalibrantError(f"sample '{calibrant.name}' ({calibrant.source or 'in memory'}): NCrystal cannot build "
                             f"its structure from crystallography: {exc}") from exc


def calibrant_reflections(calibrant: Calibrant, *, d_min_angstrom: float = 0.4, d_max_angstrom: float = 100.0) -> tuple[Reflection, ...]:
    """Reflections of a calibrant (NCrystal), merged by d, in ``[d_min, d_max]``."""
    material = calibrant_material(calibrant)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # NCrystal's notes on composed structures (origin choice given explicitly)
        return reflections(material, d_min_angstrom=d_min_angstrom, d_max_angstrom=d_max_angstrom)


def read_sample_file(path: Path) -> Calibrant:
    """Read a SNAPRed-compatible sample JSON; :class:`CalibrantError` names the file and the field."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise CalibrantError(f"cannot read calibrant sample {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise CalibrantError(f"calibrant sample {path} is not valid JSON: {exc}") from exc
    try:
        return Calibrant.model_validate({**data, "source": str(path)})
    except ValidationError as exc:
        problems = "; ".join(f"field '{'.'.join(str(p) for p in e['loc']) or '(root)'}': {e['msg']}" for e in exc.errors())
        raise CalibrantError(f"calibrant sample {path} is malformed: {problems}") from None


def sample_files(settings: SnapcalSettings | None = None) -> dict[str, Path]:
    """Sample name (file stem, lower case) -> file, in the samples home."""
    home = Path((settings or get_settings()).calibrant_home)
    return {p.stem.lower(): p for p in sorted(home.glob("*.json"))}


def load_sample(name_or_path: str | Path, settings: SnapcalSettings | None = None) -> Calibrant:
    """A sample by name (samples home), by JSON path, or an NCrystal material (``stdlib::...``, ``*.ncmat``)."""
    spec = str(name_or_path)
    if spec.startswith("stdlib::") or spec.endswith(".ncmat"):
        return Calibrant(name=spec, ncrystal_material=spec, source="NCrystal")
    path = Path(spec)
    if path.suffix == ".json" or path.exists():
        return read_sample_file(path)
    files = sample_files(settings)
    if spec.lower() not in files:
        known = ", ".join(files) or "none"
        raise CalibrantError(f"unknown calibrant sample '{spec}' (samples home {(settings or get_settings()).calibrant_home}: {known})")
    return read_sample_file(files[spec.lower()])
