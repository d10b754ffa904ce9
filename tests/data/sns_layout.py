"""SNS event files as the facility's data acquisition writes them, built with h5py alone.

Not snapcal's writer: ``/entry`` (NXentry) holds one ``bank<N>_events`` group (NXevent_data,
``NX_class`` stored as bytes for some groups and as str for others) per panel present, with
``event_id`` uint32, ``event_time_offset`` float32 (``units`` = microsecond), ``event_time_zero``
float64 (``units`` = second, ``offset`` = ISO start time), ``event_index`` uint64 and
``total_counts``; plus ``bank_error_events`` and ``bank_unmapped_events``, a monitor
(NXmonitor), an NXinstrument, the run scalars and ``DASlogs`` (NXlog groups with ``value`` and
``time``). The returned :class:`Truth` says which event is in which pulse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from snapcal_core.constants import (
    REFERENCE_ARC_DEG,
    REFERENCE_FREQUENCY_HZ,
    REFERENCE_GUIDE,
    REFERENCE_LIN_M,
    REFERENCE_WAVELENGTH_ANGSTROM,
)

#: The 18 SNAP panels in detector-id order: bank11, bank12, bank13, bank21, ..., bank63.
PANELS = [f"bank{col}{row}" for col in range(1, 7) for row in range(1, 4)]
PIXELS_PER_PANEL = 65536
N_NATIVE_PIXELS = 18 * PIXELS_PER_PANEL
START = "2026-02-03T04:05:06.123456789-05:00"
END = "2026-02-03T04:05:08.123456789-05:00"
PULSE_S = 1 / 60
#: TOF inside every pixel's band at the reference state (about 2,550-14,300 us), and outside it.
IN_BAND_US, OUT_OF_BAND_US = (2600.0, 14000.0), (15000.0, 16500.0)
STATE_PVS = {
    "det_arc1": REFERENCE_ARC_DEG[0], "det_arc2": REFERENCE_ARC_DEG[1],
    "det_lin1": REFERENCE_LIN_M[0], "det_lin2": REFERENCE_LIN_M[1],
    "BL3:Chop:Skf1:WavelengthUserReq": REFERENCE_WAVELENGTH_ANGSTROM,
    "BL3:Det:TH:BL:Frequency": REFERENCE_FREQUENCY_HZ, "BL3:Mot:OpticsPos:Pos": float(REFERENCE_GUIDE),
}


@dataclass(frozen=True)
class Layout:
    """What the file holds besides full panels."""

    missing: tuple[str, ...] = ("bank42",)  # panels without a group
    zero_length: tuple[str, ...] = ("bank23",)  # groups whose datasets have length 0
    no_event_id: tuple[str, ...] = ("bank51",)  # groups with pulses but no event_id / event_time_offset
    out_of_range: dict[str, int] = field(default_factory=lambda: {"bank63": 5, "bank11": 2})  # ids >= 1,179,648
    n_error: int = 7
    n_unmapped: int = 4
    n_pulses: int = 120  # 2 s at 60 Hz
    mean_events_per_pulse: float = 3.0
    extra_groups: tuple[str, ...] = ()  # further NXevent_data groups (ids on panel 0)


@dataclass(frozen=True)
class Truth:
    """The events written, group by group (file order of the events), and the pulse times."""

    path: Path
    events: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]  # group -> (event_id, tof_us, pulse of each)
    pulse_time_s: np.ndarray
    n_error: int
    n_unmapped: int

    def concatenated(self, groups: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ids, TOFs and pulses of ``groups``, group after group."""
        parts = [self.events[g] for g in groups]
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))


def _class(obj: h5py.HLObject, nx_class: str, *, as_bytes: bool = True) -> None:
    obj.attrs["NX_class"] = np.bytes_(nx_class) if as_bytes else nx_class


def _array(group: h5py.Group, name: str, data: np.ndarray, **attrs: str) -> None:
    ds = group.create_dataset(name, data=data, chunks=True, maxshape=(None,), compression="gzip")
    for key, value in attrs.items():
        ds.attrs[key] = np.bytes_(value)


def _pulses(group: h5py.Group, pulse_time_s: np.ndarray, event_index: np.ndarray) -> None:
    _array(group, "event_time_zero", pulse_time_s.astype(np.float64), units="second", offset=START)
    _array(group, "event_index", event_index.astype(np.uint64))


def _event_group(entry: h5py.Group, name: str, *, ids: np.ndarray, tof_us: np.ndarray, pulse: np.ndarray,
                 pulse_time_s: np.ndarray, as_bytes: bool = True, with_events: bool = True) -> None:
    """An NXevent_data group; ``pulse`` (ascending) is each event's pulse number."""
    group = entry.create_group(name)
    _class(group, "NXevent_data", as_bytes=as_bytes)
    if with_events:
        _array(group, "event_id", ids.astype(np.uint32))
        _array(group, "event_time_offset", tof_us.astype(np.float32), units="microsecond")
    index = np.searchsorted(pulse, np.arange(pulse_time_s.size), side="left")
    _pulses(group, pulse_time_s, index)
    group.create_dataset("total_counts", data=np.array([ids.size], np.uint64))


