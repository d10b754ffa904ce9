"""``snapcal samples list|show NAME``: calibrant samples in the samples home and their reflections."""

from __future__ import annotations

import typer

from snapcal_core.calibrant.samples import calibrant_reflections, load_sample, read_sample_file, sample_files
from snapcal_core.cli._common import console, print_json, print_table
from snapcal_core.errors import CalibrantError

samples_app = typer.Typer(help="Calibrant samples and their reflections.", no_args_is_help=True)


@samples_app.command("list")
def list_samples() -> None:
    """Samples in the samples home (setting calibrant_home)."""
    rows = []
    for name, path in sample_files().items():
        try:
            c = read_sample_file(path)
            cr = c.crystallography
            rows.append([name, c.material.chemical_formula if c.material else "", cr.space_group if cr else "",
                         cr.lattice_parameters[0] if cr else "", c.ncrystal_material or "", str(path)])
        except CalibrantError as exc:
            rows.append([name, "", "", "", "", f"unreadable: {exc}"])
    print_table("calibrant samples", ["name", "formula", "space group", "a (A)", "NCrystal", "file"], rows)


@samples_app.command("show")
def show(
    name: str = typer.Argument(..., help="Sample name, JSON file, or NCrystal material"),
    d_min: float = typer.Option(0.4, "--dmin", help="Smallest d (A)"),
    d_max: float = typer.Option(100.0, "--dmax", help="Largest d (A)"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """A sample's fields and its reflections (hkl, d, |F|^2, multiplicity, relative intensity)."""
    calibrant = load_sample(name)
    refl = calibrant_reflections(calibrant, d_min_angstrom=d_min, d_max_angstrom=d_max)
    top = max((r.powder_intensity for r in refl), default=1.0)
    if json_out:
        print_json({"sample": calibrant.model_dump(mode="json", by_alias=True),
                    "reflections": [{**r.model_dump(mode="json"), "relative_intensity": r.powder_intensity / top}
                                    for r in refl]})
        return
    console.print(calibrant.model_dump_json(by_alias=True, indent=1, exclude_none=True))
    rows = [[" ".join("".join(map(str, h)) for h in r.hkl), r.d_angstrom, r.f2_barn, r.multiplicity,
             r.powder_intensity / top] for r in refl]
    print_table(f"{calibrant.name}: {len(refl)} reflections", ["hkl", "d (A)", "|F|^2 (b)", "m", "F^2 m d^4 (rel)"], rows)


def register(app: typer.Typer) -> None:
    app.add_typer(samples_app, name="samples")
