"""Benchmark the data component: load (gzip / uncompressed), Lite mapping, load-to-Lite.

Usage: ``.venv/bin/python benchmarks/bench_load.py [--sizes 1e7 1e8] [--repeats 3]``.
Each measurement runs in a fresh subprocess so its peak RSS (ru_maxrss) is its own; the figure
reported is the median of the repeats. Files are made with the project's own writer from uniform
random events (ids over all native pixels, TOF over the band) under ``benchmarks/_work``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).parent / "_work"

CHILD = r"""
import json, resource, sys, time
import numpy as np
from pathlib import Path
what, path = sys.argv[1], Path(sys.argv[2])
from snapcal_core.data.kernels import events_to_lite
from snapcal_core.data.load import load_event_file
events_to_lite(np.zeros(10, np.uint32))  # compile (cached) outside the timing
if what == "lite_map":
    ids = np.random.default_rng(0).integers(0, 1_179_648, int(sys.argv[3])).astype(np.uint32)
    t = time.perf_counter(); events_to_lite(ids); dt = time.perf_counter() - t; n = ids.size
else:
    t = time.perf_counter()
    ev = load_event_file(path, lite_requested=(what == "load_lite"))
    dt = time.perf_counter() - t; n = ev.n_events
print(json.dumps({"seconds": dt, "events": n, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_file(n: int, compression: str | None) -> Path:
    import numpy as np

    from snapcal_core.data.nexus import EventFileWriter
    from snapcal_core.data.state import state_logs
    from snapcal_core.models import DetectorState

    path = WORK / f"bench_{n:.0e}_{compression or 'none'}.nxs.h5"
    if path.exists():
        return path
    state = DetectorState(arc_deg=(-65.3, 104.95), lin_m=(0.045, 0.043), wavelength_angstrom=2.1, frequency_hz=60, guide=1)
    rng = np.random.default_rng(1)
    with EventFileWriter(path, run_number=1, title="bench", start_time="2026-01-01T00:00:00", duration_s=600,
                         proton_charge=1.0, das_logs=state_logs(state), compression=compression) as w:
        for start in range(0, n, 1 << 23):
            m = min(1 << 23, n - start)
            w.append(rng.integers(0, 1_179_648, m).astype(np.uint32), rng.uniform(2600, 14000, m).astype(np.float32))
    return path


def measure(what: str, path: Path, n: int, repeats: int) -> dict:
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", CHILD, what, str(path), str(n)], check=True, capture_output=True, text=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    secs = statistics.median(r["seconds"] for r in runs)
    return {"what": what, "events": runs[0]["events"], "seconds": secs, "Mevents_per_s": runs[0]["events"] / secs / 1e6,
            "peak_rss_mb": max(r["maxrss_mb"] for r in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e7, 1e8])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    print("| events | step | seconds (median) | M events/s | compressed MB/s | peak RSS MB |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for size in args.sizes:
        n = int(size)
        t = time.perf_counter()
        files = {c: make_file(n, c) for c in ("gzip", None)}
        print(f"<!-- files for {n:.0e} ready in {time.perf_counter() - t:.0f} s -->", flush=True)
        rows = [
            ("load native, gzip", measure("load", files["gzip"], n, args.repeats), files["gzip"]),
            ("load native, uncompressed", measure("load", files[None], n, args.repeats), files[None]),
            ("Lite mapping in memory", measure("lite_map", files[None], n, args.repeats), None),
            ("load -> Lite, gzip", measure("load_lite", files["gzip"], n, args.repeats), files["gzip"]),
        ]
        for label, r, path in rows:
            mbps = f"{path.stat().st_size / 1e6 / r['seconds']:.0f}" if path is not None else "-"
            print(f"| {n:.0e} | {label} | {r['seconds']:.3f} | {r['Mevents_per_s']:.1f} | {mbps} | {r['peak_rss_mb']:.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
