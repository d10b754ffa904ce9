"""Benchmark the data component: write, load (gzip / uncompressed), Lite mapping, load-to-Lite.

Usage: ``.venv/bin/python benchmarks/bench_load.py [--quick] [--sizes 1e7 1e8] [--repeats 3] [--steps KEY ...]``
(``--quick``: 1e7 events only; ``--steps``: only these steps, e.g. ``load_gzip load_pulses_gzip``).
Event files are written with the project's own
:class:`~snapcal_core.data.nexus.EventFileWriter` from uniform random events (ids over all native
pixels, TOF uniform over the reference state's band) under ``benchmarks/_work`` (gitignored) and
reused by later runs. Every measurement runs in a fresh subprocess, so its peak RSS
(``ru_maxrss``) is its own; the figure is the median of the repeats (peak RSS: the largest).
Prints a Markdown table (each row's comment adds the runs and the median CPU seconds, all threads).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).parent / "_work"
TOF_RANGE_US = (2600.0, 14000.0)  # inside every pixel's band at the reference state
FILE_VERSION = "v3"  # bump when the writer's layout changes, so stale files are not reused

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import numpy as np
from snapcal_core.data.lite_kernel import events_to_lite
from snapcal_core.data.load import load_event_file, write_lite_file
what, path, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
from snapcal_core.data.band_kernel import crop_to_band
# numba: load the cached compilations outside the timing (the per-state band geometry stays inside)
events_to_lite(np.zeros(10, np.uint32))
crop_to_band(np.zeros(2, np.uint32), np.zeros(2, np.float32), lo_us=np.ones(1), hi_us=np.ones(1), to_lite=True)
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
cpu0 = time.process_time()
if what == "lite_map":
    ids = np.random.default_rng(0).integers(0, 1_179_648, n).astype(np.uint32)
    t = time.perf_counter(); events_to_lite(ids); dt = time.perf_counter() - t; count = n
elif what == "write_lite_copy":
    events = load_event_file(path, lite_requested=True)
    out = Path(sys.argv[4])
    t = time.perf_counter(); write_lite_file(events, out); dt = time.perf_counter() - t; count = events.n_events
elif what == "load_pulses":
    t = time.perf_counter()
    events = load_event_file(path, lite_requested=False, with_pulses=True)
    dt = time.perf_counter() - t; count = events.n_events
else:
    t = time.perf_counter()
    events = load_event_file(path, lite_requested=(what in ("load_lite", "load_lite_copy")))
    dt = time.perf_counter() - t; count = events.n_events
cpu = time.process_time() - cpu0  # all threads; less sensitive than wall time to other load on the machine
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": dt, "cpu_seconds": cpu, "events": count, "maxrss_mb": rss, "baseline_mb": rss0}))
"""


def make_file(n: int, compression: str | None) -> tuple[Path, float | None]:
    """The benchmark file of ``n`` events; also the seconds it took to write (None if reused)."""
    import numpy as np

    from snapcal_core.constants import N_NATIVE_PIXELS, REFERENCE_ARC_DEG, REFERENCE_LIN_M
    from snapcal_core.data.nexus import EventFileWriter
    from snapcal_core.data.state import state_logs
    from snapcal_core.models import DetectorState

    path = WORK / f"bench_{n:.0e}_{compression or 'none'}_{FILE_VERSION}.nxs.h5"
    if path.exists():
        return path, None
    state = DetectorState(arc_deg=REFERENCE_ARC_DEG, lin_m=REFERENCE_LIN_M, wavelength_angstrom=2.1,
                          frequency_hz=60, guide=1)
    rng = np.random.default_rng(1)
    chunk = 1 << 22
    t = time.perf_counter()
    with EventFileWriter(path, run_number=1, title="bench", start_time="2026-01-01T00:00:00", duration_s=600,
                         proton_charge=1.0, das_logs=state_logs(state), compression=compression) as w:
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            w.append(rng.integers(0, N_NATIVE_PIXELS, m).astype(np.uint32),
                     rng.uniform(*TOF_RANGE_US, m).astype(np.float32))
    return path, time.perf_counter() - t


