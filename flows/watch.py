"""The watcher's announcement: a complete calibrant run sent to Prefect as a ``snap.run.acquired`` event.

The watching itself is ``snapcal_core.watch`` (no Prefect) and the command ``snapcal watch`` is
``cli.watch``; this module supplies the announcement, so a deployment trigger
(``deployments.definitions``) starts a calibration for each run. A run counts as announced only
once the server accepted its event (``flows.events.emit_acquired``); until then the watcher keeps it
pending and retries it with backoff, also after a restart.
"""

from __future__ import annotations

from snapcal_core.watch import Acquisition

#: Environment variable giving the watcher's ``--backfill`` its default (``make serve`` passes it on).
BACKFILL_ENV = "SNAPCAL_WATCH_BACKFILL"


def announce(acquisition: Acquisition) -> None:
    """Send the run's event; raises :class:`flows.events.EventDeliveryError` unless the server accepted it
    (the watcher logs the announced run)."""
    from flows.events import acquired_payload, emit_acquired

    payload = acquired_payload(run_number=acquisition.run_number, sample=acquisition.sample,
                               grouping=acquisition.grouping, lite=acquisition.lite, ipts=acquisition.ipts,
                               path=str(acquisition.path), title=acquisition.title, size_bytes=acquisition.size_bytes)
    emit_acquired(payload, event_id=acquisition.event_id)
