"""``snapcal calibrate RUN``: the whole mission on a Prefect server (embedded unless PREFECT_API_URL).

``--approve`` accepts automatically (scripted use); ``--gate`` accepts when every group passes the
quality gate; ``--interactive`` shows each iteration's report in the terminal and resumes the paused
run with the decision typed at the prompt. Without them the run waits for a decision in the Prefect
UI, which needs a server (``make serve`` and PREFECT_API_URL): the embedded server ends with this
command, so there the decision is taken at the prompt, or the command refuses without a terminal.
Every input is checked (:mod:`snapcal_core.preflight`) before the server starts or any event is read.
"""

from __future__ import annotations

import logging
import secrets
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

import typer
from pydantic import ValidationError
from rich.markdown import Markdown

from cli.display import console
from snapcal_core.errors import CalibrationError, InvalidOptionsError, SnapcalError
from snapcal_core.preflight import RunRef, check_calibration
from snapcal_core.recipe.difc_fit import FitMode
from snapcal_core.settings import ensure_prefect_home
from snapcal_core.storage.applies_to import default_applies_to
from snapcal_core.storage.models import SavedVersion, check_author

SERVER_PAUSE_TIMEOUT_S = 3600  # a person may come to the UI later
EMBEDDED_PAUSE_TIMEOUT_S = 600  # nobody but this terminal can decide
SERVE_HINT = "run `make serve` and set PREFECT_API_URL=http://127.0.0.1:4200/api to decide in the Prefect UI"
#: Option of each flow parameter, to name it in an error.
OPTION_OF_FIELD = {"run_number": "RUN", "sample": "--sample", "grouping": "--grouping", "fit_mode": "--fit",
                   "auto_author": "--author", "pause_timeout_s": "--pause-timeout", "mask_file": "--mask"}

Pause = tuple[str, str]  # (flow run id, id of its Paused state): each pause of a run is a new state


@dataclass(frozen=True)
class DecisionPlan:
    """Who decides a run that pauses, how long it waits, and what the operator is told first."""

    interactive: bool
    pause_timeout_s: int
    notes: list[str] = field(default_factory=list)


def plan_decision(*, approval: str, interactive: bool, pause_timeout_s: int | None, embedded: bool,
                  terminal: bool) -> DecisionPlan:
    """How a run is decided: on the embedded server (it ends with this command) only this terminal can
    decide, so a manual run there is decided at the prompt, or refused without a terminal."""
    timeout = pause_timeout_s or (EMBEDDED_PAUSE_TIMEOUT_S if embedded else SERVER_PAUSE_TIMEOUT_S)
    if approval == "auto" or interactive:
        return DecisionPlan(interactive=interactive, pause_timeout_s=timeout)
    if not embedded:
        where = "if the quality gate holds the run, " if approval == "gate" else ""
        return DecisionPlan(False, timeout, [f"{where}decide in the Prefect UI (Runs -> this run -> Resume) within "
                                             f"{timeout} s, else the run ends Cancelled, nothing saved"])
    if approval == "gate":
        return DecisionPlan(False, timeout, [
            "embedded Prefect server (no PREFECT_API_URL): if the quality gate holds the run, nothing else can approve "
            f"it; it ends Cancelled after {timeout} s, nothing saved. Add --interactive to decide at the prompt, or "
            f"{SERVE_HINT}"])
    if not terminal:
        raise InvalidOptionsError(
            "nothing could approve this run: the embedded Prefect server (no PREFECT_API_URL) ends with this "
            f"command and no terminal is attached for --interactive; give --approve --author NAME or --gate, or {SERVE_HINT}")
    return DecisionPlan(True, timeout, [
        "embedded Prefect server (no PREFECT_API_URL): nothing else can approve this run, so decide at the prompt "
        f"below (as --interactive) within {timeout} s; to decide in the UI instead, {SERVE_HINT}"])


def watch_pauses(*, running: Callable[[], bool], paused: Callable[[], Pause | None],
                 answer: Callable[[Pause], bool]) -> None:
    """While ``running()``, answer each pause once; an answer the server refused (``answer`` False) is asked again.

    A pause is keyed by its Paused state: after a decision the flow rejects (a wrong iteration or appliesTo)
    it pauses again in a new state, which is asked anew. (Keyed by run and iteration, that second pause
    looked answered already, and the prompt never came back.)
    """
    asked: set[Pause] = set()
    while running():
        pause = paused()
        if pause is None or pause in asked:
            continue
        asked.add(pause)
        if not answer(pause):
            asked.discard(pause)


