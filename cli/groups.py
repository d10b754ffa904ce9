"""``snapcal groups``: per-group geometry and resolution of a grouping."""

from __future__ import annotations

import typer

from cli.display import print_json, print_table
from snapcal_core.constants import REFERENCE_ARC_DEG, REFERENCE_LIN_M, REFERENCE_WAVELENGTH_ANGSTROM
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.instrument.groupings import load_grouping
from snapcal_core.instrument.parameters import group_parameters
from snapcal_core.io.diffcal import read_mask


def groups(
    grouping: str = typer.Option("Column", "--grouping", help="Column|Bank|All|FILE"),
    lite: bool = typer.Option(False, "--lite", help="Lite mode (18,432 superpixels)"),
    arc: tuple[float, float] = typer.Option(REFERENCE_ARC_DEG, "--arc", help="det_arc1 det_arc2 (deg)"),
    lin: tuple[float, float] = typer.Option(REFERENCE_LIN_M, "--lin", help="det_lin1 det_lin2 (m)"),
    wavelength: float = typer.Option(REFERENCE_WAVELENGTH_ANGSTROM, "--wavelength", help="Central wavelength (A)"),
    mask: str = typer.Option("", "--mask", help="Diffcal table whose use = 0 rows are masked pixels"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Pixels, two-theta, L2, dd/d, d range and geometric DIFC of every group, as SNAPRed computes them.

    Masked pixels are left out; two-theta and L2 are sin(theta)-weighted means; dd/d is Mantid's
    EstimateResolutionDiffraction of the group; "d range" is SNAPRed's, "peaks in" the part of it
    that every pixel reaches (where calibration peaks are taken).
    """
    grp = load_grouping(grouping, lite=lite)
    masked = read_mask(mask, n_pixels=grp.n_pixels) if mask else None
    params = group_parameters(geometry=snap_geometry(arc_deg=arc, lin_m=lin, lite=grp.lite), grouping=grp,
                              wavelength_angstrom=wavelength, mask=masked)
    if json_out:
        print_json([p.model_dump(mode="json") for p in params])
        return
    rows = [[p.group_id, p.n_pixels, p.n_masked, f"{p.two_theta_deg:.3f}", f"{p.l2_m:.5f}", f"{p.delta_d_over_d:.5f}",
             f"{p.d_min_angstrom:.4f} - {p.d_max_angstrom:.4f}", "{:.4f} - {:.4f}".format(*p.peak_d_range_angstrom),
             f"{p.difc_us_per_angstrom:.2f}"] for p in params]
    columns = ["group", "pixels", "masked", "2theta (deg)", "L2 (m)", "dd/d", "d range (A)", "peaks in (A)",
               "DIFC (us/A)"]
    print_table(f"{grp.name} grouping ({'Lite' if grp.lite else 'native'}), arc {arc}, lin {lin}", columns, rows)
