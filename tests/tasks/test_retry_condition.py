"""Tasks that retry transient failures do not retry typed snapcal errors (bad input: an unknown run
fails once, not three times). Pure: Prefect states, no server."""

from __future__ import annotations

from prefect.states import Failed

from snapcal_core.errors import MissingLogError, RunNotFoundError
from tasks import calibration as t


def test_a_snapcal_error_is_not_retried_other_failures_are():
    assert not t.unless_snapcal_error(None, None, Failed(data=RunNotFoundError("run 7: no raw file")))
    assert not t.unless_snapcal_error(None, None, Failed(data=MissingLogError("run 7: PV BL3:det:arc1 missing")))
    assert t.unless_snapcal_error(None, None, Failed(data=OSError("NFS hiccup")))


def test_the_retrying_input_tasks_use_it():
    for task in (t.resolve_run, t.load_events, t.recipe):
        assert task.retries >= 1 and task.retry_condition_fn is t.unless_snapcal_error, task.name
