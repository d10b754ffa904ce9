"""Detector nuisances of a simulated run, as rough as real SNAP runs; every one off by default.

Model (documented choices; "mean pixel rate" is the run's requested events per native pixel,
``n_events / 1,179,648``; "frame" is the run's TOF range, the state's wavelength band over the
shortest and longest flight paths, :math:`[\\min_p T_{lo,p}, \\max_p T_{hi,p}]`):

- **dead**: whole panels, whole tubes (a line of constant ``ix``: ids ``start + ix*256 .. +255``)
  and a fraction of the remaining pixels record nothing at all;
- **hot**: a fraction of the live pixels record no neutron but noise flat in TOF over the frame,
  at a rate log-uniform in ``hot_rate_range`` times the mean pixel rate;
- **burst**: a few live pixels, otherwise normal, fire ``burst_events_per_pulse`` (Poisson)
  flat-in-TOF events in each of ``burst_pulses`` consecutive pulses (the file is then written
  with explicit pulses, so the burst lands in those pulses of ``event_index``);
- **noisy edge**: the outermost ``edge_width`` rows and columns of every panel get extra noise,
  flat over the frame, at ``edge_rate`` times the mean pixel rate (dead and hot pixels excepted);
- **efficiency**: each pixel's neutron events (Bragg and background) are weighted by
  :math:`\\exp(\\sigma z - \\sigma^2/2)`, :math:`z \\sim N(0, 1)` (log-normal, mean 1, spread
  about :math:`\\sigma`), times a smooth variation across each panel,
  :math:`1 + A \\sum_j c_j f_j(u, v)` with :math:`f \\in \\{u, v, uv, u^2 + v^2 - 1\\}`,
  :math:`u, v \\in [-1, 1]` the panel coordinates and :math:`\\sum_j |c_j| = 1` (so within
  :math:`\\pm A`); the total of neutron events stays ``n_events``, efficiency moves them between pixels;
- **prompt pulse**: ``prompt_fraction * n_events`` extra events, pixels by solid angle times
  efficiency (live, not hot), TOF Gaussian with sigma ``prompt_sigma_us`` around
  :math:`t_k = k \\cdot 10^6/60` us (the 60 Hz source, whatever the chopper frequency), the
  :math:`t_k` inside the frame equally likely; none when no :math:`t_k` is inside the frame (SNAP's
  reference 2.1 angstrom state ends near 14,200 us: use a state reaching past 16,667 us, e.g. 3.0 angstrom);
- **error / unmapped events**: ``bank_error_events`` and ``bank_unmapped_events`` NXevent_data
  groups with ``fraction * n_events`` events whose ids lie outside the instrument.

Steady nuisance events (hot, edge, prompt) are drawn chunk by chunk and inserted at uniformly
random places of the chunk's event stream, so they spread over the whole run's pulses. Every
choice draws from its own ``SeedSequence(seed, spawn_key=(NUISANCE_SPAWN_KEY, ...))``: the clean
events of a chunk keep their own stream, and one nuisance does not move another's pixels.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from snapcal_core.constants import (
    FRAME_US,
    N_NATIVE_PIXELS,
    N_PANELS,
    PANEL_PIXELS_PER_SIDE,
    PIXELS_PER_PANEL,
    TOF_PER_M_ANGSTROM_US,
)
from snapcal_core.simulate.kernels import insert_sorted

#: First spawn-key entry of every nuisance random stream (chunks of clean events use ``(c,)``).
NUISANCE_SPAWN_KEY = 0x4E55
#: Source period (us): prompt pulses sit at its multiples.
SOURCE_PERIOD_US = FRAME_US
#: Diagnostic event groups and a base for their out-of-instrument ids.
ERROR_GROUP, UNMAPPED_GROUP = "bank_error_events", "bank_unmapped_events"
ERROR_ID_BIT = np.uint32(1 << 31)


class NuisanceFlag(enum.IntFlag):
    """Bits of the truth's ``/calibration/nuisance`` column (uint8, one per pixel)."""

    NONE = 0
    DEAD = 1
    HOT = 2
    BURST = 4
    NOISY_EDGE = 8


