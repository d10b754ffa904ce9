import json

import numpy as np
import pytest
from typer.testing import CliRunner

from snapcal_core.recipe.result_io import read_focused, read_summary, read_table
from snapcal_core.simulate.run import simulate_run

pytestmark = pytest.mark.slow


def test_recipe_cli_writes_a_result_folder(settings_env):
    from cli import _register_all, app

    _register_all()
    simulate_run(run_number=77, ipts=3, sample="silicon", n_events=3_000_000, seed=4)
    out_dir = settings_env / "out"
    result = CliRunner().invoke(app, ["recipe", "77", "--sample", "silicon", "--fit", "difc+tzero", "--free-tails",
                                      "--output", str(out_dir), "--json"])
    assert result.exit_code == 0, result.output
    summary = read_summary(out_dir)
    assert json.loads(result.output)["run_number"] == 77 == summary.run_number
    assert summary.settings.fit_mode.value == "difc+tzero" and 1 <= len(summary.iterations) <= 5
    assert [g.group_id for g in summary.groups] == [1, 2, 3, 4, 5, 6]
    assert all(g.metrics.n_peaks_fitted >= 2 for g in summary.groups)
    assert summary.settings.peak_fit.fit_beta and summary.settings.align_groups
    assert all(g.alignment.difc_us_per_angstrom != 0.0 for g in summary.groups)  # recorded in the summary
    table = read_table(out_dir)
    for g in summary.groups:  # the reported TZERO is the new table's
        assert g.tzero_us == pytest.approx(table.tzero[(table.group == g.group_id) & (table.use > 0)].mean())
    group_ids, edges, counts = read_focused(out_dir)
    assert table.n_rows == 18432 and counts.shape == (6, edges.size - 1) and np.all(counts.sum(axis=1) > 0)
