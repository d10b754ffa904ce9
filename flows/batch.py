"""A batch of calibrations (several runs and/or groupings) in one flow run.

Every (run, grouping) item runs the whole recipe as one task, so the items run side by side on the
flow's task runner: threads on one machine (numba kernels release the GIL), or a Dask cluster
(:func:`dask_batch_flow`; a local cluster by default, or ``SNAPCAL_DASK_ADDRESS``). Items are
judged by the approval policy: ``manual`` saves nothing (a person then calibrates the runs they
pick), ``gate`` saves the items whose every group passes the quality gate, ``auto`` saves all.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, Field

from flows.context import current_flow_run
from flows.parameters import CalibrationParameters
from flows.runners import on_dask
from snapcal_core.preflight import RunRef
from snapcal_core.recipe.difc_fit import FitMode
from snapcal_core.recipe.gate import ApprovalPolicy, QualityGate, evaluate_gate
from snapcal_core.recipe.result_io import ResultSummary
from snapcal_core.report.build import extra_files_for_store
from snapcal_core.settings import get_settings
from snapcal_core.storage.applies_to import default_applies_to
from tasks import calibration as t


class BatchParameters(BaseModel):
    """Runs x groupings calibrated with the same recipe."""

    runs: list[int] = Field(min_length=1, description="Calibrant runs")
    groupings: list[str] = Field(["Column"], min_length=1, description="Groupings, each run is calibrated with each")
    sample: str = Field("diamond", description="Calibrant sample")
    lite: bool = Field(True, description="Lite mode or native pixels")
    fit_mode: FitMode = Field(FitMode.DIFC, description="Constants fitted per group")
    skip_pixel: bool = Field(False, description="Skip the pixel cross-correlation loop")
    approval: ApprovalPolicy = Field(
        "manual", description="manual: save nothing (a person reviews the items); gate: save items passing the quality "
        "gate; auto: save all")
    gate: QualityGate = Field(default_factory=QualityGate, description="Thresholds of the quality gate")
    author: str = Field("batch", min_length=1, description="Author recorded for saved items")
    numba_threads_per_item: int | None = Field(
        1, ge=1, description="numba threads of each item; items run side by side (2 task threads), so 1 fills 2 cores "
                             "without oversubscription (docs/benchmarks.md); null: all cores each")

    def items(self) -> list[CalibrationParameters]:
        return [CalibrationParameters(run_number=r, grouping=g, sample=self.sample, lite=self.lite,
                                      fit_mode=self.fit_mode, skip_pixel=self.skip_pixel)
                for r in self.runs for g in self.groupings]


class BatchItem(BaseModel):
    run_number: int
    grouping: str
    folder: str
    decision: str = Field(description="saved v_NNNN, held by the gate, for review, or failed: <reason>")


def _judge(params: BatchParameters, summary: ResultSummary, ref: RunRef) -> tuple[str, dict | None]:
    """What to do with one item's result: ('save', record) or (why not, None)."""
    report = t.assess([summary], ref.state, [])
    if params.approval == "manual":
        return "for review", None
    record: dict[str, Any] = {"policy": params.approval, "decision": "accept", "author": params.author, "iteration": 1}
    if params.approval == "gate":
        verdict = evaluate_gate(summary, params.gate, difc_change=report.applicable_change)
        record["gate"] = verdict.model_dump(mode="json")
        if not verdict.passed:
            return f"held by the gate: {verdict.explain()}", None
    saved = t.save(summary, ref.state, params.author, f"batch {params.approval}", default_applies_to(summary.run_number),
                   extra_files_for_store(summary, report), record)
    return f"saved v_{saved.version:04d}", record


# The ignore: Prefect infers ThreadPoolTaskRunner[Never] for an unparametrised runner (a typing gap of Prefect)
@flow(name="snap-calibration-batch", task_runner=ThreadPoolTaskRunner(max_workers=2), log_prints=True)  # type: ignore[arg-type]
def batch_flow(params: BatchParameters) -> list[BatchItem]:
    """Calibrate every (run, grouping) item in parallel, then judge and save them one by one."""
    log = get_run_logger()
    root = get_settings().scratch_dir / f"batch_{current_flow_run().id}"
    items = params.items()
    refs = [t.resolve_run.submit(p.request(), params.author) for p in items]  # every item checked before any load
    # Prefect resolves a future passed as an argument; its typed submit() does not accept one: hence the ignore
    futures = [t.recipe.submit(p.request(), ref, str(root / f"run_{p.run_number:06d}_{p.grouping}"),  # type: ignore[call-overload]
                               params.numba_threads_per_item) for p, ref in zip(items, refs, strict=True)]
    out = []
    for p, ref, future in zip(items, refs, futures, strict=True):
        future.wait()
        if not future.state.is_completed():
            why = ref.state.message if not ref.state.is_completed() else future.state.message
            out.append(BatchItem(run_number=p.run_number, grouping=p.grouping, folder="", decision=f"failed: {why}"))
        else:
            summary = future.result()
            decision, _ = _judge(params, summary, ref.result())
            out.append(BatchItem(run_number=p.run_number, grouping=p.grouping, folder=summary.folder, decision=decision))
        log.info(f"run {p.run_number} {p.grouping}: {out[-1].decision}")
    create_table_artifact(table=[i.model_dump() for i in out], key="calibration-batch",
                          description=f"{len(out)} items, policy {params.approval}")
    return out


def dask_batch_flow(address: str | None = None, **cluster_kwargs):
    """``batch_flow`` on a Dask cluster (:func:`flows.runners.dask_runner`)."""
    return on_dask(batch_flow, address, **cluster_kwargs)