class Nuisances(BaseModel):
    """Which detector imperfections a simulated run has (every default: none)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dead_fraction: float = Field(0.0, ge=0.0, lt=1.0, description="Fraction of native pixels recording nothing (1)")
    dead_tubes: int = Field(0, ge=0, le=N_PANELS * PANEL_PIXELS_PER_SIDE,
                            description="Dead tubes: whole lines of 256 pixels of constant ix (count)")
    dead_panels: int = Field(0, ge=0, le=N_PANELS, description="Dead panels (count)")
    hot_fraction: float = Field(0.0, ge=0.0, lt=1.0,
                                description="Fraction of native pixels steadily hot: flat noise, no neutrons (1)")
    hot_rate_range: tuple[float, float] = Field((10.0, 100.0), description="Hot rate, log-uniform in this range "
                                                "(multiples of the mean pixel rate)")
    burst_pixels: int = Field(0, ge=0, le=100_000, description="Pixels hot only during a burst of a few pulses (count)")
    burst_pulses: int = Field(3, ge=1, description="Consecutive pulses a burst lasts (pulses)")
    burst_events_per_pulse: float = Field(50.0, gt=0.0, description="Mean burst events per pulse (events)")
    edge_width: int = Field(2, ge=1, le=PANEL_PIXELS_PER_SIDE // 2,
                            description="Width of each panel's noisy edge band (native pixels)")
    edge_rate: float = Field(0.0, ge=0.0, description="Extra flat noise in edge pixels (multiples of the mean pixel "
                             "rate; 0 = no noisy edges)")
    efficiency_spread: float = Field(0.0, ge=0.0, le=2.0, description="Log-normal sigma of the per-pixel efficiency "
                                     "(0.2 = 20 % spread)")
    efficiency_gradient: float = Field(0.0, ge=0.0, lt=1.0, description="Amplitude of the smooth efficiency variation "
                                       "across each panel (0.1 = +-10 %)")
    prompt_fraction: float = Field(0.0, ge=0.0, lt=1.0, description="Prompt-pulse events as a fraction of n_events (1)")
    prompt_sigma_us: float = Field(5.0, gt=0.0, description="Gaussian sigma of each prompt spike (us)")
    error_fraction: float = Field(0.0, ge=0.0, lt=1.0, description="Events in bank_error_events, fraction of n_events")
    unmapped_fraction: float = Field(0.0, ge=0.0, lt=1.0,
                                     description="Events in bank_unmapped_events, fraction of n_events")

    @model_validator(mode="after")
    def _check_rates(self) -> Nuisances:
        lo, hi = self.hot_rate_range
        if not 0.0 < lo <= hi:
            raise ValueError(f"hot_rate_range must satisfy 0 < low <= high, got {self.hot_rate_range}")
        return self

    @classmethod
    def rough(cls) -> Nuisances:
        """The issue's acceptance run: 2 % dead pixels, a dead tube, 0.5 % hot pixels and 12 bursting
        ones, noisy edges (2 pixels, 2x), 20 % efficiency spread with +-10 % across panels, a prompt
        pulse of 1 % of the events, and error (0.02 %) and unmapped (0.1 %) events."""
        return cls(dead_fraction=0.02, dead_tubes=1, hot_fraction=0.005, burst_pixels=12, edge_rate=2.0,
                   efficiency_spread=0.2, efficiency_gradient=0.1, prompt_fraction=0.01, error_fraction=2e-4,
                   unmapped_fraction=1e-3)

    @property
    def changes_pixels(self) -> bool:
        """Whether the neutron events' pixel weights change (dead, hot or efficiency)."""
        return bool(self.dead_fraction or self.dead_tubes or self.dead_panels or self.hot_fraction
                    or self.efficiency_spread or self.efficiency_gradient)

    @property
    def active(self) -> bool:
        """Whether the run differs at all from a perfect detector's."""
        return self.changes_pixels or bool(self.burst_pixels or self.edge_rate or self.prompt_fraction
                                           or self.error_fraction or self.unmapped_fraction)


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(NUISANCE_SPAWN_KEY, *key)))


