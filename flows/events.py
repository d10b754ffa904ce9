"""The ``snap.run.acquired`` event: how a finished calibrant run announces itself to Prefect.

The deployment trigger (``deployments.definitions.acquisition_trigger``) turns it into a flow run
of ``snap-calibration`` with the payload's run, sample, grouping and Lite mode as parameters.
"""

from __future__ import annotations

from typing import Any

from prefect.events import emit_event

from deployments.definitions import ACQUIRED_EVENT


def acquired_payload(*, run_number: int, sample: str, grouping: str = "Column", lite: bool = True,
                     **extra: Any) -> dict[str, Any]:
    """Payload of the event: what the trigger templates into the flow's parameters, plus context."""
    return {"run_number": int(run_number), "sample": sample, "grouping": grouping, "lite": bool(lite), **extra}


def emit_acquired(payload: dict[str, Any]) -> str | None:
    """Emit ``snap.run.acquired`` for ``payload["run_number"]``; returns the event id (None if not sent)."""
    run = int(payload["run_number"])
    event = emit_event(event=ACQUIRED_EVENT, payload=payload,
                       resource={"prefect.resource.id": f"snap.run.{run}", "prefect.resource.name": f"SNAP_{run}"})
    return None if event is None else str(event.id)