def _panel_events(rng: np.random.Generator, k: int, *, layout: Layout, bank: str
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    counts = rng.poisson(layout.mean_events_per_pulse, layout.n_pulses)  # some pulses hold no event
    pulse = np.repeat(np.arange(layout.n_pulses), counts)
    n = pulse.size
    ids = (k * PIXELS_PER_PANEL + rng.integers(0, PIXELS_PER_PANEL, n)).astype(np.uint32)
    tof = rng.uniform(*IN_BAND_US, n)
    outside = rng.random(n) < 0.1
    tof[outside] = rng.uniform(*OUT_OF_BAND_US, int(outside.sum()))
    bad = rng.choice(n, layout.out_of_range.get(bank, 0), replace=False)
    ids[bad] = N_NATIVE_PIXELS + rng.integers(0, 1000, bad.size)
    return ids, tof.astype(np.float32), pulse


def _scalars(entry: h5py.Group, *, run: int) -> None:
    for name, text in (("run_number", str(run)), ("title", "facility layout"), ("start_time", START),
                       ("end_time", END), ("definition", "NXsnsevent")):
        entry.create_dataset(name, data=np.array([text.encode()]))
    entry.create_dataset("duration", data=np.array([2.0], np.float32)).attrs["units"] = np.bytes_("second")
    entry.create_dataset("proton_charge", data=np.array([2.5e12])).attrs["units"] = np.bytes_("picoCoulomb")
    instrument = entry.create_group("instrument")
    _class(instrument, "NXinstrument")
    instrument.create_dataset("name", data=np.array([b"SNAP"]))


def _das_logs(entry: h5py.Group) -> None:
    logs = entry.create_group("DASlogs")
    _class(logs, "NXcollection")
    for pv, value in {**STATE_PVS, "proton_charge": 1.2e7}.items():
        log = logs.create_group(pv)
        _class(log, "NXlog")
        log.create_dataset("value", data=np.array([value + 1.0, value, value]))  # the last value is the state
        time = log.create_dataset("time", data=np.array([0.0, 0.5, 1.5]))
        time.attrs["units"], time.attrs["start"] = np.bytes_("second"), np.bytes_(START)


def _monitor(entry: h5py.Group, pulse_time_s: np.ndarray) -> None:
    """An event-mode beam monitor: NXmonitor, not NXevent_data, so no detector events."""
    monitor = entry.create_group("monitor1")
    _class(monitor, "NXmonitor")
    _array(monitor, "event_time_offset", np.linspace(100, 16000, 50).astype(np.float32), units="microsecond")
    _pulses(monitor, pulse_time_s, np.zeros(pulse_time_s.size))


def write_sns_file(path: Path, *, run: int = 101, seed: int = 0, layout: Layout = Layout()) -> Truth:
    """A small SNS-layout event file at ``path`` (parents created); returns what it holds."""
    rng = np.random.default_rng(seed)
    pulse_time_s = np.arange(layout.n_pulses) * PULSE_S + 0.25  # the first pulse a bit after the start
    path.parent.mkdir(parents=True, exist_ok=True)
    events: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    empty = (np.empty(0, np.uint32), np.empty(0, np.float32), np.empty(0, np.int64))
    with h5py.File(path, "w") as f:
        entry = f.create_group("entry")
        _class(entry, "NXentry")
        for k, bank in enumerate(PANELS):
            if bank in layout.missing:
                continue
            full = bank not in layout.zero_length + layout.no_event_id
            events[f"{bank}_events"] = _panel_events(rng, k, layout=layout, bank=bank) if full else empty
            _event_group(entry, f"{bank}_events", **dict(zip(("ids", "tof_us", "pulse"), events[f"{bank}_events"])),
                         pulse_time_s=pulse_time_s, as_bytes=k % 2 == 0, with_events=bank not in layout.no_event_id)
        for name in layout.extra_groups:
            events[name] = _panel_events(rng, 0, layout=layout, bank=name)
            _event_group(entry, name, **dict(zip(("ids", "tof_us", "pulse"), events[name])), pulse_time_s=pulse_time_s)
        for name, n, id_range in (("bank_error_events", layout.n_error, (2**31, 2**32 - 1)),
                                  ("bank_unmapped_events", layout.n_unmapped, (0, 1000))):  # unmapped: ids in range
            pulse = np.sort(rng.integers(0, layout.n_pulses, n))
            _event_group(entry, name, ids=rng.integers(*id_range, n).astype(np.uint32),
                         tof_us=rng.uniform(*IN_BAND_US, n), pulse=pulse, pulse_time_s=pulse_time_s)
        _monitor(entry, pulse_time_s)
        _scalars(entry, run=run)
        _das_logs(entry)
    return Truth(path=path, events=events, pulse_time_s=pulse_time_s, n_error=layout.n_error,
                 n_unmapped=layout.n_unmapped)