def _choose(rng: np.random.Generator, candidates: np.ndarray, n: int) -> np.ndarray:
    """``n`` distinct elements of ``candidates`` (all of them if fewer), sorted."""
    n = min(int(n), candidates.size)
    return np.sort(rng.choice(candidates, size=n, replace=False)) if n else np.empty(0, np.int64)


def panel_coordinates() -> tuple[np.ndarray, np.ndarray]:
    """``(ix, iy)`` of every native detector id within its panel (``detid = start + ix*256 + iy``)."""
    within = np.arange(N_NATIVE_PIXELS) % PIXELS_PER_PANEL
    return np.divmod(within, PANEL_PIXELS_PER_SIDE)


def efficiency_factor(settings: Nuisances, *, seed: int) -> np.ndarray:
    """Relative efficiency of every native pixel: log-normal times the smooth panel variation."""
    eff = np.ones(N_NATIVE_PIXELS)
    if settings.efficiency_spread:
        s = settings.efficiency_spread
        eff *= np.exp(s * _rng(seed, 0, 5).standard_normal(N_NATIVE_PIXELS) - 0.5 * s * s)
    if settings.efficiency_gradient:
        ix, iy = panel_coordinates()
        half = 0.5 * (PANEL_PIXELS_PER_SIDE - 1)
        u, v = ix / half - 1.0, iy / half - 1.0
        terms = np.stack([u, v, u * v, u * u + v * v - 1.0])
        c = _rng(seed, 0, 6).normal(size=(N_PANELS, terms.shape[0]))
        c /= np.abs(c).sum(axis=1, keepdims=True)
        coeff = np.repeat(c, PIXELS_PER_PANEL, axis=0).T
        eff *= 1.0 + settings.efficiency_gradient * np.einsum("jn,jn->n", coeff, terms)
    return eff


def prompt_times_us(*, frame_us: tuple[float, float]) -> np.ndarray:
    """Source pulse times :math:`k \\cdot 10^6/60` us, k >= 1, inside the frame ``[lo, hi)``."""
    k = np.arange(max(1, int(np.ceil(frame_us[0] / SOURCE_PERIOD_US))), int(np.ceil(frame_us[1] / SOURCE_PERIOD_US)) + 1)
    t = k * SOURCE_PERIOD_US
    return t[(t >= frame_us[0]) & (t < frame_us[1])]


