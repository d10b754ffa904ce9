"""The served deployment end to end on a real (test) Prefect server: an emitted ``snap.run.acquired``
event starts a flow run with the run templated into its parameters; the run *suspends* for approval
(no process held), is resumed with the decision, re-executes from the top with its recipe tasks
cached, and saves the accepted calibration."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from snapcal_core.settings import get_settings
from snapcal_core.simulate.run import simulate_run
from snapcal_core.storage.store import list_versions, load_version

pytestmark = [pytest.mark.slow, pytest.mark.prefect]
RUN = 5151
STATE_ID = "04bd2c53f6bf6754"
REPO = Path(__file__).resolve().parents[2]


def wait_for(what: str, check, timeout: float, every: float = 0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def site(tmp_path_factory, prefect_harness):
    """A facility with one calibrant run, and ``python -m deployments.serve`` against the test server."""
    from prefect.settings import PREFECT_API_URL

    root = tmp_path_factory.mktemp("site")
    simulate_run(run_number=RUN, ipts=9, sample="diamond", n_events=3_000_000, seed=5,
                 settings=get_settings(data_root=root / "facility"))
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_RUNNER_POLL_FREQUENCY": "1",
           "SNAPCAL_DATA_ROOT": str(root / "facility"), "SNAPCAL_CALIBRATION_HOME": str(root / "calibration"),
           "SNAPCAL_SCRATCH_DIR": str(root / "scratch"), "SNAPCAL_CONFIG": str(root / "absent.toml"),
           "PREFECT_LOGGING_LEVEL": "INFO"}
    log = (root / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "deployments.serve", "--approval", "manual"], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield root, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _versions(root: Path) -> list[int]:
    if not (root / "calibration" / "Powder" / STATE_ID).exists():
        return []
    return [e.version for e in list_versions(root / "calibration", STATE_ID, lite=True) if e.version > 0]


def _deployment_id(client):
    from prefect.exceptions import ObjectNotFound

    try:
        return client.read_deployment_by_name("snap-calibration/snap-calibration").id
    except ObjectNotFound:
        return None


def _runs_of(client, deployment_id):
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    return client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))


def test_acquired_event_starts_a_run_that_suspends_resumes_and_saves(site):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.flow_runs import resume_flow_run

    from flows.events import acquired_payload, emit_acquired

    root, proc = site
    with get_client(sync_client=True) as client:
        dep = wait_for("the served deployment", lambda: _deployment_id(client) if proc.poll() is None else
                       pytest.fail(f"serve exited: {(root / 'serve.log').read_text()[-3000:]}"), 120)
        time.sleep(1.5)  # the server refreshes its trigger cache after the automation commit (PREFECT.md)
        emit_acquired(acquired_payload(run_number=RUN, sample="diamond", grouping="Column", lite=True))
        run = wait_for("a flow run created by the trigger", lambda: next(iter(_runs_of(client, dep)), None), 30)
        assert run.parameters["params"]["run_number"] == RUN and run.parameters["params"]["approval"] == "manual"

        def state():
            return client.read_flow_run(run.id).state

        suspended = wait_for("the run to suspend for approval", lambda: (s := state()).is_paused() and s, 240)
        assert suspended.name == "Suspended"
        assert _versions(root) == []  # nothing saved yet
        resume_flow_run(run.id, run_input={"decision": "accept", "author": "night operator", "applies_to": f">={RUN}",
                                           "iteration": 1, "comments": "from the served deployment"})
        final = wait_for("the resumed run to finish", lambda: (s := state()).is_final() and s, 240)
        assert final.is_completed(), (final, (root / "serve.log").read_text()[-3000:])
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
    assert any(t.state.name == "Cached" for t in tasks), "a resumed run must reuse its recipe tasks"
    assert _versions(root) == [1]
    stored = load_version(root / "calibration", STATE_ID, lite=True, version=1)
    assert stored.record.indexEntry.author == "night operator"
    assert stored.record.approval["policy"] == "manual" and stored.record.approval["decision"] == "accept"