def measure(what: str, path: Path, n: int, repeats: int, extra: tuple[str, ...] = ()) -> dict:
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", CHILD, what, str(path), str(n), *extra],
                             check=True, capture_output=True, text=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    secs = statistics.median(r["seconds"] for r in runs)
    return {"events": runs[0]["events"], "seconds": secs, "all_seconds": [r["seconds"] for r in runs],
            "cpu_seconds": statistics.median(r["cpu_seconds"] for r in runs),
            "peak_rss_mb": max(r["maxrss_mb"] for r in runs), "baseline_mb": min(r["baseline_mb"] for r in runs)}


def _row(n: int, label: str, seconds: float, events: int, size_path: Path | None, rss: str) -> str:
    mbps = f"{size_path.stat().st_size / 1e6 / seconds:.0f}" if size_path is not None else "-"
    return f"| {n:.0e} | {label} | {seconds:.3f} | {events / seconds / 1e6:.1f} | {mbps} | {rss} |"


def bench_size(n: int, repeats: int, steps: set[str] | None = None) -> list[str]:
    files, rows = {}, []
    for compression in ("gzip", None):
        files[compression], write_s = make_file(n, compression)
        if write_s is not None:
            rows.append(_row(n, f"write native file ({compression or 'uncompressed'}), 1 run", write_s, n,
                             files[compression], "-"))
            print(rows[-1], flush=True)
    lite_copy = WORK / f"bench_{n:.0e}_lite_copy_{FILE_VERSION}.lite.nxs.h5"
    plan = [  # (key for --steps, label, child mode, file, extra child args)
        ("load_gzip", "load native, gzip", "load", files["gzip"], ()),
        ("load_none", "load native, uncompressed", "load", files[None], ()),
        ("load_pulses_gzip", "load native + pulse index, gzip", "load_pulses", files["gzip"], ()),
        ("load_pulses_none", "load native + pulse index, uncompressed", "load_pulses", files[None], ()),
        ("lite_map", "Lite mapping of events in memory", "lite_map", files[None], ()),
        ("load_lite_gzip", "load -> Lite, gzip (end to end)", "load_lite", files["gzip"], ()),
        ("load_lite_none", "load -> Lite, uncompressed (end to end)", "load_lite", files[None], ()),
        ("write_lite_copy", "write Lite copy (gzip)", "write_lite_copy", files["gzip"], (str(lite_copy),)),
        ("load_lite_copy", "load Lite copy", "load_lite_copy", lite_copy, ()),
    ]
    for key, label, what, path, extra in plan:
        if steps is not None and key not in steps:
            continue
        r = measure(what, path, n, repeats, extra)
        reads_file = what in ("load", "load_pulses", "load_lite", "load_lite_copy")
        size_path = path if reads_file else (lite_copy if extra else None)
        rss = f"{r['peak_rss_mb']:.0f} ({r['baseline_mb']:.0f})"
        rows.append(_row(n, label, r["seconds"], r["events"], size_path, rss))
        print(rows[-1], f"<!-- runs: {', '.join(f'{s:.3f}' for s in r['all_seconds'])} s; "
              f"CPU median {r['cpu_seconds']:.3f} s -->", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1e7 events only")
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e7, 1e8], help="numbers of events")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (median reported)")
    parser.add_argument("--steps", nargs="+", default=None, help="only these steps (keys of bench_size's plan)")
    args = parser.parse_args()
    sizes = [1e7] if args.quick else args.sizes
    WORK.mkdir(exist_ok=True)
    print(f"<!-- {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start -->")
    print("| events | step | seconds (median) | M events/s | MB/s of file | peak RSS MB (after imports) |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |", flush=True)
    for size in sizes:
        bench_size(int(size), args.repeats, set(args.steps) if args.steps else None)
    print(f"<!-- load average {os.getloadavg()[0]:.2f} at end -->")


if __name__ == "__main__":
    main()
