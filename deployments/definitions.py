"""The deployments of snapcal, defined once in Python (serve script, tests) and mirrored in
``prefect.yaml`` (work pool + worker; ``tests/deployments`` checks that the two agree).

- ``snap-calibration``: the calibration flow of one run, started by an operator (UI, CLI) or by
  the ``snap.run.acquired`` event the post-acquisition watcher emits (run, sample, grouping and
  Lite mode templated from the event's payload into the flow's parameters).
- ``snap-calibration-batch``: several runs/groupings; an example operator schedule (Monday 06:00,
  facility time) is registered *inactive*: an operator sets its runs and switches it on in the UI.
"""

from __future__ import annotations

from typing import Any

from prefect.events import DeploymentEventTrigger
from prefect.schedules import Cron, Schedule

from flows.events import ACQUIRED_EVENT, RUN_RESOURCE_PREFIX
from snapcal_core.recipe.gate import ApprovalPolicy

POOL = "snapcal-process"
CALIBRATION = "snap-calibration"
BATCH = "snap-calibration-batch"
TIMEZONE = "America/New_York"


def _from_payload(field: str, *, typed: bool) -> Any:
    """A parameter rendered from the event payload; ``typed`` values (int, bool) go through JSON."""
    template = {"__prefect_kind": "jinja", "template": f"{{{{ event.payload.{field} | tojson }}}}" if typed
                else f"{{{{ event.payload.{field} }}}}"}
    return {"__prefect_kind": "json", "value": template} if typed else template


def trigger_parameters(approval: ApprovalPolicy) -> dict[str, Any]:
    """The calibration flow's ``params`` as templated from a ``snap.run.acquired`` event."""
    return {"params": {
        "run_number": _from_payload("run_number", typed=True),
        "sample": _from_payload("sample", typed=False),
        "grouping": _from_payload("grouping", typed=False),
        "lite": _from_payload("lite", typed=True),
        "approval": approval,
        "auto_author": "snapcal watcher",
    }}


def acquisition_trigger(approval: ApprovalPolicy = "gate") -> DeploymentEventTrigger:
    """Start a calibration when the watcher announces a calibrant run (one per run: resource snap.run.<n>)."""
    return DeploymentEventTrigger(
        name="calibrate-on-acquisition", description="Calibrate a calibrant run as soon as its file is complete",
        expect={ACQUIRED_EVENT}, match={"prefect.resource.id": f"{RUN_RESOURCE_PREFIX}*"},
        parameters=trigger_parameters(approval))


def batch_schedule() -> Schedule:
    """Operator schedule example: every Monday 06:00, inactive until an operator sets runs and enables it."""
    return Cron("0 6 * * 1", timezone=TIMEZONE, active=False,
                parameters={"params": {"runs": [58810], "groupings": ["Column", "Bank"], "approval": "gate"}})


def runner_deployments(*, approval: ApprovalPolicy = "gate") -> list:
    """Both deployments for ``serve`` (no work pool: the serving process runs the flows)."""
    from flows.batch import batch_flow
    from flows.calibration import calibration_flow

    return [
        calibration_flow.to_deployment(name=CALIBRATION, triggers=[acquisition_trigger(approval)],
                                       tags=["snap", "calibration"], description=calibration_flow.description),
        batch_flow.to_deployment(name=BATCH, schedules=[batch_schedule()], tags=["snap", "calibration", "batch"],
                                 description=batch_flow.description),
    ]
