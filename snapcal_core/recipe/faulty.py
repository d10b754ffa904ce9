"""Faulty pixels found from the data alone, before the pixel loop, each with its reason.

The native pixels of a raw file were screened by their counts at load already
(:mod:`snapcal_core.data.screen`, their events dropped); this step looks at the pixels the
recipe calibrates (Lite superpixels or native pixels) with their peak content too.

A pixel is compared with what its neighbours say it should count: the median of the counts in
a square of pixels around it on its panel (solid angle and efficiency vary slowly across a
panel, so the local median follows them while one bad pixel does not move it):

- **dead**: far fewer counts than its neighbours (a dead panel: its median far below the other
  panels of its group);
- **hot**: far more counts than its neighbours;
- **noisy**: extra counts without a diffraction pattern: a smaller share of its counts in the
  calibrant's peak windows than its neighbours have (a hot pixel that is not hot enough to
  stand out by counts alone, a noisy panel edge).

Every test asks for a Poisson (or binomial) significance and a relative size, so a good pixel
is masked only by a fluctuation of ``p_value`` or less. The result is data: a reason per pixel.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import ndimage, stats

from snapcal_core.constants import N_LITE_PIXELS, N_NATIVE_PIXELS, N_PANELS
from snapcal_core.data.screen import MaskReason, significant


class FaultySettings(BaseModel):
    """Thresholds of the faulty-pixel detection."""

    model_config = ConfigDict(frozen=True)

    detect: bool = Field(True, description="Look for dead, hot and noisy pixels before the pixel loop")
    p_value: float = Field(1e-7, gt=0.0, lt=0.01, description="Largest chance probability of a flagged good pixel")
    dead_ratio: float = Field(0.3, gt=0.0, lt=1.0, description="Dead: counts below this fraction of the neighbours'")
    hot_ratio: float = Field(2.5, gt=1.0, description="Hot: counts above this multiple of the neighbours'")
    contrast_ratio: float = Field(0.85, gt=0.0, lt=1.0, description="Noisy: share of counts in peak windows below "
                                  "this fraction of the neighbours' share")
    neighbourhood: int = Field(7, ge=3, description="Side of the square of neighbours (pixels, odd)")
    dead_panel_ratio: float = Field(0.05, gt=0.0, lt=1.0, description="Dead panel: median counts below this fraction "
                                    "of the median panel of its group")


def _panels(values: np.ndarray) -> np.ndarray:
    side = int(round(np.sqrt(values.size // N_PANELS)))
    return values.reshape(N_PANELS, side, side)


def _snap_layout(n_pixels: int) -> bool:
    return n_pixels in (N_NATIVE_PIXELS, N_LITE_PIXELS)


def local_median(values: np.ndarray, *, size: int, group_of_pixel: np.ndarray) -> np.ndarray:
    """Median of each pixel's ``size x size`` square on its own panel (edges: the nearest pixels
    repeat); for pixels not laid out as SNAP's panels, the median of the pixel's group."""
    if not _snap_layout(values.size):
        out = np.full(values.size, np.nan)
        for g in np.unique(group_of_pixel):
            out[group_of_pixel == g] = np.median(values[group_of_pixel == g])
        return out
    size += 1 - size % 2
    filtered: np.ndarray = ndimage.median_filter(_panels(values.astype(np.float64)), size=(1, size, size), mode="nearest")
    return filtered.ravel()


def dead_panels(counts: np.ndarray, group_of_pixel: np.ndarray, *, ratio: float) -> np.ndarray:
    """Pixels of panels whose median count is below ``ratio`` x the median panel of the same group
    (none for pixels not laid out as SNAP's panels)."""
    if not _snap_layout(counts.size):
        return np.zeros(counts.size, bool)
    per_panel = np.median(_panels(counts), axis=(1, 2))
    panel_group = _panels(group_of_pixel)[:, 0, 0]
    dead = np.zeros(N_PANELS, bool)
    for g in np.unique(panel_group[panel_group > 0]):
        members = panel_group == g
        dead[members] = per_panel[members] < ratio * np.median(per_panel[members])
    return np.repeat(dead, counts.size // N_PANELS)


def faulty_pixels(
    *, counts: np.ndarray, window_counts: np.ndarray, group_of_pixel: np.ndarray,
    settings: FaultySettings = FaultySettings(),
) -> np.ndarray:
    r"""The reason (:class:`MaskReason`, uint8) of every pixel; ``NONE`` for a good one.

    With :math:`n_i` the pixel's counts, :math:`\mu_i` the local median of the counts and
    :math:`f_i` the local median of the share :math:`w/n` of counts inside the peak windows:

    .. math::
        \text{dead: } n_i < r_d\,\mu_i,\ P(N \le n_i \mid \mu_i) < p; \qquad
        \text{hot: } n_i > r_h\,\mu_i,\ P(N \ge n_i \mid \mu_i) < p;

        \text{noisy: } w_i < r_c f_i n_i,\ P(W \le w_i \mid n_i, f_i) < p \quad (W \sim \mathrm{Bin}(n_i, f_i)).

    Pixels outside every group are never flagged.
    """
    s = settings
    reason = np.zeros(counts.size, np.uint8)
    in_group = group_of_pixel > 0
    if not s.detect:
        return reason
    mu = np.maximum(local_median(counts, size=s.neighbourhood, group_of_pixel=group_of_pixel), 1e-9)
    dead = significant(counts < s.dead_ratio * mu, lambda i: stats.poisson.cdf(counts[i], mu[i]), s.p_value) | \
        dead_panels(counts, group_of_pixel, ratio=s.dead_panel_ratio)
    hot = significant(counts > s.hot_ratio * mu, lambda i: stats.poisson.sf(counts[i] - 1, mu[i]), s.p_value)
    share = np.where(counts > 0, window_counts / np.maximum(counts, 1), np.nan)
    share = np.nan_to_num(share, nan=np.nanmedian(share) if np.isfinite(share).any() else 0.5)
    f = np.clip(local_median(share, size=s.neighbourhood, group_of_pixel=group_of_pixel), 1e-6, 1 - 1e-6)
    noisy = significant(window_counts < s.contrast_ratio * f * counts,
                         lambda i: stats.binom.cdf(window_counts[i], counts[i], f[i]), s.p_value)
    reason[in_group & noisy] = MaskReason.NOISY
    reason[in_group & hot] = MaskReason.HOT
    reason[in_group & dead] = MaskReason.DEAD
    return reason


class MaskSummary(BaseModel):
    """Pixels masked in one group, by reason."""

    group_id: int
    n_pixels: int
    by_reason: dict[str, int] = Field(
        description="Masked pixels per reason name (dead, hot, noisy, failed_fit, user, low_counts)")

    @property
    def n_masked(self) -> int:
        return sum(self.by_reason.values())

    @property
    def fraction(self) -> float:
        return self.n_masked / self.n_pixels if self.n_pixels else 0.0


def mask_summary(*, reason: np.ndarray, group_of_pixel: np.ndarray) -> list[MaskSummary]:
    """Masked pixels per group and reason (groups in id order)."""
    out = []
    for g in np.unique(group_of_pixel[group_of_pixel > 0]):
        members = group_of_pixel == g
        codes = np.bincount(reason[members], minlength=len(MaskReason))
        out.append(MaskSummary(group_id=int(g), n_pixels=int(members.sum()),
                               by_reason={r.name.lower(): int(codes[r]) for r in MaskReason if r and codes[r]}))
    return out
