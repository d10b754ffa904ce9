"""Assessing real SNAP data (run 57514, silicon, Lite, Column) that no simulator made."""

import json

import h5py
import pytest
from typer.testing import CliRunner

from snapcal_core.calibrant.samples import calibrant_reflections, load_sample
from snapcal_core.constants import REFERENCE_ARC_DEG, REFERENCE_LIN_M
from snapcal_core.errors import CorruptFileError
from snapcal_core.instrument.groupings import builtin_grouping
from snapcal_core.io.nxprocessed import read_focused_workspace
from snapcal_core.recipe.assess import assess_focused, given_group_parameters


@pytest.fixture(scope="module")
def focused(shared_reference):
    return shared_reference / "focused" / "SNAP_57514_Si_lite_Column_focused.nxs"


def test_workspace_groups_have_snap_column_geometry(focused):
    ws = read_focused_workspace(focused)
    assert list(ws.spectrum_numbers) == [1, 2, 3, 4, 5, 6]
    assert all(len(t) == 3072 for t in ws.two_theta_deg)
    assert 119 < ws.two_theta_deg[0].mean() < 123


def test_all_six_groups_get_four_silicon_peaks_with_published_widths(focused):
    result = assess_focused(focused, reflections=calibrant_reflections(load_sample("silicon")))
    assert [g.group_id for g in result] == [1, 2, 3, 4, 5, 6]
    for g in result:
        assert g.metrics.n_peaks_fitted >= 4, g
        assert 0.002 <= g.metrics.sigma_mean <= 0.012, g.metrics
    # resolution gets worse towards low angles, as published (0.0026 at 121 deg ... 0.0079 at 50-66 deg)
    assert result[0].metrics.sigma_mean < result[5].metrics.sigma_mean


def test_given_column_groups_at_the_runs_state_match_the_files_own_geometry(focused):
    """Run 57514 is in the reference state (its ApplyDiffCal file is under Powder/04bd2c53f6bf6754)."""
    groups = given_group_parameters(arc_deg=REFERENCE_ARC_DEG, lin_m=REFERENCE_LIN_M, wavelength_angstrom=2.1,
                                    grouping=builtin_grouping("Column", lite=True))
    given = assess_focused(focused, reflections=calibrant_reflections(load_sample("silicon")), groups=groups)
    assert all(g.assessed for g in given), [g.reason for g in given]
    assert all(g.metrics.n_peaks_fitted >= 4 for g in given)
    ws = read_focused_workspace(focused)
    for g, two_theta in zip(given, ws.two_theta_deg):
        assert abs(g.metrics.two_theta_deg - two_theta.mean()) < 0.5


def test_assess_cli_json(focused):
    from cli import _register_all, app

    _register_all()
    out = CliRunner().invoke(app, ["assess", str(focused), "--sample", "silicon", "--json"])
    assert out.exit_code == 0, out.output
    groups = json.loads(out.output[out.output.index("["):])
    assert len(groups) == 6 and {"sigma_mean", "strain_mean", "relative_strain_ppm_mean", "peaks"} <= set(groups[0])
    assert [g["outcome"] for g in groups] == ["assessed"] * 6


def test_not_a_workspace_names_file_and_dataset(tmp_path):
    path = tmp_path / "x.nxs"
    with h5py.File(path, "w") as f:
        f.create_group("mantid_workspace_1")
    with pytest.raises(CorruptFileError, match="x.nxs.*mantid_workspace_1/workspace"):
        read_focused_workspace(path)
