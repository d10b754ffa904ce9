"""The quality gate's pixel rules: SNAPRed's 15 % of failed fits, and the masked fraction of any reason."""

from __future__ import annotations

from snapcal_core.recipe.faulty import MaskSummary
from snapcal_core.recipe.gate import QualityGate, evaluate_gate, failed_fit_fraction
from snapcal_core.recipe.result_io import ResultSummary


def _summary(**by_reason: int) -> ResultSummary:
    masked = [MaskSummary(group_id=1, n_pixels=1000, by_reason=by_reason)]
    return ResultSummary.model_construct(groups=[], masked=masked, n_pixels=1000, n_masked=sum(by_reason.values()))


def test_failed_fits_above_15_percent_hold_the_run_faulty_and_user_pixels_do_not_count():
    held = evaluate_gate(_summary(failed_fit=160), QualityGate())
    assert not held.passed and any("failed fits 0.160 > 0.15 (SNAPRed's rule)" in f for f in held.run_failures)
    faulty = evaluate_gate(_summary(dead=60, hot=40, user=40, failed_fit=10), QualityGate())
    assert not any("failed fits" in f for f in faulty.run_failures)
    assert failed_fit_fraction(_summary(dead=60, failed_fit=10)) == 0.01
    assert failed_fit_fraction(_summary(low_counts=100, failed_fit=60)) == 0.16  # SNAPRed counts both


def test_the_rules_are_configurable_and_can_be_switched_off():
    gate = QualityGate(max_failed_fit_fraction=None, max_masked_fraction=0.5)
    verdict = evaluate_gate(_summary(failed_fit=300), gate)
    assert not any("failed fits" in f or "masked fraction" in f for f in verdict.run_failures)
    assert any("masked fraction 0.400 > 0.3" in f for f in evaluate_gate(
        _summary(dead=400), QualityGate(max_masked_fraction=0.3)).run_failures)
