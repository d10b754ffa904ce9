"""The ``snap.run.acquired`` event: how a finished calibrant run announces itself to Prefect.

The deployment trigger (``deployments.definitions.acquisition_trigger``) turns it into a flow run
of ``snap-calibration`` with the payload's run, sample, grouping and Lite mode as parameters.

:func:`emit_acquired` returns only once the server has accepted the event: it posts it to the
REST endpoint ``POST /events``, which answers 204 after the server has published the event to
its event bus (``prefect/server/api/events.py: create_events``; triggers read that bus). It
raises :class:`EventDeliveryError` otherwise. ``prefect.events.emit_event`` would not do: it
queues the event for a background ``EventsWorker`` and returns before anything is sent (with no
server the worker logs "EventsWorker failed with N pending items" and drops them), and the
websocket client it uses confirms receipt only with a ping.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from prefect.client.orchestration import get_client
from prefect.events import Event
from prefect.settings import PREFECT_API_URL

from snapcal_core.errors import SnapcalError

#: Name of the event (the deployment trigger expects it).
ACQUIRED_EVENT = "snap.run.acquired"
#: Prefix of a run's Prefect resource id, ``snap.run.<run>`` (the trigger matches ``snap.run.*``).
RUN_RESOURCE_PREFIX = "snap.run."


class EventDeliveryError(SnapcalError):
    """The Prefect server did not accept an event (not reachable, or it answered with an error)."""


def acquired_payload(*, run_number: int, sample: str, grouping: str = "Column", lite: bool = True,
                     **extra: Any) -> dict[str, Any]:
    """Payload of the event: what the trigger templates into the flow's parameters, plus context."""
    return {"run_number": int(run_number), "sample": sample, "grouping": grouping, "lite": bool(lite), **extra}


def acquired_event(payload: dict[str, Any], *, event_id: uuid.UUID | str | None = None) -> Event:
    """The ``snap.run.acquired`` event of ``payload["run_number"]`` on the resource ``snap.run.<run>``."""
    run = int(payload["run_number"])
    return Event(event=ACQUIRED_EVENT, payload=payload, id=uuid.UUID(str(event_id)) if event_id else uuid.uuid4(),
                 resource={"prefect.resource.id": f"{RUN_RESOURCE_PREFIX}{run}",
                           "prefect.resource.name": f"SNAP_{run}"})


def emit_acquired(payload: dict[str, Any], *, event_id: uuid.UUID | str | None = None) -> str:
    """Send ``snap.run.acquired`` and return its id once the server accepted it.

    ``event_id`` (default: a new one) lets a retry carry the same id: the server stores an
    event id once and its triggers skip an event id they have already seen.
    Raises :class:`EventDeliveryError` naming the run and the server when the event was not accepted.
    """
    event = acquired_event(payload, event_id=event_id)
    api_url = PREFECT_API_URL.value()
    if not api_url:
        raise EventDeliveryError(f"run {payload['run_number']}: PREFECT_API_URL is not set, so there is no server "
                                 "to send the event to (make serve starts one)")
    try:
        with get_client(sync_client=True) as client:
            client.request("POST", "/events", json=[event.model_dump(mode="json")])
    except (httpx.HTTPError, OSError) as exc:
        raise EventDeliveryError(f"run {payload['run_number']}: the Prefect server at {api_url} did not accept "
                                 f"the event: {type(exc).__name__}: {exc}") from exc
    return str(event.id)
