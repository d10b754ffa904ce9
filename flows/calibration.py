"""The calibration flow: resolve, load, pixel loop, group fits, assess, approve (accept / iterate /
cancel), save. Approval pauses the run (``pause_flow_run``; ``suspend_flow_run`` when started from
a deployment, so long approvals hold no process)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from prefect import flow, get_run_logger, unmapped
from prefect.artifacts import create_image_artifact, create_markdown_artifact, create_progress_artifact, update_progress_artifact
from prefect.context import get_run_context
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run, suspend_flow_run
from prefect.states import Cancelled, Completed

from flows.parameters import Approval, CalibrationParameters
from snapcal_core.errors import StorageError
from snapcal_core.pipeline import CalibrationRequest, RunRef
from snapcal_core.recipe.gate import GateVerdict, evaluate_gate
from snapcal_core.recipe.result_io import ResultSummary
from snapcal_core.report.build import ReportRef, extra_files_for_store
from snapcal_core.report.plots import data_url
from snapcal_core.settings import get_settings
from snapcal_core.storage.applies_to import normalise
from tasks import calibration as t


def work_dir_for(run_number: int, flow_run_id: str) -> Path:
    """Scratch folder of one flow run (every iteration's outputs live under it)."""
    return Path(get_settings().scratch_dir) / f"run_{run_number:06d}" / f"flow_{flow_run_id}"


def run_iteration(ref: RunRef, events: str, request: CalibrationRequest, work: Path, start_table: str | None) -> ResultSummary:
    """Pixel loop (one task per iteration, progress artifact) then the group step."""
    log = get_run_logger()
    table = t.initial_table(events, request, str(work), start_table)
    initial, iterations, stop, converged = table, [], "pixel step skipped", None
    if not request.recipe.skip_pixel:
        limit = request.recipe.pixel.max_iterations
        progress = create_progress_artifact(progress=0.0, description=f"pixel loop, run {ref.run_number}")
        previous = float("inf")
        for i in range(1, limit + 1):
            t0 = time.perf_counter()
            step = t.pixel_iteration(events, request, table, initial, i, previous, str(work))
            s = step.stats
            log.info(f"pixel iteration {i}: median |offset| {s.median_abs_offset_bins:.3f} bins, mean "
                     f"{s.mean_abs_offset_bins:.3f}, masked {s.n_masked}/{s.n_pixels} ({time.perf_counter() - t0:.1f} s)")
            update_progress_artifact(progress, progress=100.0 * i / limit)
            table, previous = step.table_path, s.median_abs_offset_bins
            iterations.append(s)
            if step.done:
                stop, converged = step.stop_reason, step.converged
                break
        update_progress_artifact(progress, progress=100.0)
    t0 = time.perf_counter()
    focus = t.focus_groups(events, request, table, str(work / "focused"))
    fits = t.fit_group.map(unmapped(focus), unmapped(request), focus.group_ids).result()  # side by side
    summary = t.finish_groups(events, request, table, focus, fits, str(work / "result"), iterations, stop, converged)
    log.info(f"group calibration: {len(summary.groups)} groups, "
             f"{sum(g.metrics.n_peaks_fitted for g in summary.groups)} peaks accepted ({time.perf_counter() - t0:.1f} s)")
    return summary


def publish(report: ReportRef, run_number: int) -> str:
    """Markdown report and image artifacts; returns the description shown above the approval form."""
    create_markdown_artifact(markdown=report.markdown, key=f"calibration-report-{run_number}",
                             description=f"iteration {report.iteration}")
    images = ""
    for name, path in report.plots.items():
        url = data_url(Path(path))
        create_image_artifact(image_url=url, description=f"{name}, iteration {report.iteration}")
        images += f"\n\n**{name}**\n\n![{name}]({url})"
    return report.markdown + images


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


def automatic_decision(params: CalibrationParameters, summary: ResultSummary, report: ReportRef,
                       round_: int) -> tuple[Approval | None, dict]:
    """The decision the approval policy takes without a person (None: ask one) and its record."""
    log = get_run_logger()
    accept = dict(decision="accept", applies_to=f">={params.run_number}", iteration=round_)
    if params.approval == "auto":
        return Approval(author=params.auto_author or "auto", comments="accepted automatically", **accept), {"policy": "auto"}
    if params.approval != "gate" or round_ > 1:  # once a person iterated, a person decides
        return None, {"policy": params.approval}
    verdict = evaluate_gate(summary, params.gate, difc_change=report.applicable_change)
    record = {"policy": "gate", "gate": verdict.model_dump(mode="json")}
    if verdict.passed:
        log.info("quality gate: every group passes; accepting automatically")
        return Approval(author=params.auto_author or "quality-gate", comments="accepted by the quality gate", **accept), record
    log.warning(f"quality gate held the run for a person:\n{verdict.explain()}")
    return None, record


def wait_for_decision(description: str, *, params: CalibrationParameters, n_iterations: int, round_: int) -> Approval | None:
    """Pause (or suspend, from a deployment) until a valid decision; None when the wait timed out."""
    log = get_run_logger()
    deployed = get_run_context().flow_run.deployment_id is not None
    problem = ""
    for attempt in range(1, 100):
        form = Approval.with_initial_data(description=(f"**Rejected:** {problem}\n\n" if problem else "") + description,
                                          applies_to=f">={params.run_number}", iteration=n_iterations)
        key = f"approval-{round_}-{attempt}"  # deterministic: a re-executed (resumed) run gets its input back
        try:
            if deployed:
                approval = suspend_flow_run(wait_for_input=form, timeout=params.pause_timeout_s, key=key)
            else:
                approval = pause_flow_run(wait_for_input=form, timeout=params.pause_timeout_s, poll_interval=2, key=key)
        except FlowPauseTimeout:
            return None
        problem = check_approval(approval, n_iterations) or ""
        if not problem:
            return approval
        log.warning(f"approval rejected, still waiting: {problem}")
    return None


def decide(description: str, *, params: CalibrationParameters, summaries: list[ResultSummary],
           report: ReportRef) -> tuple[Approval | None, dict]:
    """Apply the approval policy, then ask a person if it did not decide."""
    approval, record = automatic_decision(params, summaries[-1], report, len(summaries))
    if approval is None:
        if "gate" in record:
            held = GateVerdict.model_validate(record["gate"]).explain().splitlines()
            description = "**The quality gate held this run:**\n\n" + "\n".join(f"- {line}" for line in held) \
                + f"\n\n{description}"
        approval = wait_for_decision(description, params=params, n_iterations=len(summaries), round_=len(summaries))
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


@flow(name="snap-calibration", log_prints=True)
def calibration_flow(params: CalibrationParameters):
    """Calibrate one run: iterate until a person accepts (saved) or cancels (nothing saved)."""
    log = get_run_logger()
    flow_run_id = str(get_run_context().flow_run.id)
    ref = t.resolve_run(params.run_number)
    log.info(f"run {ref.run_number}: IPTS-{ref.ipts}, state {ref.state_id}, {ref.raw_path}")
    events = t.load_events(ref, params.lite)
    work = work_dir_for(ref.run_number, flow_run_id)
    request, start_table, compare = params.request(), None, []
    summaries: list[ResultSummary] = []
    reports: list[ReportRef] = []
    while True:
        summaries.append(run_iteration(ref, events, request, work / f"iteration_{len(summaries) + 1}", start_table))
        reports.append(t.assess(summaries, ref.state, compare))
        description = publish(reports[-1], ref.run_number)
        approval, approval_record = decide(description, params=params, summaries=summaries, report=reports[-1])
        if approval is None:
            leave_expired_pause(flow_run_id)
        if approval is None or approval.decision == "cancel":
            shutil.rmtree(work, ignore_errors=True)
            why = "approval timed out" if approval is None else f"cancelled by {approval.author}"
            log.info(f"{why}; nothing saved, scratch outputs removed")
            return Cancelled(message=f"run {ref.run_number}: {why}; nothing saved")
        if approval.decision == "iterate":
            request = params.model_copy(update=approval.changes()).request()
            start_table = str(Path(summaries[approval.iteration - 1].folder) / "diffract_consts.h5") \
                if approval.start_from_previous else None
            compare = approval.compare_versions
            log.info(f"iterating with {approval.changes() or 'the same inputs'}")
            continue
        chosen = summaries[approval.iteration - 1]
        saved = t.save(chosen, ref.state, approval.author, approval.comments, approval.applies_to,
                       extra_files_for_store(chosen, reports[approval.iteration - 1]), approval_record)
        log.info(f"saved iteration {approval.iteration} as version {saved.version}: {saved.path}")
        return Completed(message=f"saved version {saved.version} at {saved.path}", data=saved.model_dump(mode="json"))
