"""What the commands check before any event is read (snapcal_core/preflight.py), the author rule the
store, CLI and forms share, and Prefect's state under the snapcal home for every command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from snapcal_core.constants import REFERENCE_STATE_ID
from snapcal_core.errors import CalibrantError, GroupingError, InvalidOptionsError, MaskFileError, RunNotFoundError
from snapcal_core.preflight import check_calibration
from snapcal_core.settings import get_settings, prefect_environment, use_prefect_environment
from snapcal_core.simulate.run import simulate_run
from snapcal_core.storage.models import check_author
from snapcal_core.storage.paths import MAX_AUTHOR_CHARS

RUN = 61
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def facility(tmp_path_factory):
    root = tmp_path_factory.mktemp("facility")
    simulate_run(run_number=RUN, ipts=2, sample="silicon", n_events=20_000, seed=1, settings=get_settings(data_root=root))
    return root


@pytest.fixture
def settings(facility, tmp_path):
    return get_settings(data_root=facility, calibration_home=tmp_path / "calibration")


def test_a_good_request_names_its_file_and_a_new_state(settings):
    found = check_calibration(run_number=RUN, sample="silicon", settings=settings)
    assert Path(found.event_file).name == f"SNAP_{RUN}.nxs.h5" and found.ipts == 2
    assert found.state_id == REFERENCE_STATE_ID and found.new_state
    assert found.announcement() == f"new instrument state {REFERENCE_STATE_ID} (first calibration of this state)"
    (settings.calibration_home / "Powder" / REFERENCE_STATE_ID).mkdir(parents=True)
    again = check_calibration(run_number=RUN, sample="silicon", settings=settings)
    assert not again.new_state and again.announcement() is None


@pytest.mark.parametrize(("inputs", "error", "names"), [
    ({"sample": "unobtainium"}, CalibrantError, "unobtainium"),
    ({"grouping": "Rows"}, GroupingError, "Rows"),
    ({"mask_file": "absent_mask.h5"}, MaskFileError, "absent_mask.h5"),
    ({"author": "eve\nroot"}, InvalidOptionsError, "one line"),
])
def test_each_bad_input_is_its_typed_error_naming_it(settings, inputs, error, names):
    with pytest.raises(error, match=names):
        check_calibration(run_number=RUN, **{"sample": "silicon", **inputs}, settings=settings)


def test_a_run_whose_raw_file_is_gone_is_named(settings):
    (settings.data_root / "SNAP" / "IPTS-2" / "shared" / "lite").mkdir(parents=True, exist_ok=True)
    lite_only = settings.data_root / "SNAP" / "IPTS-2" / "shared" / "lite" / "SNAP_62.lite.nxs.h5"
    lite_only.write_bytes(b"")
    try:
        with pytest.raises(RunNotFoundError, match="run 62: raw file .*SNAP_62.nxs.h5 does not exist"):
            check_calibration(run_number=62, sample="silicon", lite=False, settings=settings)
    finally:
        lite_only.unlink()


def test_the_flows_resolve_step_resolves_the_run_once_and_knows_a_new_state(facility, tmp_path):
    from snapcal_core.pipeline import CalibrationRequest, resolve_run

    settings = get_settings(data_root=facility, calibration_home=tmp_path / "calibration")
    ref = resolve_run(CalibrationRequest(run_number=RUN, sample="silicon"), settings)
    assert (ref.run_number, ref.state_id, ref.new_state) == (RUN, REFERENCE_STATE_ID, True)
    assert ref.event_file.endswith(f"SNAP_{RUN}.nxs.h5") and ref.state.state_id() == ref.state_id
    with pytest.raises(InvalidOptionsError, match="line break"):  # the author too, before any event is read
        resolve_run(CalibrationRequest(run_number=RUN, sample="silicon"), settings, author="eve\nroot")


@pytest.mark.parametrize(("author", "problem"), [
    ("", "must not be blank"), ("  \n", "must not be blank"), ("eve\nroot", "a line break at character 4"),
    ("tab\there", "control character"), ("x" * (MAX_AUTHOR_CHARS + 1), f"at most {MAX_AUTHOR_CHARS}"),
])
def test_an_author_is_one_line_of_limited_length(author, problem):
    with pytest.raises(InvalidOptionsError, match=problem):
        check_author(author)
    assert check_author("  Ada Lovelace \n") == "Ada Lovelace"


def test_prefect_state_goes_under_the_snapcal_home_unless_prefect_home_is_set(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SNAPCAL_PREFECT_HOME", raising=False)
    monkeypatch.setenv("SNAPCAL_CONFIG", str(tmp_path / "absent.toml"))
    assert prefect_environment()["PREFECT_HOME"] == str(tmp_path / "var" / "prefect")
    monkeypatch.setenv("PREFECT_HOME", "/elsewhere")
    assert "PREFECT_HOME" not in use_prefect_environment() and os.environ["PREFECT_HOME"] == "/elsewhere"


def test_every_command_sets_prefect_home_and_database_before_prefect_is_imported(tmp_path):
    script = ("import os, sys\nfrom cli import run\nassert run(['config', '--json']) == 0\n"
              "print('prefect' in sys.modules)\nfrom prefect.settings import get_current_settings\n"
              "print(get_current_settings().server.database.connection_url.get_secret_value())\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SNAPCAL_"))}
    env.update(SNAPCAL_CONFIG=str(tmp_path / "absent.toml"), PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    imported, database = done.stdout.strip().splitlines()[-2:]
    assert imported == "False"  # config never imports Prefect
    assert database == f"sqlite+aiosqlite:///{tmp_path / 'var' / 'prefect' / 'prefect.db'}"
