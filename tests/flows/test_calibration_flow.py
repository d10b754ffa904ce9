"""The calibration flow on a real (test) Prefect server: pause, resume with input, and what is stored."""

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from snapcal_core.io.diffcal import read_diffcal
from snapcal_core.settings import get_settings
from snapcal_core.simulate.run import simulate_run
from snapcal_core.storage.store import list_versions, load_version

pytestmark = [pytest.mark.slow, pytest.mark.prefect]
RUN = 4242


@pytest.fixture(scope="module")
def facility(tmp_path_factory):
    root = tmp_path_factory.mktemp("facility")
    simulate_run(run_number=RUN, ipts=9, sample="diamond", n_events=4_000_000, seed=21,
                 settings=get_settings(data_root=root))
    return root


def _paused_run():
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
            type=FlowRunFilterStateType(any_=[StateType.PAUSED]))))
    return runs[0] if runs else None


def run_with_decisions(params, decisions, *, timeout=240):
    """Run the flow in a thread; answer each pause with the next decision. Returns (state, errors)."""
    from prefect.flow_runs import resume_flow_run

    from flows.calibration import calibration_flow

    box, errors = {}, []
    worker = threading.Thread(target=lambda: box.update(state=calibration_flow(params, return_state=True)))
    worker.start()
    seen_keys = set()
    deadline = time.time() + timeout
    pending = list(decisions)
    while worker.is_alive() and time.time() < deadline:
        run = _paused_run()
        if run is not None and pending and (run.id, run.state.state_details.pause_key) not in seen_keys:
            try:
                resume_flow_run(run.id, run_input=pending.pop(0))
                seen_keys.add((run.id, run.state.state_details.pause_key))
            except RuntimeError as exc:  # rejected by the server's schema validation: still paused
                errors.append(str(exc))
        time.sleep(0.3)
    worker.join(timeout=max(1, deadline - time.time()))
    return box.get("state"), errors


def params(**kw):
    from flows.parameters import CalibrationParameters

    fields = dict(run_number=RUN, sample="diamond", skip_pixel=True, pause_timeout_s=120)
    fields.update(kw)
    return CalibrationParameters(**fields)


def _versions(home):
    sid = "04bd2c53f6bf6754"
    try:
        return [e.version for e in list_versions(home, sid, lite=True)]
    except Exception:
        return []


def test_accept_saves_a_version_with_report_and_plots(env):
    state, errors = run_with_decisions(params(skip_pixel=False), [
        {"decision": "accept", "author": "alice", "comments": "looks good", "applies_to": f">={RUN}", "iteration": 1}])
    assert state is not None and state.is_completed(), state
    saved = state.result()
    loaded = load_version(env / "calibration", "04bd2c53f6bf6754", lite=True, version=saved["version"])
    assert loaded.record.indexEntry.author == "alice" and loaded.record.indexEntry.appliesTo == f">={RUN}"
    assert {"report.md", "focused.png", "strain.png", "focused_and_fits.h5"} <= set(loaded.files)
    assert len(loaded.record.iterations) >= 1 and len(loaded.record.groupMetrics) == 6


def test_iterate_then_accept_the_first_iteration(env):
    state, _ = run_with_decisions(params(), [
        {"decision": "iterate", "author": "bob", "applies_to": f">={RUN}", "iteration": 1, "fit_mode": "difc+tzero"},
        {"decision": "accept", "author": "bob", "applies_to": f">={RUN}", "iteration": 1}])
    assert state.is_completed(), state
    work = next((env / "scratch").glob(f"run_{RUN:06d}/flow_*"))
    first = read_diffcal(work / "iteration_1" / "result" / "diffract_consts.h5")
    second = read_diffcal(work / "iteration_2" / "result" / "diffract_consts.h5")
    stored = load_version(env / "calibration", "04bd2c53f6bf6754", lite=True, version=1).table
    np.testing.assert_array_equal(stored.difc, first.difc)
    assert not np.array_equal(first.tzero, second.tzero)  # the iteration really used the new fit mode
    assert _versions(env / "calibration") == [0, 1]


def test_cancel_saves_nothing_and_removes_scratch(env):
    state, _ = run_with_decisions(params(), [{"decision": "cancel", "author": "carol", "applies_to": ">=1", "iteration": 1}])
    assert state.is_cancelled(), state
    assert _versions(env / "calibration") == []
    assert not list((env / "scratch").glob(f"run_{RUN:06d}/flow_*"))


def test_pause_timeout_ends_the_run_with_nothing_saved(env):
    state, _ = run_with_decisions(params(pause_timeout_s=3), [])
    assert state.is_cancelled() and "timed out" in state.message
    assert _versions(env / "calibration") == []


def test_invalid_input_is_rejected_and_the_flow_keeps_waiting(env):
    state, errors = run_with_decisions(params(), [
        {"decision": "accept", "author": "", "applies_to": f">={RUN}", "iteration": 1},        # schema: empty author
        {"decision": "accept", "author": "dave", "applies_to": ">=abc", "iteration": 1},       # flow: bad appliesTo
        {"decision": "accept", "author": "dave", "applies_to": f">={RUN}", "iteration": 7},    # flow: no iteration 7
        {"decision": "accept", "author": "dave", "applies_to": f"{RUN},>0", "iteration": 1}])
    assert state.is_completed(), state
    assert any("author" in e for e in errors)
    entries = list_versions(env / "calibration", "04bd2c53f6bf6754", lite=True)
    assert [e.version for e in entries] == [0, 1] and entries[1].author == "dave" and entries[1].appliesTo == f"{RUN},>0"


def test_quality_gate_accepts_a_good_run_and_records_why(env):
    state, _ = run_with_decisions(params(skip_pixel=False, approval="gate"), [])
    assert state.is_completed(), state
    record = load_version(env / "calibration", "04bd2c53f6bf6754", lite=True, version=1).record
    assert record.indexEntry.author == "quality-gate"
    assert record.approval["policy"] == "gate" and record.approval["gate"]["passed"] is True
    assert record.approval["gate"]["thresholds"]["max_sigma_over_d"] == 0.012


@pytest.fixture
def sparse_run(env, monkeypatch):
    """A run with far too few events (60 000) in its own facility tree."""
    root = env / "sparse_facility"
    simulate_run(run_number=RUN + 1, ipts=9, sample="diamond", n_events=60_000, seed=4, settings=get_settings(data_root=root))
    monkeypatch.setenv("SNAPCAL_DATA_ROOT", str(root))
    return RUN + 1


def test_quality_gate_holds_a_run_with_too_few_events_for_a_person(env, sparse_run):
    decision = {"decision": "cancel", "author": "erin", "applies_to": ">=1", "iteration": 1}
    state, _ = run_with_decisions(params(run_number=sparse_run, approval="gate"), [decision])
    assert state.is_cancelled() and "cancelled by erin" in state.message  # it waited for a person
    assert _versions(env / "calibration") == []
