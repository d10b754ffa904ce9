"""The calibration flow on a real (test) Prefect server: pause, resume with input, and what is stored."""

import threading
import time

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


def _form_description(run) -> str | None:
    from prefect.input.actions import read_flow_run_input

    keyset = run.state.state_details.run_input_keyset or {}
    return read_flow_run_input(keyset["description"], flow_run_id=run.id) if "description" in keyset else None


def run_with_decisions(params, decisions, *, timeout=240, forms=None):
    """Run the flow in a thread; answer each pause with the next decision. Returns (state, errors);
    ``forms`` (a list) receives the description shown above each form answered."""
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
            description = _form_description(run) if forms is not None else ""
            if description is None:  # the flow saves the form just after pausing
                time.sleep(0.3)
                continue
            try:
                resume_flow_run(run.id, run_input=pending.pop(0))
                seen_keys.add((run.id, run.state.state_details.pause_key))
                if forms is not None:
                    forms.append(description)
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


def _form_schema(**params_kw):
    from prefect._internal.pydantic.v2_schema import create_v2_schema

    from flows.parameters import Approval, CalibrationParameters

    form = Approval.for_iteration("summary", params=CalibrationParameters(run_number=RUN, **params_kw), iteration=2)
    return form, create_v2_schema("Approval", model_base=form)  # the schema Prefect stores for the UI


def test_the_form_asks_the_decision_fields_first_prefilled_and_required():
    """Prefect's UIs label a field "(Optional)" unless the schema requires it, and show its title."""
    form, schema = _form_schema(fit_mode="difc+tzero")
    fields = list(schema["properties"])
    assert fields[:5] == ["decision", "author", "applies_to", "iteration", "comments"]
    assert schema["required"] == ["decision", "author", "applies_to", "iteration"]
    assert all(p.get("title") for p in schema["properties"].values())
    assert all(schema["properties"][f]["title"].startswith("Iterate: ") for f in fields[5:])
    defaults = {f: schema["properties"][f].get("default") for f in ("decision", "applies_to", "iteration", "fit_mode")}
    assert defaults == {"decision": "accept", "applies_to": f">={RUN}", "iteration": 2, "fit_mode": "difc+tzero"}
    assert "default" not in schema["properties"]["author"] and schema["properties"]["author"]["maxLength"] == 200
    assert schema["properties"]["iteration"]["minimum"] == 1 and schema["properties"]["max_iterations"]["maximum"] == 20


def test_the_form_keeps_the_store_author_rule_and_reports_only_what_changed():
    import pydantic

    form, _ = _form_schema(fit_mode="difc+tzero")
    assert form(author="alice\n").author == "alice"  # Enter in the UI's text box
    for bad in ("al\nice", "  ", "x" * 201):
        with pytest.raises(pydantic.ValidationError, match="author"):
            form(author=bad)
    assert form(author="a").changes() == {}
    assert form(author="a", fit_mode="difc", max_iterations=7).changes() == {"fit_mode": "difc", "max_iterations": 7}


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


def test_a_bad_approval_is_asked_again_and_the_finished_calibration_kept(env):
    """Each bad answer is refused (by the server's schema check, or by the form's rules / the flow, which
    then ask again with the reason above the form); the run never ends Failed."""
    ok = {"decision": "accept", "applies_to": f">={RUN}", "iteration": 1}
    forms: list[str] = []
    state, errors = run_with_decisions(params(), [
        {**ok, "author": "al\nice"},                          # form's rule: one line -> asked again
        {**ok, "author": "x" * 201},                          # schema: too long (stays paused)
        {**ok, "author": "erin", "comments": "c" * 4001},     # schema: comments too long
        {**ok, "author": "erin", "iteration": 0},             # schema: iteration >= 1
        {**ok, "author": "   "},                              # form's rule: blank -> asked again
        {**ok, "author": "erin\n", "comments": "fine"}], forms=forms)
    assert state is not None and state.is_completed(), state
    assert len(errors) == 3 and all("Cannot resume this run" in e for e in errors), errors
    assert [("Rejected" in f, "one line" in f, "blank" in f) for f in forms] == [
        (False, False, False), (True, True, False), (True, False, True)]
    entries = list_versions(env / "calibration", "04bd2c53f6bf6754", lite=True)
    assert [e.version for e in entries] == [0, 1] and entries[1].author == "erin" and entries[1].comments == "fine"


def test_a_foreign_applicable_table_is_reported_and_artifacts_are_keyed_per_run(env):
    """An applicable stored table of another pixel count gets a section saying why no DIFC change is
    shown (it used to vanish); the form shows the short summary and links the full report artifact."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from snapcal_core.io.diffcal import DiffCalTable
    from snapcal_core.models import DetectorState
    from snapcal_core.storage.models import SaveRequest
    from snapcal_core.storage.store import save_calibration

    state = DetectorState(arc_deg=(-65.3, 104.95), lin_m=(0.045, 0.043), wavelength_angstrom=2.1, frequency_hz=60, guide=1)
    assert state.state_id() == "04bd2c53f6bf6754"
    foreign = DiffCalTable.from_difc(np.full(300, 5000.0))
    save_calibration(env / "calibration", SaveRequest(run_number=1, state=state, lite=True, author="old", applies_to=">=1",
                                                      calibrant="diamond", grouping="Column"), foreign)
    forms: list[str] = []
    state_, _ = run_with_decisions(params(), [{"decision": "accept", "author": "fay", "applies_to": f">={RUN}",
                                               "iteration": 1}], forms=forms)
    assert state_.is_completed(), state_
    why = "its table has 300 pixels and this calibration 18432"
    assert f"No DIFC change vs applicable calibration v_0001: {why}" in forms[0]
    assert "| group | peaks | σ/d | strain ppm | gate |" in forms[0] and "![" not in forms[0]
    saved = load_version(env / "calibration", "04bd2c53f6bf6754", lite=True, version=2)
    assert f"DIFC change vs applicable calibration v_0001: **not shown**, {why}" in saved.files["report.md"].read_text()
    flow_run_id = str(state_.state_details.flow_run_id)
    key = f"calibration-report-run-{RUN}-iteration-1-{flow_run_id.replace('-', '')[:8]}"
    with get_client(sync_client=True) as client:
        ours = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(like_=f"%-run-{RUN}-iteration-1-"
                                                                                              f"{key[-8:]}")))
    assert {a.key for a in ours} >= {key, key.replace("-report-", "-plot-focused-"), key.replace("-report-", "-plot-strain-")}
    report = next(a for a in ours if a.key == key)
    assert f"[{key}](../../artifacts/artifact/{report.id})" in forms[0]
    assert report.description == f"Calibration report of run {RUN}, iteration 1" and "![focused](data:image/png" in report.data


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