def _paused(flow_run_name: str) -> Pause | None:
    """The Paused state of our flow run (found by its unique name), if it is paused now."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterName,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            name=FlowRunFilterName(any_=[flow_run_name]),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))))
    return (str(runs[0].id), str(runs[0].state.id)) if runs and runs[0].state else None


def _show_latest(run_number: int, flow_run_id) -> int:
    """The report of the iteration to decide on, in the terminal; returns its number (1 before any)."""
    from flows.calibration import iteration_results
    from snapcal_core.report.build import read_report  # imports matplotlib: only when a report is shown

    results = iteration_results(run_number, str(flow_run_id))
    if not results:
        return 1
    markdown, plots = read_report(results[-1])
    console.print(Markdown(markdown) if markdown else f"no report in {results[-1]}")
    console.print(f"plots: {', '.join(str(p) for p in plots)}")
    return len(results)


def _prompt_author() -> str:
    """The author, asked again until it is one line of a usable length."""
    while True:
        try:
            return check_author(typer.prompt("author"))
        except InvalidOptionsError as exc:
            console.print(f"[red]not accepted:[/red] {exc}")


def _ask(run_number: int, flow_run_id) -> dict:
    n = _show_latest(run_number, flow_run_id)
    decision = typer.prompt("decision [accept/iterate/cancel]", default="accept")
    answer = {"decision": decision, "author": _prompt_author(), "iteration": n, "applies_to": default_applies_to(run_number)}
    if decision == "accept":
        answer["iteration"] = typer.prompt("iteration to save", default=n, type=int)
        answer["applies_to"] = typer.prompt("applies to", default=default_applies_to(run_number))
        answer["comments"] = typer.prompt("comments", default="")
    elif decision == "iterate":
        fit = typer.prompt("fit mode (difc, difc+tzero, difc+tzero+difa; empty = unchanged)", default="")
        if fit:
            answer["fit_mode"] = fit
        answer["start_from_previous"] = typer.confirm("start from this iteration's table?", default=False)
    return answer


def _resume_at_prompt(run_number: int) -> Callable[[Pause], bool]:
    from prefect.flow_runs import resume_flow_run

    def answer(pause: Pause) -> bool:
        try:
            resume_flow_run(UUID(pause[0]), run_input=_ask(run_number, pause[0]))
        except RuntimeError as exc:  # the server validated the input against the form and refused it
            console.print(f"[red]not accepted:[/red] {exc}")
            return False
        return True

    return answer


def _point_to_ui(pause: Pause) -> bool:
    from prefect.settings import PREFECT_UI_URL

    ui = PREFECT_UI_URL.value()
    where = f"{ui.rstrip('/')}/runs/flow-run/{pause[0]}" if ui else f"flow run {pause[0]} in the Prefect UI"
    console.print(f"paused for a decision: open {where} and press Resume")
    return True


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


def _embedded() -> bool:
    ensure_prefect_home()  # before Prefect's first import (also when called without the snapcal entry point)
    from prefect.settings import PREFECT_API_URL

    return not PREFECT_API_URL.value()


def _start_api(embedded: bool) -> None:
    """Start (or reach) the API once, before any thread needs it: two threads starting the embedded
    server at the same moment race for its port."""
    import os

    from prefect.client.orchestration import get_client

    if embedded:
        console.print(f"starting the embedded Prefect server (state in {os.environ.get('PREFECT_HOME', '~/.prefect')})")
    with get_client(sync_client=True) as client:
        client.hello()


def _parameters(**values):
    """The flow's parameters; a value they refuse is an :class:`InvalidOptionsError` naming the option."""
    from flows.parameters import CalibrationParameters

    try:
        return CalibrationParameters(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{OPTION_OF_FIELD.get(str(e['loc'][0]), '.'.join(map(str, e['loc'])))}: {e['msg']}"
                             for e in exc.errors()[:3])
        raise InvalidOptionsError(problems) from None


