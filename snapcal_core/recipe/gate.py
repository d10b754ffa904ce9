"""Unattended approval: a quality gate that accepts a calibration only when every group passes.

A triggered (post-acquisition) calibration may be accepted without a person when the operator
enables the gate; any failing group leaves the run paused for a human. The thresholds and the
verdict of every group are written into the stored record, so an automatic acceptance is as
traceable as a signed one.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, Field

from snapcal_core.recipe.metrics import DifcChange
from snapcal_core.recipe.result_io import GroupSummary, ResultSummary

#: Who decides whether a calibration is saved (the one vocabulary of the flows, the batch and the
#: deployments): ``manual`` a person (the interactive flow pauses; a batch saves nothing, for a person
#: to review), ``gate`` the quality gate (a run that fails it is held for a person), ``auto`` nobody.
ApprovalPolicy = Literal["manual", "gate", "auto"]


class QualityGate(BaseModel):
    """Thresholds every group must meet for an automatic acceptance (None disables a check)."""

    min_peaks_fitted: int = Field(3, ge=1, description="Accepted peak fits per group, at least")
    max_sigma_over_d: float | None = Field(0.012, gt=0, description="Mean fitted sigma/d of a group, at most")
    max_abs_strain_ppm: float | None = Field(300.0, gt=0, description="|mean relative strain| of a group (ppm), at most")
    max_strain_std_ppm: float | None = Field(500.0, gt=0, description="Std of the relative strain over a group's peaks (ppm)")
    max_difc_change_ppm: float | None = Field(
        10_000.0, gt=0, description="|mean DIFC change| of a group against the applicable calibration (ppm), at most")
    max_masked_fraction: float | None = Field(0.15, ge=0, le=1, description="Fraction of pixels masked for any "
                                              "reason (faulty, failed fit, user), at most")
    max_failed_fit_fraction: float | None = Field(
        0.15, ge=0, le=1, description="SNAPRed's rule: fraction of pixels newly masked by the pixel loop (failed "
        "fits and too few events), at most (faulty pixels found before the loop and the user's mask not counted)")


class GroupVerdict(BaseModel):
    group_id: int
    passed: bool
    failures: list[str] = Field(description="Why the group fails (empty when it passes)")


class GateVerdict(BaseModel):
    """The gate's decision on one calibration, with the thresholds it applied."""

    passed: bool
    groups: list[GroupVerdict]
    run_failures: list[str] = Field(default_factory=list, description="Failures not tied to one group")
    thresholds: QualityGate

    def explain(self) -> str:
        lines = list(self.run_failures) + [f"group {g.group_id}: {'; '.join(g.failures)}" for g in self.groups if not g.passed]
        return "all groups pass" if self.passed else "\n".join(lines)


def _above(value: float, limit: float | None) -> bool:
    """True when ``value`` breaks an upper limit (a NaN metric always does)."""
    return limit is not None and not (math.isfinite(value) and value <= limit)


def _group_failures(group: GroupSummary, gate: QualityGate, change: DifcChange | None) -> list[str]:
    m = group.metrics
    out = []
    if m.n_peaks_fitted < gate.min_peaks_fitted:
        out.append(f"{m.n_peaks_fitted} peaks fitted < {gate.min_peaks_fitted}")
    if _above(m.sigma_mean, gate.max_sigma_over_d):
        out.append(f"sigma/d {m.sigma_mean:.4g} > {gate.max_sigma_over_d}")
    if _above(abs(m.relative_strain_ppm_mean), gate.max_abs_strain_ppm):
        out.append(f"|strain| {abs(m.relative_strain_ppm_mean):.4g} ppm > {gate.max_abs_strain_ppm}")
    if _above(m.relative_strain_ppm_std, gate.max_strain_std_ppm):
        out.append(f"strain std {m.relative_strain_ppm_std:.4g} ppm > {gate.max_strain_std_ppm}")
    if change is not None and _above(abs(change.mean_ppm), gate.max_difc_change_ppm):
        out.append(f"|DIFC change| {abs(change.mean_ppm):.4g} ppm > {gate.max_difc_change_ppm}")
    return out


def failed_fit_fraction(summary: ResultSummary) -> float:
    """Fraction of the grouped pixels the pixel loop masked: their fit failed, or they had too few
    events for one (SNAPRed's rule counts both: its cross-correlation fails on either)."""
    failed = sum(m.by_reason.get("failed_fit", 0) + m.by_reason.get("low_counts", 0) for m in summary.masked)
    return failed / summary.n_pixels if summary.n_pixels else 0.0


def evaluate_gate(summary: ResultSummary, gate: QualityGate, *, difc_change: list[DifcChange] | None = None) -> GateVerdict:
    """Judge every group of ``summary``; ``difc_change`` is the change against the applicable
    calibration (None or empty when the state has none: that check is then not applied)."""
    changes = {c.group_id: c for c in difc_change or []}
    groups = []
    for g in summary.groups:
        failures = _group_failures(g, gate, changes.get(g.group_id))
        groups.append(GroupVerdict(group_id=g.group_id, passed=not failures, failures=failures))
    run_failures = []
    masked = summary.n_masked / summary.n_pixels if summary.n_pixels else 1.0
    if _above(masked, gate.max_masked_fraction):
        run_failures.append(f"masked fraction {masked:.3f} > {gate.max_masked_fraction}")
    failed = failed_fit_fraction(summary)
    if _above(failed, gate.max_failed_fit_fraction):
        run_failures.append(f"pixels masked by failed fits {failed:.3f} > {gate.max_failed_fit_fraction} (SNAPRed's rule)")
    if not groups:
        run_failures.append("no group was calibrated")
    passed = not run_failures and all(g.passed for g in groups)
    return GateVerdict(passed=passed, groups=groups, run_failures=run_failures, thresholds=gate)
