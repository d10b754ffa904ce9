"""``snapcal samples list|show NAME``: calibrant samples in the samples home and their reflections."""

from __future__ import annotations

import typer

from cli.display import console, print_json, print_table
from snapcal_core.calibrant.reflections import Reflection
from snapcal_core.calibrant.samples import calibrant_reflections, list_samples, load_sample

samples_app = typer.Typer(help="Calibrant samples and their reflections.", no_args_is_help=True)


@samples_app.command("list")
def list_command(json_out: bool = typer.Option(False, "--json", help="Print JSON")) -> None:
    """Samples in the samples home (setting calibrant_home); unreadable files are listed with the reason."""
    summaries = list_samples()
    if json_out:
        print_json([s.model_dump(mode="json") for s in summaries])
        return
    rows = [[s.name, s.formula, s.space_group, "" if s.a_angstrom is None else s.a_angstrom, s.ncrystal_material,
             str(s.source) + (f"  (unusable: {s.problem})" if s.problem else "")] for s in summaries]
    print_table(f"calibrant samples ({len(rows)})", ["name", "formula", "space group", "a (A)", "NCrystal", "file"], rows)


def _hkl(r: Reflection) -> str:
    return " ".join("".join(str(v) for v in h) for h in r.hkl)


@samples_app.command("show")
def show_command(
    name: str = typer.Argument(..., help="Sample name, JSON file, or NCrystal material (stdlib::...)"),
    d_min: float = typer.Option(0.4, "--dmin", help="Smallest d (A)"),
    d_max: float = typer.Option(100.0, "--dmax", help="Largest d (A)"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """A sample's fields and its reflections (hkl, d, |F|^2, multiplicity, relative F^2 m d^4)."""
    calibrant = load_sample(name)
    refl = calibrant_reflections(calibrant, d_min_angstrom=d_min, d_max_angstrom=d_max)
    top = max((r.powder_intensity for r in refl), default=1.0)
    if json_out:
        print_json({"sample": calibrant.model_dump(mode="json", by_alias=True), "source": calibrant.source,
                    "reflections": [{**r.model_dump(mode="json"), "relative_intensity": r.powder_intensity / top}
                                    for r in refl]})
        return
    console.print(f"[bold]{calibrant.name}[/bold] from {calibrant.source or 'memory'}")
    console.print(calibrant.model_dump_json(by_alias=True, indent=1, exclude_none=True))
    rows = [[_hkl(r), r.d_angstrom, r.f2_barn, r.multiplicity, r.powder_intensity / top] for r in refl]
    print_table(f"{calibrant.name}: {len(refl)} reflections in [{d_min:g}, {d_max:g}] A",
                ["hkl", "d (A)", "|F|^2 (barn)", "multiplicity", "F^2 m d^4 (rel)"], rows)
