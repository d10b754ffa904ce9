"""``snapcal inspect RUN``: IPTS, file, state and events per Column group, as JSON and as a table."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cli import _register_all, app
from snapcal_core.constants import REFERENCE_STATE_ID
from snapcal_core.data.load import load_run
from snapcal_core.data.locate import raw_file_path
from snapcal_core.instrument.groupings import builtin_grouping
from tests.data.sns_layout import write_sns_file


@pytest.fixture(scope="module", autouse=True)
def _commands_registered() -> None:
    _register_all()  # idempotent


def _inspect(*args: str):
    return CliRunner().invoke(app, ["inspect", *args])


@pytest.mark.parametrize("lite", [False, True])
def test_json_has_ipts_state_and_column_group_counts(facility, lite):
    result = _inspect("101", "--json", *(["--lite"] if lite else []))
    assert result.exit_code == 0, result.output
    s = json.loads(result.output)
    events = load_run(101, lite=lite)
    column = builtin_grouping("Column", lite=lite)
    expected = np.bincount(column.group_of_pixel[events.pixel], minlength=7)
    assert (s["ipts"], s["run_number"], s["state_id"], s["lite"]) == (7, 101, REFERENCE_STATE_ID, lite)
    assert s["file"].endswith("IPTS-7/nexus/SNAP_101.nxs.h5")
    assert s["state"]["arc_deg"] == [-65.3, 104.95] and s["state"]["guide"] == 1
    assert s["events_in_file"] == 5000 and s["events_in_band"] == events.n_events
    assert s["events_per_group"] == {str(g): int(expected[g]) for g in range(1, 7)}
    assert sum(s["events_per_group"].values()) == s["events_in_band"]


def test_table_output_names_the_state_and_groups(facility):
    result = _inspect("101")
    assert result.exit_code == 0, result.output
    assert "IPTS-7" in result.output and REFERENCE_STATE_ID in result.output
    assert "5,000 in the file" in result.output and "Column" in result.output


def test_write_lite_then_lite_inspect_reads_the_copy(facility):
    assert _inspect("101", "--lite", "--write-lite", "--json").exit_code == 0
    s = json.loads(_inspect("101", "--lite", "--json").output)
    assert s["file"].endswith("shared/lite/SNAP_101.lite.nxs.h5") and s["events_in_file"] == s["events_in_band"]


def test_unknown_run_is_a_snapcal_error(facility):
    result = _inspect("999")
    assert result.exit_code != 0 and "run 999" in str(result.exception)


def test_inspect_of_an_sns_layout_file_shows_what_is_not_used(settings_env):
    root = settings_env / "data_root"
    write_sns_file(raw_file_path(root, ipts=7, run_number=101))
    s = json.loads(_inspect("101", "--json").output)
    events = load_run(101, lite=False)
    assert s["events_in_file"] == events.metadata.n_events_in_file and s["events_in_band"] == events.n_events
    assert (s["events_out_of_range"], s["error_events"], s["unmapped_events"]) == (7, 7, 4)
    assert s["missing_banks"] == ["bank42_events"] and s["empty_banks"] == ["bank23_events", "bank51_events"]
    assert len(s["banks"]) == 17 and sum(s["events_per_group"].values()) == s["events_in_band"]
    table = _inspect("101")
    assert table.exit_code == 0, table.output
    assert "7 with ids beyond the instrument, 7 error events, 4 unmapped events" in table.output
    assert "15 with events; missing: bank42_events; empty: bank23_events, bank51_events" in table.output
