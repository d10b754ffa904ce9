"""Calibrant samples: SNAPRed-compatible JSON files in a samples home, or NCrystal materials.

Anywhere a sample is named, the name may be a file stem in the samples home (setting
``calibrant_home``, case-insensitive), a path to a JSON file, or an NCrystal material such as
``stdlib::C_sg227_Diamond.ncmat`` (cfg parameters allowed: ``...ncmat;temp=100K``).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from snapcal_core.calibrant.models import Atom, Calibrant, CalibrantSummary, Crystallography, Material
from snapcal_core.calibrant.reflections import Reflection, reflections
from snapcal_core.calibrant.structure import DEFAULT_TEMPERATURE_K, registered_material
from snapcal_core.errors import CalibrantError
from snapcal_core.settings import SnapcalSettings, get_settings

__all__ = [
    "Atom", "Calibrant", "CalibrantSummary", "Crystallography", "DEFAULT_TEMPERATURE_K", "Material",
    "calibrant_material", "calibrant_reflections", "is_ncrystal_material", "list_samples", "load_sample",
    "read_sample_file", "sample_files",
]


def is_ncrystal_material(spec: str) -> bool:
    """Whether a sample name is an NCrystal cfg string (``stdlib::X.ncmat``, ``X.ncmat;temp=...``)."""
    head = spec.split(";", 1)[0].strip()
    return "::" in head or head.endswith(".ncmat")


def calibrant_material(calibrant: Calibrant) -> str:
    """NCrystal material (cfg string) of a calibrant: its own, else one composed from its crystallography."""
    if calibrant.ncrystal_material:
        return calibrant.ncrystal_material
    try:
        if calibrant.crystallography is None:  # ncrystalMaterial "" passes the model's check
            raise CalibrantError("needs 'crystallography' or 'ncrystalMaterial'")
        return registered_material(calibrant.crystallography)
    except CalibrantError as exc:
        raise CalibrantError(f"sample '{calibrant.name}' ({calibrant.source or 'in memory'}): {exc}") from exc


def calibrant_reflections(
    calibrant: Calibrant, *, d_min_angstrom: float = 0.4, d_max_angstrom: float = 100.0
) -> tuple[Reflection, ...]:
    """Reflections of a calibrant (NCrystal), merged by d, in ``[d_min, d_max]``, by decreasing d.

    Cached: the composed material is registered once per structure and :func:`reflections`
    keeps the last results per (material, d range).
    """
    material = calibrant_material(calibrant)
    try:
        return reflections(material, d_min_angstrom=d_min_angstrom, d_max_angstrom=d_max_angstrom)
    except CalibrantError as exc:
        raise CalibrantError(f"sample '{calibrant.name}' ({calibrant.source or 'in memory'}): {exc}") from exc


def _field_problems(exc: ValidationError) -> str:
    """``field 'crystallography.latticeParameters': Field required; ...`` (SNAPRed's names)."""
    return "; ".join(f"field '{'.'.join(str(p) for p in e['loc']) or '(root)'}': {e['msg']}" for e in exc.errors())


def read_sample_file(path: Path | str) -> Calibrant:
    """Read a SNAPRed-compatible sample JSON; :class:`CalibrantError` names the file and the field."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise CalibrantError(f"cannot read calibrant sample {path}: {exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CalibrantError(f"calibrant sample {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CalibrantError(f"calibrant sample {path} is malformed: expected a JSON object, got {type(data).__name__}")
    try:
        return Calibrant.model_validate({**data, "source": str(path)})
    except ValidationError as exc:
        raise CalibrantError(f"calibrant sample {path} is malformed: {_field_problems(exc)}") from None


def _home(settings: SnapcalSettings | None) -> Path:
    return Path((settings or get_settings()).calibrant_home)


def sample_files(settings: SnapcalSettings | None = None) -> dict[str, Path]:
    """Sample name (file stem, lower case) -> file, for every ``*.json`` in the samples home."""
    return {p.stem.lower(): p for p in sorted(_home(settings).glob("*.json"), key=lambda p: p.stem.lower())}


def _summary(name: str, path: Path) -> CalibrantSummary:
    try:
        c = read_sample_file(path)
    except CalibrantError as exc:
        return CalibrantSummary(name=name, source=path, problem=str(exc))
    cr = c.crystallography
    return CalibrantSummary(
        name=name, formula=c.material.chemical_formula if c.material else "", space_group=cr.space_group if cr else "",
        a_angstrom=cr.lattice_parameters[0] if cr else None, ncrystal_material=c.ncrystal_material or "", source=path,
    )


def list_samples(settings: SnapcalSettings | None = None) -> list[CalibrantSummary]:
    """Every sample in the samples home, by name; a malformed file is listed with its ``problem``."""
    return [_summary(name, path) for name, path in sample_files(settings).items()]


def load_sample(name_or_path: str | Path, settings: SnapcalSettings | None = None) -> Calibrant:
    """A sample by name (samples home), by JSON path, or an NCrystal material (``stdlib::...``, ``*.ncmat``)."""
    spec = str(name_or_path).strip()
    if is_ncrystal_material(spec):
        return Calibrant(name=spec, ncrystal_material=spec, source="NCrystal")
    path = Path(spec).expanduser()
    if isinstance(name_or_path, Path) or path.suffix.lower() == ".json" or path.is_file():
        return read_sample_file(path)
    files = sample_files(settings)
    if spec.lower() not in files:
        known = ", ".join(files) or "none"
        raise CalibrantError(f"unknown calibrant sample '{spec}' (samples home {_home(settings)} has: {known}; "
                             "or give a JSON path or an NCrystal material such as stdlib::Si_sg227.ncmat)")
    return read_sample_file(files[spec.lower()])
