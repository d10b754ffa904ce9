"""Per-pixel DIFC uncertainties scaled by a split-half test of each group.

The Cramer-Rao bound ``b_p`` of a pixel (:mod:`snapcal_core.recipe.pixel_errors`) assumes the
pixel's peaks have the group reference's shape; where they do not (a group's spread of resolution,
a superpixel's mixed natives, background that differs from the reference), the offsets scatter
more than ``b_p``. The per-pixel sandwich estimate sees that, but from one pixel's few hundred
counts it is itself noisy, and flooring it at ``b_p`` biased the reported sigma upwards: on a
simulated rough Lite run (faulty pixels, 20 % efficiency spread) the pull std was 0.87-0.97, while
against ``b_p`` alone it was 0.97-1.12 (1.17 in the widest group of a clean run).

The excess is a property of the group, and two disjoint halves of the events measure it: one
pixel iteration on each half (even / odd events) from the converged constants gives two offsets
per pixel with independent counting errors, so

    c_g = std_p[ (ln DIFC_A,p - ln DIFC_B,p - median_g) / sqrt(b_A,p^2 + b_B,p^2) ]

is the group's ratio of actual to bound scatter (about 1 when the shapes match). The excess also
grows with a pixel's counts (a shape mismatch weighs more against a smaller counting error: on a
rough Lite run, group 6, the pull std went from 0.85-0.91 in the weakest deciles to 1.00 in the
strongest with one factor per group), so ``c`` is measured per group and per quantile bin of the
pixels' counts in the reference windows (``bins_for`` of them, at least MIN_PIXELS_PER_BIN pixels
each: 5 bins of ~600 pixels for a Lite Column group, 10 of ~20,000 in native mode; the factor of
a bin is good to ~3 %). The reported uncertainty is then ``sigma_p = max(c, 1) b_p`` (below the
bound no unbiased estimate goes). Pixels beyond 5 robust standard deviations (a half that jumped
to another maximum) are left out of the std.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from snapcal_core.recipe.pixel import PixelCalibrationResult

#: Half-offset differences beyond this many robust standard deviations are left out of c_g.
CLIP_ROBUST_SIGMA = 5.0
#: A group needs this many pixels used in both halves for its own factor; fewer: 1.
MIN_PIXELS = 20
#: Pixels per count bin at least (the factor of a bin is then good to ~3 %), and at most this many bins.
MIN_PIXELS_PER_BIN = 500
MAX_BINS = 10


@dataclass(frozen=True)
class SplitHalfScale:
    """Each group's split-half factor ``c_g`` over all its pixels, how many pixels made it, and the
    factors per count bin (``bin_edges[g]``: counts in the reference windows, ``bin_factor[g]``)."""

    factor: dict[int, float]
    n_pixels: dict[int, int] = field(default_factory=dict)
    bin_edges: dict[int, np.ndarray] = field(default_factory=dict)
    bin_factor: dict[int, np.ndarray] = field(default_factory=dict)


def bins_for(n_pixels: int) -> int:
    """How many count bins a group of ``n_pixels`` gets (1..MAX_BINS, each of MIN_PIXELS_PER_BIN or more)."""
    return int(np.clip(n_pixels // MIN_PIXELS_PER_BIN, 1, MAX_BINS))


def split_half_scale(*, halves: Sequence[PixelCalibrationResult], group_of_pixel: np.ndarray,
                     group_ids: Sequence[int] | np.ndarray, counts: np.ndarray | None = None) -> SplitHalfScale:
    """``c`` of every group, and per bin of ``counts`` (the pixels' counts in the reference windows;
    None: one bin), from the two half iterations ``halves`` (module docstring)."""
    a, b = halves
    both = (a.use > 0) & (b.use > 0) & np.isfinite(a.statistical_bound) & np.isfinite(b.statistical_bound)
    diff = np.log(a.difc / b.difc)
    combined = np.hypot(a.statistical_bound, b.statistical_bound)
    scale = SplitHalfScale(factor={}, n_pixels={})
    for g in (int(g) for g in group_ids):
        sel = both & (group_of_pixel == g) & np.isfinite(diff)
        scale.n_pixels[g] = int(sel.sum())
        scale.factor[g] = _clipped_std(diff[sel], combined[sel]) if sel.sum() >= MIN_PIXELS else 1.0
        if counts is not None and bins_for(int(sel.sum())) > 1:
            c = counts[sel]
            edges = np.quantile(c, np.linspace(0.0, 1.0, bins_for(int(sel.sum())) + 1))
            which = _bin_of(c, edges)
            scale.bin_edges[g] = edges
            scale.bin_factor[g] = np.array([_clipped_std(diff[sel][which == k], combined[sel][which == k])
                                            for k in range(edges.size - 1)])
    return scale


def _bin_of(counts: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each count (the outer bins take everything below / above the edges)."""
    return np.clip(np.searchsorted(edges, counts, side="right") - 1, 0, edges.size - 2)


def _clipped_std(diff: np.ndarray, combined: np.ndarray) -> float:
    """Std of ``(diff - median) / combined`` over the pixels within CLIP_ROBUST_SIGMA robust sigmas."""
    z = (diff - np.median(diff)) / combined
    robust = 1.4826 * np.median(np.abs(z - np.median(z)))
    core = np.abs(z - np.median(z)) <= CLIP_ROBUST_SIGMA * max(robust, 1e-12)
    return float(np.std(z[core])) if core.sum() >= MIN_PIXELS else 1.0


def scaled_uncertainty(*, bound: np.ndarray, group_of_pixel: np.ndarray, scale: SplitHalfScale,
                       counts: np.ndarray | None = None) -> np.ndarray:
    """``sigma_p = max(c, 1) b_p`` with ``c`` of the pixel's group, and of its count bin when the
    scale has bins and ``counts`` are given (relative DIFC uncertainty; NaN where ``bound`` is)."""
    factor = np.ones(bound.shape)
    for g, c in scale.factor.items():
        members = group_of_pixel == g
        if counts is not None and g in scale.bin_factor:
            factor[members] = scale.bin_factor[g][_bin_of(counts[members], scale.bin_edges[g])]
        else:
            factor[members] = c
    return bound * np.maximum(factor, 1.0)
