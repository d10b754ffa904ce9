"""The flow run the calling code runs in, typed (Prefect types its run context as flow-or-task)."""

from __future__ import annotations

from prefect.client.schemas.objects import FlowRun
from prefect.context import FlowRunContext, get_run_context


def current_flow_run() -> FlowRun:
    """The current flow run (only called inside a flow, where the context always holds one)."""
    ctx = get_run_context()
    assert isinstance(ctx, FlowRunContext) and ctx.flow_run is not None, "not inside a flow run"
    return ctx.flow_run
