"""``snapcal watch`` against a real (test) Prefect server that is down, then up: every calibrant run is
announced exactly once, and the deployment trigger starts exactly one flow run per run.

The down phase points the watcher's Prefect client at a closed loopback port (what a stopped
server looks like); the up phase at the session's test server, which also holds a deployment
with snapcal's real acquisition trigger (the flow runs it creates are never executed).
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from snapcal_core.watch import CalibrantRules, Watcher
from tests.watch._helpers import FakeClock, write_run

pytestmark = [pytest.mark.prefect]
RUNS = (71001, 71002, 71003)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/api"  # nothing listens there once the socket is closed


def wait_for(what: str, check, timeout_s: float = 30.0, every_s: float = 0.25):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


@pytest.fixture
def triggered_deployment(prefect_harness):
    """A deployment of a no-op flow with snapcal's acquisition trigger; removed with its automation afterwards."""
    from prefect import flow
    from prefect.client.orchestration import get_client

    from deployments.definitions import acquisition_trigger

    @flow(name="watch-delivery-probe")
    def probe(params: dict) -> None:  # never run: the test counts the runs the trigger creates
        return None

    deployment_id = probe.to_deployment(name="watch-delivery-probe", triggers=[acquisition_trigger("gate")]).apply()
    time.sleep(1.5)  # the server refreshes its trigger cache a moment after the automation commit (PREFECT.md)
    yield deployment_id
    with get_client(sync_client=True) as client:
        client.delete_resource_owned_automations(f"prefect.deployment.{deployment_id}")
        client.delete_deployment(deployment_id)


def _events_of(client, run: int) -> list:
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    page = client.read_events(filter=EventFilter(event=EventNameFilter(name=["snap.run.acquired"]),
                                                 resource=EventResourceFilter(id=[f"snap.run.{run}"])), limit=50)
    return page.events


def _flow_runs_of(client, deployment_id) -> dict[int, int]:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))
    counts: dict[int, int] = {}
    for flow_run in runs:
        number = flow_run.parameters["params"]["run_number"]
        counts[number] = counts.get(number, 0) + 1
    return counts


def test_server_down_then_up_announces_and_calibrates_every_run_exactly_once(triggered_deployment, tmp_path: Path):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.watch import announce

    root, state, clock = tmp_path / "facility", tmp_path / "watch.json", FakeClock()
    for run in RUNS:
        write_run(root, run=run, ipts=12, title="Diamond calibrant")

    def watcher() -> Watcher:
        return Watcher(root, CalibrantRules(), state, announce, settle_s=10, clock=clock)

    down = watcher()
    with temporary_settings({PREFECT_API_URL: closed_port_url()}):
        assert down.scan_once() == []
        clock.advance(10)
        assert down.scan_once() == []  # complete, pending, first attempt refused
        clock.advance(1)
        assert down.scan_once() == []  # second attempt after 1 s of backoff, refused
    assert sorted(down.pending) == list(RUNS) and down.announced == {}

    clock.advance(2)  # the server is back (the session's test server)
    assert sorted(a.run_number for a in down.scan_once()) == list(RUNS)
    clock.advance(600)
    assert down.scan_once() == [] and down.pending == {}
    assert watcher().scan_once() == []  # a restart announces nothing again

    with get_client(sync_client=True) as client:
        for run in RUNS:
            events = wait_for(f"the event of run {run}", lambda run=run: _events_of(client, run))
            assert len(events) == 1 and events[0].payload["run_number"] == run
            assert events[0].id == down.announced[run].event_id
        def all_runs_created() -> dict[int, int] | None:
            counts = _flow_runs_of(client, triggered_deployment)
            return counts if len(counts) == len(RUNS) else None

        counts = wait_for("a flow run per run", all_runs_created)
        announce(down.announced[RUNS[0]])  # a repeat after a crash carries the same id: dropped
        time.sleep(3)
        assert _flow_runs_of(client, triggered_deployment) == counts == {run: 1 for run in RUNS}
        assert [len(_events_of(client, run)) for run in RUNS] == [1, 1, 1]


def test_emit_acquired_raises_unless_the_server_accepted_the_event(prefect_harness):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.events import EventDeliveryError, acquired_payload, emit_acquired

    payload = acquired_payload(run_number=71009, sample="diamond")
    with temporary_settings({PREFECT_API_URL: closed_port_url()}):
        with pytest.raises(EventDeliveryError, match=r"run 71009: the Prefect server at http://127\.0\.0\.1:\d+/api"):
            emit_acquired(payload)
    with temporary_settings({PREFECT_API_URL: ""}):
        with pytest.raises(EventDeliveryError, match="PREFECT_API_URL is not set"):
            emit_acquired(payload)
    assert emit_acquired(payload, event_id="0b7c2d1e-8a5f-4c3b-9e2d-1f0a9b8c7d6e") == "0b7c2d1e-8a5f-4c3b-9e2d-1f0a9b8c7d6e"
