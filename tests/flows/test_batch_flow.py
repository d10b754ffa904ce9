"""The batch flow: runs x groupings side by side; on a Dask LocalCluster the tables are the same as
with the default thread pool, and the approval policy decides what is saved."""

from pathlib import Path

import h5py
import numpy as np
import pytest

from snapcal_core.io.diffcal import read_diffcal
from snapcal_core.settings import get_settings
from snapcal_core.simulate.run import simulate_run
from snapcal_core.storage.store import list_versions, load_version

pytestmark = [pytest.mark.slow, pytest.mark.prefect]
RUNS = (6101, 6102)
STATE_ID = "04bd2c53f6bf6754"


@pytest.fixture(scope="module")
def facility(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch_facility")
    for seed, run in enumerate(RUNS, start=30):
        simulate_run(run_number=run, ipts=9, sample="diamond", n_events=3_000_000, seed=seed,
                     settings=get_settings(data_root=root))
    return root


def _tables(items):
    return {(i.run_number, i.grouping): read_diffcal(Path(i.folder) / "diffract_consts.h5") for i in items}


def test_dask_cluster_gives_the_same_tables_as_threads_and_auto_saves_every_item(env):
    from flows.batch import BatchParameters, batch_flow, dask_batch_flow

    params = BatchParameters(runs=list(RUNS), groupings=["Column", "Bank"], approval="auto", author="batch tester")
    threaded = batch_flow(params)
    assert [i.decision for i in threaded] == ["saved v_0001", "saved v_0002", "saved v_0003", "saved v_0004"]
    entries = list_versions(env / "calibration", STATE_ID, lite=True)
    assert [e.version for e in entries] == [0, 1, 2, 3, 4] and entries[-1].author == "batch tester"

    on_dask = dask_batch_flow(n_workers=2)(params.model_copy(update={"approval": "manual"}))
    assert [i.decision for i in on_dask] == ["for review"] * 4
    assert [e.version for e in list_versions(env / "calibration", STATE_ID, lite=True)] == [0, 1, 2, 3, 4]
    a, b = _tables(threaded), _tables(on_dask)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key].difc, b[key].difc, err_msg=str(key))
        np.testing.assert_array_equal(a[key].use, b[key].use, err_msg=str(key))


def test_per_group_fits_on_a_dask_cluster_save_the_same_table_as_threads(env):
    from flows.calibration import calibration_flow
    from flows.parameters import CalibrationParameters
    from flows.runners import on_dask

    params = CalibrationParameters(run_number=RUNS[0], sample="diamond", approval="auto", auto_author="dask tester")
    threaded = calibration_flow(params)
    on_cluster = on_dask(calibration_flow, n_workers=2)(params)
    assert (threaded["version"], on_cluster["version"]) == (1, 2)
    a, b = (load_version(env / "calibration", STATE_ID, lite=True, version=v).table for v in (1, 2))
    np.testing.assert_array_equal(a.difc, b.difc)
    np.testing.assert_array_equal(a.use, b.use)


def test_single_flow_batch_and_recipe_give_identical_results(env, tmp_path):
    """One recipe path: the interactive flow (file-based task steps), a batch item and ``snapcal
    recipe``'s run_recipe (in memory) run the same steps in the same sequence: identical tables,
    uncertainties and group fits on the same run."""
    from flows.batch import BatchParameters, batch_flow
    from flows.calibration import calibration_flow
    from flows.parameters import CalibrationParameters
    from snapcal_core.pipeline import run_recipe
    from snapcal_core.recipe.result_io import FOCUSED_FILE, read_summary

    single = calibration_flow(CalibrationParameters(run_number=RUNS[0], sample="diamond", approval="auto",
                                                    auto_author="one path"))
    saved = load_version(env / "calibration", STATE_ID, lite=True, version=single["version"])
    # numba threads as the others (a different thread count changes sums in the last bits)
    [item] = batch_flow(BatchParameters(runs=[RUNS[0]], groupings=["Column"], approval="manual",
                                        numba_threads_per_item=None))
    recipe = run_recipe(RUNS[0], sample="diamond", grouping="Column", output=tmp_path / "recipe")
    tables = [saved.table, read_diffcal(Path(item.folder) / "diffract_consts.h5"),
              read_diffcal(Path(recipe.folder) / "diffract_consts.h5")]
    for other in tables[1:]:
        for name in ("difc", "difa", "tzero", "use", "group"):
            np.testing.assert_array_equal(getattr(tables[0], name), getattr(other, name), err_msg=name)
    [flow_result] = (env / "scratch").glob(f"run_{RUNS[0]:06d}/flow_*/iteration_1/result")
    folders = [flow_result, Path(item.folder), Path(recipe.folder)]
    sigma = []
    for folder in folders:
        with h5py.File(folder / FOCUSED_FILE) as f:
            sigma.append(f["pixel/difc_uncertainty"][()])
    for other in sigma[1:]:
        np.testing.assert_array_equal(sigma[0], other)
    fits = [[g.difc_fit.model_dump() for g in read_summary(f).groups] for f in folders]
    assert fits[0] == fits[1] == fits[2]
