"""Screen the native pixels of a raw file by their counts, before the band crop and the Lite map.

A dead, hot or noisy native pixel is a detector fault, so it is found, and its events dropped,
at the native level in both modes: in Lite mode one hot native pixel would otherwise put flat
noise into its superpixel, and a dead one would only lower it. Each native pixel is compared
with the mean of its neighbours on the panel (a square around it, the extreme pixels clipped
first so that they do not lift their neighbours), and each panel line (a tube) with its panel:

- **dead**: far fewer counts than expected (Poisson), or a whole line/panel far below the others;
- **hot** / **noisy**: far more counts than expected (Poisson) and more than ``hot_ratio`` times as
  many: hot from ``hot_from_ratio`` times, noisy below (a noisy panel edge, a pixel that bursts in a
  few pulses adds as much); a whole line (a panel edge) whose median pixel is high is noisy.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import ndimage, stats

from snapcal_core.constants import N_NATIVE_PIXELS, N_PANELS, PANEL_PIXELS_PER_SIDE


class MaskReason(enum.IntEnum):
    """Why a pixel is masked (0: it is not)."""

    NONE = 0
    DEAD = 1
    HOT = 2
    NOISY = 3
    FAILED_FIT = 4
    USER = 5
    LOW_COUNTS = 6  # the pixel loop: too few events for an offset (not a failed fit)


class ScreenSettings(BaseModel):
    """Thresholds of the native-pixel screening at load."""

    model_config = ConfigDict(frozen=True)

    screen: bool = Field(True, description="Screen the native pixels of a raw file and drop the faulty ones' events")
    p_value: float = Field(1e-4, gt=0.0, lt=0.01, description="Largest chance probability of a flagged good pixel")
    dead_ratio: float = Field(0.25, gt=0.0, lt=1.0, description="Dead: counts below this fraction of the expected")
    hot_ratio: float = Field(2.5, gt=1.0, description="Excess: counts above this multiple of the expected (noisy; "
                             "hot from hot_from_ratio)")
    hot_from_ratio: float = Field(5.0, gt=1.0, description="An excess this large or larger is hot, a smaller one noisy")
    line_ratio: float = Field(0.2, gt=0.0, lt=1.0, description="Dead line or panel: counts below this fraction of "
                              "the panel's median line (or the median panel)")
    noisy_line_ratio: float = Field(1.5, gt=1.0, description="Noisy line (a panel edge): its median pixel above "
                                    "this multiple of the panel's median line median")
    neighbourhood: int = Field(9, ge=3, description="Side of the square of neighbours (native pixels, odd)")
    min_median_counts: float = Field(5.0, ge=0.0, description="Screen only when the median native pixel has at "
                                     "least this many events (fewer say nothing about a single pixel)")
    edge_lines: int = Field(4, ge=0, description="A panel's outer lines take their expected counts from the lines "
                            "inside them (a noisy edge would otherwise raise its own expectation)")


def significant(candidate: np.ndarray, tail: Callable[[np.ndarray], np.ndarray], p_value: float) -> np.ndarray:
    """``candidate`` where also ``tail(indices) < p_value``: the (slow) tail probability is only
    computed for the pixels whose ratio already flags them."""
    out = np.zeros(candidate.size, bool)
    where = np.flatnonzero(candidate)
    out[where[tail(where) < p_value]] = True
    return out


def native_counts(ids: np.ndarray) -> np.ndarray:
    """Events per native pixel (ids beyond the instrument ignored), int64."""
    valid = ids[ids < N_NATIVE_PIXELS] if ids.size and ids.max() >= N_NATIVE_PIXELS else ids
    return np.bincount(valid, minlength=N_NATIVE_PIXELS)


def expected_counts(counts: np.ndarray, *, size: int, edge_lines: int = 4) -> np.ndarray:
    r"""Each pixel's expected counts: the mean over a ``size x size`` square on its panel of the
    counts clipped to ``[median/4, 4 median]`` of the panel (so faulty pixels barely move it), the
    outer ``edge_lines`` lines of each side replaced first by the mirror image of the lines inside."""
    panels = counts.reshape(N_PANELS, PANEL_PIXELS_PER_SIDE, PANEL_PIXELS_PER_SIDE).astype(np.float64)
    median = np.median(panels, axis=(1, 2), keepdims=True)
    clipped = np.clip(panels, 0.25 * median, 4.0 * median)
    k = edge_lines
    if k:
        for axis in (1, 2):
            inner = np.take(clipped, np.arange(2 * k - 1, k - 1, -1), axis=axis)
            outer = np.take(clipped, np.arange(-k - 1, -2 * k - 1, -1), axis=axis)
            index = [slice(None)] * 3
            index[axis] = slice(0, k)
            clipped[tuple(index)] = inner
            index[axis] = slice(-k, None)
            clipped[tuple(index)] = outer
    size += 1 - size % 2
    smoothed: np.ndarray = ndimage.uniform_filter(clipped, size=(1, size, size), mode="mirror")
    return smoothed.ravel()


def dead_lines(counts: np.ndarray, *, ratio: float) -> np.ndarray:
    """Pixels of lines (fixed ix: ``start + ix*256 ... +255``) or panels far below their panel's median
    line (or the median panel)."""
    panels = counts.reshape(N_PANELS, PANEL_PIXELS_PER_SIDE, PANEL_PIXELS_PER_SIDE)
    lines = panels.sum(axis=2).astype(np.float64)  # (panel, ix)
    dead_line = lines < ratio * np.median(lines, axis=1, keepdims=True)
    per_panel = lines.sum(axis=1)
    dead_panel = per_panel < ratio * np.median(per_panel)
    dead = dead_line | dead_panel[:, None]
    return np.repeat(dead[:, :, None], PANEL_PIXELS_PER_SIDE, axis=2).ravel()


def noisy_lines(counts: np.ndarray, *, ratio: float) -> np.ndarray:
    """Pixels of lines, in either direction of a panel, whose median pixel is above ``ratio`` x the
    panel's median of line medians (a noisy edge: a hot pixel does not move a line's median)."""
    panels = counts.reshape(N_PANELS, PANEL_PIXELS_PER_SIDE, PANEL_PIXELS_PER_SIDE).astype(np.float64)
    noisy = np.zeros(panels.shape, bool)
    for axis in (1, 2):
        medians = np.median(panels, axis=3 - axis)  # (panel, line) along the other direction
        line = medians > ratio * np.median(medians, axis=1, keepdims=True)
        noisy |= np.expand_dims(line, axis=3 - axis)
    return noisy.ravel()


def screen_native(counts: np.ndarray, settings: ScreenSettings = ScreenSettings()) -> np.ndarray:
    r"""The reason (:class:`MaskReason`, uint8) of every native pixel, ``NONE`` for a good one.

    With :math:`n` a pixel's counts and :math:`\mu` its expected counts (:func:`expected_counts`):

    .. math::
        \text{dead: } n < r_d \mu \ \wedge\ P(N \le n \mid \mu) < p
            \quad\text{or its line or panel dead (:func:`dead_lines`)}; \qquad
        \text{excess: } n > r_h \mu \ \wedge\ P(N \ge n \mid \mu) < p
            \quad (\text{hot from } n \ge r_{hot} \mu, \text{ else noisy});

    and noisy: every pixel of a line whose median is high (:func:`noisy_lines`).
    """
    s = settings
    reason = np.zeros(counts.size, np.uint8)
    if not s.screen or counts.size != N_NATIVE_PIXELS or np.median(counts) < s.min_median_counts:
        return reason
    mu = np.maximum(expected_counts(counts, size=s.neighbourhood, edge_lines=s.edge_lines), 1e-9)
    dead = dead_lines(counts, ratio=s.line_ratio) | significant(
        counts < s.dead_ratio * mu, lambda i: stats.poisson.cdf(counts[i], mu[i]), s.p_value)
    excess = significant(counts > s.hot_ratio * mu, lambda i: stats.poisson.sf(counts[i] - 1, mu[i]), s.p_value)
    reason[excess] = np.where(counts[excess] >= s.hot_from_ratio * mu[excess], MaskReason.HOT, MaskReason.NOISY)
    reason[noisy_lines(counts, ratio=s.noisy_line_ratio) & (reason == MaskReason.NONE)] = MaskReason.NOISY
    reason[dead] = MaskReason.DEAD
    return reason


def reason_counts(reason: np.ndarray) -> dict[str, int]:
    """Masked pixels per reason name (only the reasons present)."""
    codes = np.bincount(reason, minlength=len(MaskReason))
    return {r.name.lower(): int(codes[r]) for r in MaskReason if r and codes[r]}
