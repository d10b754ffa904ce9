"""``snapcal calibrate RUN``: the whole mission on a Prefect server (embedded unless PREFECT_API_URL).

``--approve`` accepts automatically (scripted use); ``--interactive`` shows each iteration's report
in the terminal and resumes the paused run with the decision typed at the prompt. Without either,
the run waits for a decision from the Prefect UI.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import typer

from snapcal_core.cli._common import console
from snapcal_core.errors import SnapcalError
from snapcal_core.recipe.difc_fit import FitMode


def _paused_run_id(flow_name: str, since: float):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
            type=FlowRunFilterStateType(any_=[StateType.PAUSED]))))
    runs = [r for r in runs if r.start_time is None or r.start_time.timestamp() >= since - 5]
    return runs[0].id if runs else None


def _latest_summary(run_number: int, flow_run_id) -> tuple[int, Path] | None:
    from flows.calibration import work_dir_for

    work = work_dir_for(run_number, str(flow_run_id))
    folders = sorted(work.glob("iteration_*/result"), key=lambda p: int(p.parent.name.split("_")[1]))
    return (len(folders), folders[-1]) if folders else None


def _ask(run_number: int, flow_run_id) -> dict:
    from snapcal_core.cli.recipe import show_summary
    from snapcal_core.recipe.result_io import read_summary

    found = _latest_summary(run_number, flow_run_id)
    if found:
        n, folder = found
        show_summary(read_summary(folder))
        report = folder / "report.md"
        if report.exists():
            console.print(report.read_text().split("DIFC change vs", 1)[-1][:1500] if "DIFC change vs" in report.read_text() else "")
        console.print(f"plots: {', '.join(str(p) for p in sorted(folder.glob('*.png')))}")
    else:
        n = 1
    decision = typer.prompt("decision [accept/iterate/cancel]", default="accept")
    author = typer.prompt("author")
    answer = {"decision": decision, "author": author, "iteration": n, "applies_to": f">={run_number}"}
    if decision == "accept":
        answer["iteration"] = typer.prompt("iteration to save", default=n, type=int)
        answer["applies_to"] = typer.prompt("applies to", default=f">={run_number}")
        answer["comments"] = typer.prompt("comments", default="")
    elif decision == "iterate":
        fit = typer.prompt("fit mode (difc, difc+tzero, difc+tzero+difa; empty = unchanged)", default="")
        if fit:
            answer["fit_mode"] = fit
        answer["start_from_previous"] = typer.confirm("start from this iteration's table?", default=False)
    return answer


class _NoSnapcalTraceback(logging.Filter):
    """Drop the traceback of an expected snapcal error from a console log record (its message stays):
    the CLI ends with the error in one line; the API log keeps the whole record for the UI."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], SnapcalError):
            record.exc_info, record.exc_text = None, None
        return True


def _quiet_expected_errors() -> None:
    """Install :class:`_NoSnapcalTraceback` on Prefect's console handlers (once)."""
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict) if name.startswith("prefect")]
    for handler in {h for lg in [logging.getLogger(), *loggers] for h in lg.handlers}:
        if "Console" in type(handler).__name__ and not any(isinstance(f, _NoSnapcalTraceback) for f in handler.filters):
            handler.addFilter(_NoSnapcalTraceback())


def _failure(state) -> Exception:
    """What a failed flow run raises: its snapcal error as is (one line, exit 2), else exit 1."""
    exc = state.result(raise_on_failure=False)
    if isinstance(exc, SnapcalError):
        return exc
    return typer.Exit(1)


def _start_api() -> None:
    """Start (or reach) the API once, before any thread needs it: two threads starting the embedded
    server at the same moment race for its port."""
    import os

    from prefect.client.orchestration import get_client

    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    with get_client(sync_client=True) as client:
        client.hello()


def calibrate(
    run: int = typer.Argument(..., help="Run number of the calibrant run"),
    sample: str = typer.Option("diamond", "--sample", help="Calibrant sample"),
    grouping: str = typer.Option("Column", "--grouping", help="Column|Bank|All|FILE"),
    native: bool = typer.Option(False, "--native", help="Native pixels instead of Lite"),
    fit: FitMode = typer.Option(FitMode.DIFC, "--fit", help="Constants fitted per group"),
    skip_pixel: bool = typer.Option(False, "--skip-pixel", help="Skip the cross-correlation loop"),
    approve: bool = typer.Option(False, "--approve", help="Accept automatically (scripted use)"),
    gate: bool = typer.Option(False, "--gate", help="Accept automatically only if every group passes the quality gate"),
    author: str = typer.Option("", "--author", help="Author recorded with --approve"),
    interactive: bool = typer.Option(False, "--interactive", help="Decide at the terminal prompt"),
    pause_timeout: int = typer.Option(3600, "--pause-timeout", help="Seconds to wait for a decision"),
    mask: Path = typer.Option(None, "--mask", help="Pixel mask file masked from the start"),
) -> None:
    """Calibrate a run with approval, and save the accepted calibration in the store."""
    from prefect.flow_runs import resume_flow_run

    from flows.calibration import calibration_flow
    from flows.parameters import CalibrationParameters

    if approve and not author.strip():
        raise typer.BadParameter("--approve needs --author NAME")
    if approve and gate:
        raise typer.BadParameter("--approve and --gate exclude each other")
    params = CalibrationParameters(run_number=run, sample=sample, grouping=grouping, lite=not native, fit_mode=fit,
                                   skip_pixel=skip_pixel, approval="auto" if approve else "gate" if gate else "manual",
                                   auto_author=author, pause_timeout_s=pause_timeout,
                                   mask_file=str(mask.resolve()) if mask else "")
    _quiet_expected_errors()
    _start_api()
    box: dict = {}
    started = time.time()
    worker = threading.Thread(target=lambda: box.update(state=calibration_flow(params, return_state=True)), daemon=True)
    worker.start()
    asked = set()
    while worker.is_alive():
        worker.join(timeout=1.0)
        if interactive and worker.is_alive():
            run_id = _paused_run_id("snap-calibration", started)
            if run_id is not None:
                key = (run_id, _latest_summary(run, run_id))
                if key in asked:
                    continue
                asked.add(key)
                try:
                    resume_flow_run(run_id, run_input=_ask(run, run_id))
                except RuntimeError as exc:
                    console.print(f"[red]not accepted:[/red] {exc}")
                    asked.discard(key)
    state = box.get("state")
    console.print(f"flow finished: {state}")
    if state is not None and state.is_completed():
        saved = state.result()
        console.print(f"[bold]new calibration version {saved['version']}[/bold] written to {saved['path']}")
    elif state is not None and not state.is_cancelled():
        raise _failure(state)


def register(app: typer.Typer) -> None:
    from flows import watch

    app.command("calibrate")(calibrate)
    watch.register(app)
