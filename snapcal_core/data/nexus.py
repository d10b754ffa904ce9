"""SNS-layout NeXus event files: a streaming writer (simulator, Lite copies) and the bank layout.

Layout (SCIENCE.md): ``/entry/bank<N>_events`` (NXevent_data) with ``event_id`` uint32,
``event_time_offset`` float32 (us), ``event_time_zero`` float64 (s), ``event_index`` uint64;
``/entry/run_number``, ``title``, ``start_time``, ``end_time``, ``duration``, ``proton_charge``;
``/entry/DASlogs/<PV>`` (NXlog with ``value`` and ``time``).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import h5py
import numpy as np

from snapcal_core.constants import LITE_PIXELS_PER_PANEL, N_PANELS, PIXELS_PER_PANEL

#: Bank names in panel order k = 0..17 (the IDF's panel names).
BANK_NAMES: tuple[str, ...] = tuple(f"bank{col}{row}" for col in range(1, 7) for row in range(1, 4))
PULSE_HZ = 60.0


def _nx(group: h5py.Group, nx_class: str) -> h5py.Group:
    group.attrs["NX_class"] = np.bytes_(nx_class)
    return group


def _string(group: h5py.Group, name: str, text: str) -> None:
    raw = text.encode()
    group.create_dataset(name, data=np.array([raw], dtype=f"S{max(len(raw), 1)}"))


def end_time_iso(start_time: str, duration_s: float) -> str:
    """ISO end time ``start + duration``."""
    return (dt.datetime.fromisoformat(start_time) + dt.timedelta(seconds=duration_s)).isoformat()


class EventFileWriter:
    """Stream events into an SNS-layout event file; nothing appears at ``path`` until :meth:`close`."""

    def __init__(
        self,
        path: Path | str,
        *,
        run_number: int,
        title: str,
        start_time: str,
        duration_s: float,
        proton_charge: float,
        das_logs: dict[str, float],
        compression: str | None = "gzip",
        lite: bool = False,
        chunk_events: int = 1 << 20,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
        self._pixels_per_panel = LITE_PIXELS_PER_PANEL if lite else PIXELS_PER_PANEL
        self._meta = dict(run_number=run_number, title=title, start_time=start_time, duration_s=duration_s,
                          proton_charge=proton_charge, das_logs=das_logs)
        self._file = h5py.File(self._tmp, "w")
        entry = _nx(self._file.create_group("entry"), "NXentry")
        opts = dict(chunks=(min(chunk_events, 1 << 20),), maxshape=(None,), compression=compression)
        if compression == "gzip":
            opts["compression_opts"] = 1
        self._banks = []
        for name in BANK_NAMES:
            g = _nx(entry.create_group(f"{name}_events"), "NXevent_data")
            g.create_dataset("event_id", shape=(0,), dtype=np.uint32, **opts)
            g.create_dataset("event_time_offset", shape=(0,), dtype=np.float32, **opts)
            g["event_time_offset"].attrs["units"] = np.bytes_("microsecond")
            self._banks.append(g)

    def __enter__(self) -> "EventFileWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def append(self, event_id: np.ndarray, tof_us: np.ndarray) -> None:
        """Add events (detector or Lite ids, TOF in us) of any mix of panels."""
        event_id = np.asarray(event_id, dtype=np.uint32)
        tof_us = np.asarray(tof_us, dtype=np.float32)
        if event_id.shape != tof_us.shape:
            raise ValueError(f"event_id {event_id.shape} and tof_us {tof_us.shape} differ in shape")
        panel = event_id // self._pixels_per_panel
        if panel.size and panel.max() >= N_PANELS:
            raise ValueError(f"event id {int(event_id.max())} is beyond the last panel")
        order = np.argsort(panel, kind="stable")
        bounds = np.searchsorted(panel[order], np.arange(N_PANELS + 1))
        for k in range(N_PANELS):
            lo, hi = bounds[k], bounds[k + 1]
            if hi > lo:
                sel = order[lo:hi]
                for name, values in (("event_id", event_id[sel]), ("event_time_offset", tof_us[sel])):
                    ds = self._banks[k][name]
                    n = ds.shape[0]
                    ds.resize((n + values.size,))
                    ds[n:] = values

    def _finish_banks(self) -> None:
        duration = self._meta["duration_s"]
        n_pulses = max(1, int(round(duration * PULSE_HZ)))
        pulse_times = np.arange(n_pulses) / PULSE_HZ
        for g in self._banks:
            n = g["event_id"].shape[0]
            g.create_dataset("event_time_zero", data=pulse_times)
            g["event_time_zero"].attrs["units"] = np.bytes_("second")
            g.create_dataset("event_index", data=(np.arange(n_pulses, dtype=np.uint64) * n) // n_pulses)
            g.create_dataset("total_counts", data=np.array([n], dtype=np.uint64))

    def _write_metadata(self) -> None:
        entry = self._file["entry"]
        m = self._meta
        entry.create_dataset("run_number", data=np.array([str(m["run_number"]).encode()]))
        _string(entry, "title", m["title"])
        _string(entry, "start_time", m["start_time"])
        _string(entry, "end_time", end_time_iso(m["start_time"], m["duration_s"]))
        entry.create_dataset("duration", data=np.array([m["duration_s"]], dtype=np.float32))
        entry.create_dataset("proton_charge", data=np.array([m["proton_charge"]]))
        logs = _nx(entry.create_group("DASlogs"), "NXcollection")
        for name, value in m["das_logs"].items():
            log = _nx(logs.create_group(name), "NXlog")
            log.create_dataset("value", data=np.array([value], dtype=np.float64))
            log.create_dataset("time", data=np.array([0.0]))

    def close(self) -> Path:
        """Finish the file and move it into place atomically; returns its path."""
        try:
            self._finish_banks()
            self._write_metadata()
            self._file.close()
            with open(self._tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        """Drop everything written so far."""
        try:
            self._file.close()
        except Exception:
            pass
        self._tmp.unlink(missing_ok=True)