@dataclass(frozen=True)
class NuisancePlan:
    """Which pixels are bad and how, for one seeded run, and the events that follow from it."""

    settings: Nuisances
    seed: int
    n_events: int
    n_pulses: int
    frame_us: tuple[float, float]
    flags: np.ndarray  # uint8 per native pixel, NuisanceFlag bits
    efficiency: np.ndarray  # float64 per native pixel: neutron weight (0 for dead and hot pixels)
    hot_rate: np.ndarray  # float64 per native pixel: steady hot rate, multiples of the mean pixel rate
    edge_pixels: np.ndarray  # ids receiving edge noise
    burst_id: np.ndarray  # uint32, every burst event, sorted by pulse
    burst_pulse: np.ndarray  # int64
    burst_tof: np.ndarray  # float32
    prompt_us: np.ndarray  # prompt-pulse times inside the frame

    @property
    def mean_pixel_events(self) -> float:
        """Requested events per native pixel over the run."""
        return self.n_events / N_NATIVE_PIXELS

    @property
    def explicit_pulses(self) -> bool:
        """Whether events must be written with their pulse (there are bursts)."""
        return self.settings.burst_pixels > 0

    @property
    def neutron_efficiency(self) -> np.ndarray | None:
        """Per-pixel weight of the neutron events, None when the detector is perfect."""
        return self.efficiency if self.settings.changes_pixels else None

    def chunk_pulse_range(self, chunk: int, n_chunks: int) -> tuple[int, int]:
        """Pulses ``[lo, hi)`` chunk ``chunk`` of ``n_chunks`` fills (explicit-pulse runs)."""
        lo, hi = (np.array([chunk, chunk + 1]) * self.n_pulses) // n_chunks
        return int(min(lo, self.n_pulses - 1)), int(max(hi, min(lo, self.n_pulses - 1) + 1))

    def add_to_chunk(
        self, chunk: int, n_chunks: int, ids: np.ndarray, tof: np.ndarray, *, background_cdf: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, dict[str, int]]:
        """The chunk's events with its share of hot, edge and prompt events inserted at random
        places, its bursts, and each event's pulse (explicit-pulse runs; else None)."""
        rng = _rng(self.seed, 1, chunk)
        s = self.settings
        share = ids.size / self.n_events
        lo, hi = self.frame_us
        parts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if self.hot_rate.any():
            hot = np.flatnonzero(self.hot_rate)
            cum = np.cumsum(self.hot_rate[hot])
            n = rng.poisson(cum[-1] * self.mean_pixel_events * share)
            pixel = hot[np.searchsorted(cum / cum[-1], rng.random(n), side="right")]
            parts["hot"] = pixel, rng.uniform(lo, hi, n)
        if s.edge_rate and self.edge_pixels.size:
            n = rng.poisson(s.edge_rate * self.mean_pixel_events * self.edge_pixels.size * share)
            parts["edge"] = self.edge_pixels[rng.integers(0, self.edge_pixels.size, n)], rng.uniform(lo, hi, n)
        if s.prompt_fraction and self.prompt_us.size:
            n = rng.binomial(ids.size, s.prompt_fraction)
            pixel = np.searchsorted(background_cdf, rng.random(n), side="right")
            t = self.prompt_us[rng.integers(0, self.prompt_us.size, n)] + s.prompt_sigma_us * rng.standard_normal(n)
            parts["prompt"] = pixel, t
        counts = {name: int(p.size) for name, (p, _) in parts.items()}
        if parts:
            extra_id = np.concatenate([p for p, _ in parts.values()]).astype(np.uint32)
            extra_tof = np.concatenate([t for _, t in parts.values()]).astype(np.float32)
            at = np.sort(rng.integers(0, ids.size + 1, extra_id.size))
            ids, tof = insert_sorted(ids, at, extra_id), insert_sorted(tof, at, extra_tof)
        if not self.explicit_pulses:
            return ids, tof, None, counts
        p_lo, p_hi = self.chunk_pulse_range(chunk, n_chunks)
        pulse = p_lo + (np.arange(ids.size, dtype=np.int64) * (p_hi - p_lo)) // max(ids.size, 1)
        last = chunk == n_chunks - 1
        sel = (self.burst_pulse >= p_lo) & ((self.burst_pulse < p_hi) | last)
        at = np.searchsorted(pulse, self.burst_pulse[sel], side="right")
        ids = insert_sorted(ids, at, self.burst_id[sel])
        tof = insert_sorted(tof, at, self.burst_tof[sel])
        pulse = insert_sorted(pulse, at, self.burst_pulse[sel])
        counts["burst"] = int(sel.sum())
        return ids, tof, pulse, counts

    def diagnostic_events(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Events of the ``bank_error_events`` / ``bank_unmapped_events`` groups (ids beyond the
        instrument: unmapped ``>= 1,179,648``, errors with the top bit set), TOF flat over the frame."""
        rng = _rng(self.seed, 2)
        out = {}
        for name, fraction in ((ERROR_GROUP, self.settings.error_fraction),
                               (UNMAPPED_GROUP, self.settings.unmapped_fraction)):
            if not fraction:
                continue
            n = int(round(fraction * self.n_events))
            if name == ERROR_GROUP:
                ids = rng.integers(0, N_NATIVE_PIXELS, n).astype(np.uint32) | ERROR_ID_BIT
            else:
                ids = rng.integers(N_NATIVE_PIXELS, 1 << 31, n).astype(np.uint32)
            out[name] = ids, rng.uniform(*self.frame_us, n).astype(np.float32)
        return out

    def truth_columns(self) -> dict[str, np.ndarray]:
        """Per-native-pixel truth datasets: ``nuisance`` (uint8 flags), ``efficiency`` and ``hot_rate`` (float32)."""
        return {"nuisance": self.flags, "efficiency": self.efficiency.astype(np.float32),
                "hot_rate": self.hot_rate.astype(np.float32)}


def frame_us(*, l_total_m: np.ndarray, band_angstrom: tuple[float, float]) -> tuple[float, float]:
    """TOF range of the run: the band over the shortest and longest flight paths (us)."""
    return (float(TOF_PER_M_ANGSTROM_US * l_total_m.min() * band_angstrom[0]),
            float(TOF_PER_M_ANGSTROM_US * l_total_m.max() * band_angstrom[1]))


def plan_nuisances(
    settings: Nuisances, *, seed: int, n_events: int, n_pulses: int, l_total_m: np.ndarray,
    band_angstrom: tuple[float, float],
) -> NuisancePlan:
    """Pick the bad pixels, efficiencies and bursts of a run (deterministic by ``seed``)."""
    s = settings
    flags = np.zeros(N_NATIVE_PIXELS, np.uint8)
    dead = np.zeros(N_NATIVE_PIXELS, bool)
    panels = _choose(_rng(seed, 0, 0), np.arange(N_PANELS), s.dead_panels)
    dead.reshape(N_PANELS, -1)[panels] = True
    live_lines = np.flatnonzero(~dead.reshape(-1, PANEL_PIXELS_PER_SIDE).all(axis=1))
    tubes = _choose(_rng(seed, 0, 1), live_lines, s.dead_tubes)
    dead.reshape(-1, PANEL_PIXELS_PER_SIDE)[tubes] = True
    dead[_choose(_rng(seed, 0, 2), np.flatnonzero(~dead), round(s.dead_fraction * N_NATIVE_PIXELS))] = True
    flags[dead] |= np.uint8(NuisanceFlag.DEAD)

    rng = _rng(seed, 0, 3)
    hot = _choose(rng, np.flatnonzero(~dead), round(s.hot_fraction * N_NATIVE_PIXELS))
    hot_rate = np.zeros(N_NATIVE_PIXELS)
    lo, hi = np.log(s.hot_rate_range)
    hot_rate[hot] = np.exp(rng.uniform(lo, hi, hot.size))
    flags[hot] |= np.uint8(NuisanceFlag.HOT)

    frame = frame_us(l_total_m=l_total_m, band_angstrom=band_angstrom)
    rng = _rng(seed, 0, 4)
    burst = _choose(rng, np.flatnonzero(~dead & (hot_rate == 0)), s.burst_pixels)
    flags[burst] |= np.uint8(NuisanceFlag.BURST)
    first = rng.integers(0, max(1, n_pulses - s.burst_pulses + 1), burst.size)
    pulses = np.minimum(first[:, None] + np.arange(s.burst_pulses), n_pulses - 1).ravel()
    per_pulse = rng.poisson(s.burst_events_per_pulse, pulses.size)
    burst_pixel = np.repeat(np.repeat(burst, s.burst_pulses), per_pulse)
    burst_pulse = np.repeat(pulses, per_pulse)
    order = np.argsort(burst_pulse, kind="stable")
    burst_tof = rng.uniform(*frame, burst_pulse.size).astype(np.float32)

    edge = np.empty(0, np.int64)
    if s.edge_rate:
        ix, iy = panel_coordinates()
        w, far = s.edge_width, PANEL_PIXELS_PER_SIDE - s.edge_width
        on_edge = (ix < w) | (ix >= far) | (iy < w) | (iy >= far)
        edge = np.flatnonzero(on_edge & ~dead & (hot_rate == 0))
        flags[edge] |= np.uint8(NuisanceFlag.NOISY_EDGE)

    efficiency = efficiency_factor(s, seed=seed)
    efficiency[dead | (hot_rate > 0)] = 0.0
    return NuisancePlan(
        settings=s, seed=seed, n_events=n_events, n_pulses=n_pulses, frame_us=frame, flags=flags,
        efficiency=efficiency, hot_rate=hot_rate, edge_pixels=edge, burst_id=burst_pixel[order].astype(np.uint32),
        burst_pulse=burst_pulse[order].astype(np.int64), burst_tof=burst_tof,
        prompt_us=prompt_times_us(frame_us=frame) if s.prompt_fraction else np.empty(0),
    )