def _outcome(state) -> None:
    """Print the run's end; a failed run raises its snapcal error (one line, exit 2), else exits 1."""
    if state is None:
        raise typer.Exit(1)
    if state.is_completed():
        saved = SavedVersion.model_validate(state.result())  # the flow's return: where the save went
        console.print(f"[bold]new calibration version {saved.version}[/bold] written to {saved.path}")
        return
    if state.is_cancelled():
        message = state.message or "cancelled; nothing saved"
        if "timed out" in message:
            raise CalibrationError(message)
        console.print(message)
        return
    exc = state.result(raise_on_failure=False)
    if isinstance(exc, SnapcalError):
        raise exc
    console.print(f"flow run ended {state.type.value}: {state.message}")
    raise typer.Exit(1)


def _check_options(*, approve: bool, gate: bool, author: str) -> None:
    if approve and gate:
        raise InvalidOptionsError("--approve and --gate exclude each other")
    if approve and not author.strip():
        raise InvalidOptionsError("--approve needs --author NAME (who accepts the calibration)")
    if author:
        check_author(author)


def calibrate(
    run: int = typer.Argument(..., min=1, help="Run number of the calibrant run"),
    sample: str = typer.Option("diamond", "--sample", help="Calibrant sample"),
    grouping: str = typer.Option("Column", "--grouping", help="Column|Bank|All|FILE"),
    native: bool = typer.Option(False, "--native", help="Native pixels instead of Lite"),
    fit: FitMode = typer.Option(FitMode.DIFC, "--fit", help="Constants fitted per group"),
    skip_pixel: bool = typer.Option(False, "--skip-pixel", help="Skip the cross-correlation loop"),
    approve: bool = typer.Option(False, "--approve", help="Accept automatically (scripted use)"),
    gate: bool = typer.Option(False, "--gate", help="Accept automatically only if every group passes the quality gate"),
    author: str = typer.Option("", "--author", help="Author recorded with --approve or --gate (one line)"),
    interactive: bool = typer.Option(False, "--interactive", help="Decide at the terminal prompt (the default on the "
                                     "embedded server at a terminal: nothing else can approve there)"),
    pause_timeout: int = typer.Option(None, "--pause-timeout", min=1, show_default=False, help=(
        f"Seconds to wait for a decision, then end Cancelled, nothing saved (default {SERVER_PAUSE_TIMEOUT_S} with a "
        f"Prefect server (PREFECT_API_URL), {EMBEDDED_PAUSE_TIMEOUT_S} on the embedded server)")),
    mask: Path | None = typer.Option(None, "--mask", help="Pixel mask file masked from the start"),
) -> None:
    """Calibrate a run with approval, and save the accepted calibration in the store."""
    _check_options(approve=approve, gate=gate, author=author)
    mask_file = str(mask.expanduser().resolve()) if mask else ""
    found = check_calibration(run_number=run, sample=sample, grouping=grouping, lite=not native, mask_file=mask_file,
                              author=author or None)
    policy = "auto" if approve else "gate" if gate else "manual"
    embedded = _embedded()
    plan = plan_decision(approval=policy, interactive=interactive, pause_timeout_s=pause_timeout, embedded=embedded,
                         terminal=sys.stdin.isatty())
    params = _parameters(run_number=run, sample=sample, grouping=grouping, lite=not native, fit_mode=fit,
                         skip_pixel=skip_pixel, approval=policy, auto_author=author,
                         pause_timeout_s=plan.pause_timeout_s, mask_file=mask_file)
    console.print(f"run {found.run_number}: IPTS-{found.ipts}, {found.event_file}, state {found.state_id}")
    for line in filter(None, [found.announcement(), *plan.notes]):
        console.print(line)
    _outcome(_run_flow(params, found, plan, embedded))


def _run_flow(params, resolved: RunRef, plan: DecisionPlan, embedded: bool):
    """Run the flow on the run resolved here (not checked again) in a thread, and answer its pauses
    here (prompt, or where to decide); returns its end state."""
    from flows.calibration import calibration_flow

    _quiet_expected_errors()
    _start_api(embedded)
    name = f"calibrate-{params.run_number}-{secrets.token_hex(3)}"
    box: dict = {}
    flow = calibration_flow.with_options(flow_run_name=name)
    worker = threading.Thread(target=lambda: box.update(state=flow(params, resolved, return_state=True)), daemon=True)
    worker.start()

    def running() -> bool:
        worker.join(timeout=1.0)
        return worker.is_alive()

    answer = _resume_at_prompt(params.run_number) if plan.interactive else _point_to_ui
    if params.approval == "auto":
        worker.join()
    else:
        watch_pauses(running=running, paused=lambda: _paused(name), answer=answer)
    return box.get("state")

