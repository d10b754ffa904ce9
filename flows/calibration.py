"""The calibration flow: resolve, load, pixel loop, group fits, assess, approve (accept / iterate /
cancel), save. Approval pauses the run (``pause_flow_run``; ``suspend_flow_run`` when started from
a deployment, so long approvals hold no process)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TypedDict, cast
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import (
    create_image_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    update_progress_artifact,
)
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run, suspend_flow_run
from prefect.states import Cancelled, Completed
from pydantic import ValidationError

from flows.context import current_flow_run
from flows.parameters import Approval, CalibrationParameters
from snapcal_core.errors import InvalidOptionsError, StorageError
from snapcal_core.pipeline import CalibrationRequest
from snapcal_core.preflight import RunRef
from snapcal_core.recipe.gate import GateVerdict, evaluate_gate
from snapcal_core.recipe.pixel import PixelIteration
from snapcal_core.recipe.result_io import TABLE_FILE, ResultSummary
from snapcal_core.recipe.sequence import run_steps
from snapcal_core.report.build import ReportRef, extra_files_for_store
from snapcal_core.report.plots import data_url
from snapcal_core.report.summary import artifact_key, short_summary
from snapcal_core.settings import get_settings
from snapcal_core.storage.applies_to import default_applies_to, normalise
from snapcal_core.storage.models import describe
from tasks import calibration as t


def work_dir_for(run_number: int, flow_run_id: str) -> Path:
    """Scratch folder of one flow run (every iteration's outputs live under it)."""
    return Path(get_settings().scratch_dir) / f"run_{run_number:06d}" / f"flow_{flow_run_id}"


def iteration_results(run_number: int, flow_run_id: str) -> list[Path]:
    """Result folders of a flow run's iterations so far, in order: while the run waits for a decision,
    the last is the iteration to decide on (its summary, report and plots: ``docs/formats.md``)."""
    folders = [p for p in work_dir_for(run_number, flow_run_id).glob("iteration_*/result") if p.is_dir()]
    return sorted(folders, key=lambda p: int(p.parent.name.removeprefix("iteration_")))


def _progress_artifact(*, description: str) -> UUID:
    """A progress artifact at 0 %; its id (Prefect's sync-or-async call returns the id itself in a sync flow)."""
    return cast(UUID, create_progress_artifact(progress=0.0, description=description))


def run_iteration(ref: RunRef, events: str, request: CalibrationRequest, work: Path, start_table: str | None) -> ResultSummary:
    """The recipe's one sequence (:func:`~snapcal_core.recipe.sequence.run_steps`) over the tasks:
    one task per pixel iteration (with a progress artifact), the group fits side by side."""
    log = get_run_logger()
    limit = request.recipe.pixel.max_iterations
    progress = None if request.recipe.skip_pixel else _progress_artifact(
        description=f"pixel loop, run {ref.run_number}")
    clock = [time.perf_counter()]

    def on_iteration(s: PixelIteration) -> None:
        log.info(f"pixel iteration {s.iteration}: median |offset| {s.median_abs_offset_bins:.3f} bins, mean "
                 f"{s.mean_abs_offset_bins:.3f}, masked {s.n_masked}/{s.n_pixels} ({time.perf_counter() - clock[0]:.1f} s)")
        clock[0] = time.perf_counter()
        if progress is not None:
            update_progress_artifact(progress, progress=100.0 * s.iteration / limit)

    summary = run_steps(t.TaskSteps(events, request, work, start_table), settings=request.recipe,
                        on_iteration=on_iteration)
    if progress is not None:
        update_progress_artifact(progress, progress=100.0)
    log.info(f"group calibration: {len(summary.groups)} groups, "
             f"{sum(g.metrics.n_peaks_fitted for g in summary.groups)} peaks accepted "
             f"({time.perf_counter() - clock[0]:.1f} s)")
    return summary


class _KeyParts(TypedDict):
    """The keyword arguments of :func:`~snapcal_core.report.summary.artifact_key`."""

    run_number: int
    iteration: int
    flow_run_id: str


def publish(report: ReportRef, *, run_number: int, flow_run_id: str) -> tuple[str, str]:
    """The full report (plots inline) as a markdown artifact and every plot as an image artifact, each
    keyed by run, iteration and flow run (the Artifacts page never mixes runs); returns the report's
    key and artifact id."""
    names = _KeyParts(run_number=run_number, iteration=report.iteration, flow_run_id=flow_run_id)
    images = ""
    for name, path in report.plots.items():
        url = data_url(Path(path))
        create_image_artifact(image_url=url, key=artifact_key(f"plot-{name}", **names),
                              description=f"Run {run_number}, iteration {report.iteration}: {name} plot")
        images += f"\n\n**{name}**\n\n![{name}]({url})"
    key = artifact_key("report", **names)
    artifact_id = create_markdown_artifact(markdown=report.markdown + images, key=key,
                                           description=f"Calibration report of run {run_number}, iteration {report.iteration}")
    return key, str(artifact_id)


def form_summary(summary: ResultSummary, report: ReportRef, verdict: GateVerdict, artifact: tuple[str, str]) -> str:
    """The short summary above the approval form, linking to the full report artifact (its own page, not
    the key's history). The link is relative to the flow-run page: it opens in the UI (v1 or v2) the
    form was opened in."""
    key, artifact_id = artifact
    return short_summary(summary, iteration=report.iteration, verdict=verdict, report_key=key,
                         report_link=f"../../artifacts/artifact/{artifact_id}",
                         applicable_change=report.applicable_change, not_compared=report.not_compared)


def check_approval(approval: Approval, n_iterations: int) -> str | None:
    """Why an approval cannot be carried out (None when it can)."""
    if not 1 <= approval.iteration <= n_iterations:
        return f"iteration {approval.iteration} does not exist (1..{n_iterations})"
    if approval.decision == "accept":
        try:
            normalise(approval.applies_to)
        except StorageError as exc:
            return str(exc)
    return None


def automatic_decision(params: CalibrationParameters, verdict: GateVerdict, round_: int) -> tuple[Approval | None, dict]:
    """The decision the approval policy takes without a person (None: ask one) and its record."""
    log = get_run_logger()
    accept = dict(decision="accept", applies_to=default_applies_to(params.run_number), iteration=round_)
    if params.approval == "auto":
        return Approval(author=params.auto_author or "auto", comments="accepted automatically", **accept), {"policy": "auto"}
    if params.approval != "gate" or round_ > 1:  # once a person iterated, a person decides
        return None, {"policy": params.approval}
    record = {"policy": "gate", "gate": verdict.model_dump(mode="json")}
    if verdict.passed:
        log.info("quality gate: every group passes; accepting automatically")
        return Approval(author=params.auto_author or "quality-gate", comments="accepted by the quality gate", **accept), record
    log.warning(f"quality gate held the run for a person:\n{verdict.explain()}")
    return None, record


def ask(form: type[Approval], *, key: str, timeout_s: int) -> Approval:
    """Pause (or suspend, when the run comes from a deployment) until the form is submitted."""
    if current_flow_run().deployment_id is not None:
        return suspend_flow_run(wait_for_input=form, timeout=timeout_s, key=key)
    return pause_flow_run(wait_for_input=form, timeout=timeout_s, poll_interval=2, key=key)


def wait_for_decision(description: str, *, settings: CalibrationParameters, n_iterations: int,
                      round_: int) -> Approval | None:
    """Ask until a valid decision comes; None when the wait timed out. Input the server's schema check
    rejects never reaches the flow (the UI shows why); input the form's own rules (one-line author) or
    the flow (appliesTo, iteration) reject is asked for again with the reason above the form, so a
    finished calibration is never lost to a bad approval."""
    log = get_run_logger()
    problem = ""
    for attempt in range(1, 100):
        rejected = f"**Rejected, please decide again:** {problem}\n\n" if problem else ""
        form = Approval.for_iteration(rejected + description, params=settings, iteration=n_iterations)
        key = f"approval-{round_}-{attempt}"  # deterministic: a re-executed (resumed) run gets its input back
        try:
            approval = ask(form, key=key, timeout_s=settings.pause_timeout_s)
        except FlowPauseTimeout:
            return None
        except ValidationError as exc:  # the server's schema check passed it, the form's validators did not
            problem = describe(exc).replace("Value error, ", "")
        else:
            problem = check_approval(approval, n_iterations) or ""
            if not problem:
                return approval
        log.warning(f"approval rejected, asking again: {problem}")
    return None


def decide(description: str, *, settings: CalibrationParameters, verdict: GateVerdict,
           n_iterations: int) -> tuple[Approval | None, dict]:
    """Apply the approval policy, then ask a person if it did not decide."""
    approval, record = automatic_decision(settings, verdict, n_iterations)
    if approval is None:
        approval = wait_for_decision(description, settings=settings, n_iterations=n_iterations, round_=n_iterations)
    if approval is not None:
        record.update(decision=approval.decision, author=approval.author, iteration=approval.iteration)
    return approval, record


def leave_expired_pause(flow_run_id: str) -> None:
    """After a pause timeout the server accepts only a cancellation out of the expired pause (any other
    state becomes Failed); go through Cancelling so the run can end Cancelled, nothing saved."""
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelling

    with get_client(sync_client=True) as client:
        client.set_flow_run_state(flow_run_id, Cancelling(message="approval timed out"), force=True)


def resolved_run(params: CalibrationParameters, resolved: RunRef | None) -> RunRef:
    """The run resolved by the caller, or (none given) resolved here: every input checked before
    any event is read. A given one must be of the parameters' run."""
    if resolved is None:
        return t.resolve_run(params.request(), params.auto_author)
    if resolved.run_number != params.run_number:
        raise InvalidOptionsError(f"resolved run {resolved.run_number} is not the run to calibrate, "
                                  f"{params.run_number}: leave 'resolved' empty")
    return resolved


@flow(name="snap-calibration", log_prints=True)
def calibration_flow(params: CalibrationParameters, resolved: RunRef | None = None):
    """Calibrate one run: iterate until a person accepts (saved) or cancels (nothing saved).

    ``resolved``: the run as ``snapcal calibrate`` already checked and resolved it (so it is not
    checked twice); empty when the flow is started otherwise (UI, deployment, event trigger)."""
    log = get_run_logger()
    flow_run_id = str(current_flow_run().id)
    steps = _progress_artifact(description=f"run {params.run_number}: resolve, load (the "
                               "first load compiles the numba kernels), recipe, report, then the decision")
    ref = resolved_run(params, resolved)
    log.info(f"run {ref.run_number}: IPTS-{ref.ipts}, state {ref.state_id}, {ref.event_file}")
    if ref.new_state:
        log.info(f"new instrument state {ref.state_id} (first calibration of this state)")
    update_progress_artifact(steps, progress=5.0)
    log.info(f"loading run {ref.run_number} ({'Lite' if params.lite else 'native'}; the first load on a machine "
             "compiles the numba kernels, ~15-30 s)")
    events = t.load_events(ref, params.lite)
    update_progress_artifact(steps, progress=30.0)
    work = work_dir_for(ref.run_number, flow_run_id)
    settings, start_table = params, None  # settings: the inputs of the next iteration
    compare: list[int] = []
    summaries: list[ResultSummary] = []
    reports: list[ReportRef] = []
    while True:
        summaries.append(run_iteration(ref, events, settings.request(), work / f"iteration_{len(summaries) + 1}",
                                       start_table))
        update_progress_artifact(steps, progress=90.0)
        reports.append(t.assess(summaries, ref.state, compare))
        verdict = evaluate_gate(summaries[-1], params.gate, difc_change=reports[-1].applicable_change)
        artifact = publish(reports[-1], run_number=ref.run_number, flow_run_id=flow_run_id)
        update_progress_artifact(steps, progress=100.0)
        approval, approval_record = decide(form_summary(summaries[-1], reports[-1], verdict, artifact),
                                           settings=settings, verdict=verdict, n_iterations=len(summaries))
        if approval is None:
            leave_expired_pause(flow_run_id)
        if approval is None or approval.decision == "cancel":
            shutil.rmtree(work, ignore_errors=True)
            why = "approval timed out" if approval is None else f"cancelled by {approval.author}"
            log.info(f"{why}; nothing saved, scratch outputs removed")
            return Cancelled(message=f"run {ref.run_number}: {why}; nothing saved")
        if approval.decision == "iterate":
            settings = settings.model_copy(update=approval.changes())
            start_table = str(Path(summaries[approval.iteration - 1].folder) / TABLE_FILE) \
                if approval.start_from_previous else None
            compare = approval.compare_versions
            log.info(f"iterating with {approval.changes() or 'the same inputs'}")
            continue
        chosen = summaries[approval.iteration - 1]
        saved = t.save(chosen, ref.state, approval.author, approval.comments, approval.applies_to,
                       extra_files_for_store(chosen, reports[approval.iteration - 1]), approval_record)
        log.info(f"saved iteration {approval.iteration} as version {saved.version}: {saved.path}")
        return Completed(message=f"saved version {saved.version} at {saved.path}", data=saved.model_dump(mode="json"))
