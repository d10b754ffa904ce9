"""Calibrant-sample models: SNAPRed's CalibrantSample JSON schema (camelCase aliases), plus NCrystal.

A SNAPRed file reads as-is (fields unknown to us are kept, so nothing is lost on a round trip);
snapcal adds one optional field, ``ncrystalMaterial``, an NCrystal cfg string that can stand in
for the ``crystallography`` block.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

_CAMEL = ConfigDict(populate_by_name=True, extra="allow")


class Atom(BaseModel):
    """One site of the asymmetric unit (expanded by the space group's operations)."""

    model_config = _CAMEL
    symbol: str = Field(description="Element (or isotope, e.g. 'D'); a charge suffix such as 'Ce4+' is ignored")
    coordinates: tuple[float, float, float] = Field(description="Fractional coordinates x, y, z")
    site_occupation_factor: float = Field(1.0, gt=0.0, le=1.0, alias="siteOccupationFactor")
    adp: float = Field(0.01, gt=0.0, description="Isotropic displacement Uiso (angstrom^2), the mean-squared displacement")


class Crystallography(BaseModel):
    """Space group, cell and asymmetric unit of a crystalline calibrant."""

    model_config = _CAMEL
    cif_file: str | None = Field(None, alias="cifFile", description="CIF the structure came from (informational)")
    space_group: str = Field(alias="spaceGroup", description="Hermann-Mauguin symbol, e.g. 'F d -3 m' (origin choice 1)")
    lattice_parameters: tuple[float, float, float, float, float, float] = Field(
        alias="latticeParameters", description="a, b, c (angstrom), alpha, beta, gamma (deg)")
    atoms: list[Atom] = Field(min_length=1, description="Asymmetric unit")


class Material(BaseModel):
    """Bulk properties of the sample (not used for peak positions)."""

    model_config = _CAMEL
    packing_fraction: float | None = Field(None, alias="packingFraction")
    mass_density: float | None = Field(None, alias="massDensity", description="g/cm^3")
    chemical_formula: str = Field(alias="chemicalFormula")


class Calibrant(BaseModel):
    """A calibrant sample: SNAPRed's CalibrantSample, plus an optional NCrystal material.

    The reflections come from ``ncrystal_material`` when it is given, else from ``crystallography``.
    """

    model_config = _CAMEL
    name: str
    unique_id: str = "000"
    date: str | None = None
    geometry: dict[str, Any] | None = None
    material: Material | None = None
    crystallography: Crystallography | None = None
    ncrystal_material: str | None = Field(None, alias="ncrystalMaterial",
                                          description="NCrystal cfg string, e.g. 'stdlib::C_sg227_Diamond.ncmat'")
    source: str = Field("", exclude=True, description="File the sample was read from ('NCrystal' for a bare material)")

    @model_validator(mode="after")
    def _has_structure(self) -> Calibrant:
        if self.crystallography is None and self.ncrystal_material is None:
            raise ValueError("needs 'crystallography' or 'ncrystalMaterial'")
        return self


class CalibrantSummary(BaseModel):
    """One line of the samples home listing (a malformed file is listed with its problem)."""

    name: str = Field(description="Sample name to pass to load_sample (file stem, lower case)")
    formula: str = ""
    space_group: str = ""
    a_angstrom: float | None = None
    ncrystal_material: str = ""
    source: Path
    problem: str = Field("", description="Why the file cannot be used (empty when it can)")
