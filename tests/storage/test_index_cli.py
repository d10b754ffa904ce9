"""``snapcal index list|show|applies|repair`` on a calibration home."""

import json

import pytest
import typer
from typer.testing import CliRunner

from cli import index as index_cli
from snapcal_core.errors import StorageError
from snapcal_core.storage.index import read_index, write_index
from snapcal_core.storage.paths import diffraction_dir
from snapcal_core.storage.store import save_calibration
from tests.storage._helpers import SID, request, small_table


@pytest.fixture
def cli(home, monkeypatch):
    monkeypatch.setenv("SNAPCAL_CALIBRATION_HOME", str(home))
    monkeypatch.setenv("SNAPCAL_CONFIG", str(home.parent / "absent.toml"))
    app = typer.Typer()
    app.add_typer(index_cli.index_app, name="index")
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["index", *args], catch_exceptions=True)


def test_list_shows_versions_with_run_applies_to_author_metrics_and_comments(home, cli):
    save_calibration(home, request(comments="from the cli test"), small_table(11))
    out = cli("list")
    assert out.exit_code == 0, out.output
    row = next(line for line in out.output.splitlines() if "from the cli test" in line)
    for text in ("58810", ">=58810", "alice", "1: 7, 0.0020, 12"):
        assert text in row
    assert "warning" not in out.output
    assert "default calibration" in cli("list", "--native").output


def test_show_prints_the_record_and_json(home, cli):
    save_calibration(home, request(), small_table(12))
    out = cli("show", "1")
    assert out.exit_code == 0 and "v_0001 run 58810 by alice" in out.output and "300 pixels" in out.output
    out = cli("show", "1", "--json")
    assert out.exit_code == 0 and json.loads(out.output)["indexEntry"]["author"] == "alice"


def test_applies_names_the_version_for_a_run(home, cli):
    save_calibration(home, request(run=60000), small_table(13))
    assert "run 60001: version 1" in cli("applies", "60001").output
    assert "run 59999: version 0" in cli("applies", "59999").output


def test_list_warns_about_an_unindexed_folder_and_repair_fixes_it(home, cli):
    save_calibration(home, request(), small_table(14))
    directory = diffraction_dir(home, SID, lite=True)
    write_index(directory, read_index(directory)[:-1])
    assert "folders without entry [1]" in cli("list").output
    assert "lite: unindexed v_0001" in cli("repair", "--check").output
    out = cli("repair")
    assert out.exit_code == 0 and "lite: indexed v_0001" in out.output and "native: consistent" in out.output
    assert "warning" not in cli("list").output


def test_list_without_state_lists_the_states_when_there_are_several(home, cli):
    save_calibration(home, request(), small_table(15))
    (home / "Powder" / ("ab" * 8)).mkdir()
    out = cli("list")
    assert out.exit_code == 0, out.output
    assert "2 instrument states" in out.output and "snapcal index list --state STATE_ID" in out.output
    row = next(line for line in out.output.splitlines() if SID in line)
    assert row.split("│")[2:4] == [" 1             ", " 0               "]  # Lite and native versions
    assert cli("list", "--state", SID).exit_code == 0


def test_other_commands_name_the_states_when_the_state_must_be_given(home, cli):
    (home / "Powder" / ("ab" * 8)).mkdir()
    out = cli("show", "1")
    assert isinstance(out.exception, StorageError) and "holds 2 states" in str(out.exception)
    assert f"{SID} (0 Lite, 0 native versions)" in str(out.exception)
    out = cli("list", "--state", "../etc")
    assert isinstance(out.exception, StorageError) and "state id" in str(out.exception)


def test_list_on_an_empty_home_says_there_is_no_calibration_yet(home, cli, monkeypatch):
    monkeypatch.setenv("SNAPCAL_CALIBRATION_HOME", str(home.parent / "not_yet_created"))
    out = cli("list")
    assert out.exit_code == 0 and "no calibration in" in out.output


def test_index_is_registered_in_the_snapcal_app(home, monkeypatch):
    from cli import _register_all, app

    monkeypatch.setenv("SNAPCAL_CALIBRATION_HOME", str(home))
    _register_all()
    out = CliRunner().invoke(app, ["index", "applies", "60000"])
    assert out.exit_code == 0 and "version 0" in out.output
