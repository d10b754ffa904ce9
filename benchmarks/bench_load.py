"""Benchmark loading an event file: snapcal side by side with its peers and the decompression limit.

Usage::

    .venv/bin/python benchmarks/bench_load.py [--sizes 1e7 1e8 3e8] [--files uniform diamond] [--repeats 3]
    .venv/bin/python benchmarks/bench_load.py --sizes 1e7 --steps load_gzip load_pulses_gzip   # the step rows

For each file, in the same run and interleaved (repeat 1 of every reader, then repeat 2, ...), every
reader runs in a fresh subprocess (so its peak RSS, ``ru_maxrss``, is its own) after a warm-up on
a small file of the same layout (numba's cached compilations, imports, first-call overheads) and
reads every science bank's ids and TOFs of the file:

- ``snapcal native`` / ``snapcal -> Lite``: :func:`~snapcal_core.data.load.load_event_file`, all of
  it (header, state, the state's per-pixel band, native-pixel screening, band crop, prompt pulse,
  Lite map);
- ``snapcal read_raw_events``: :func:`~snapcal_core.data.read.read_raw_events`, the same chunk path
  reading every event uncropped (what the peers below do);
- ``plain h5py``: ``read_direct`` of ``event_id`` and ``event_time_offset`` of every bank into two
  preallocated arrays (what snapcal's reader did before the chunk path);
- ``scippnexus``: ``snx.File(path)["entry"][snx.NXevent_data]`` groups read with ``[()]`` (binned
  by pulse, as scippnexus loads NXevent_data), in benchmarks/_work/ess-venv (see
  bench_essdiffraction.py's docstring; the row is skipped when that venv is absent);
- ``limit``: the stored chunks read with ``pread``, inflated by ISA-L on a pool of all cores and
  unshuffled straight into two preallocated arrays, nothing else (:data:`LIMIT`).

Files (under benchmarks/_work, gitignored, reused by later runs): ``uniform``, written with the
project's :class:`~snapcal_core.data.nexus.EventFileWriter` from uniform random events (ids over
all native pixels, TOF uniform in the reference band; shuffle + gzip level 1, 1M-event chunks),
and ``diamond``, a simulated diamond run (:func:`~snapcal_core.simulate.run.simulate_run`, seed
2026, perfect detector: the demo's run at 1e7 events). The figure is the median of the repeats;
ratios are of medians of the same run. Prints Markdown tables; each row's comment lists the runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).parent / "_work"
ESS_PYTHON = WORK / "ess-venv" / "bin" / "python"
TOF_RANGE_US = (2600.0, 14000.0)  # inside every pixel's band at the reference state
FILE_VERSION = "v3"  # bump when the writer's layout changes, so stale files are not reused
#: A state other than the benchmark files' (wavelength 2.2, not 2.1): the warm-up leaves the
#: per-state band cache of the timed load cold.
WARM_WAVELENGTH_ANGSTROM = 2.2

#: The decompression limit: stored chunks, pread, ISA-L on all cores, unshuffled into the final arrays.
LIMIT = r"""
import os
from concurrent.futures import ThreadPoolExecutor
import h5py, numba, numpy as np
from isal import isal_zlib

@numba.njit(nogil=True)  # compiled in the warm-up (code given with -c cannot be cached)
def unshuffle4(src, stride, n, out):
    b0, b1, b2, b3 = src[:n], src[stride:stride + n], src[2 * stride:2 * stride + n], src[3 * stride:3 * stride + n]
    for i in range(n):
        out[i] = (np.uint32(b0[i]) | (np.uint32(b1[i]) << np.uint32(8)) | (np.uint32(b2[i]) << np.uint32(16))
                  | (np.uint32(b3[i]) << np.uint32(24)))

def read(path):
    jobs, total = [], 0
    with h5py.File(path, "r") as f:
        for name, g in f["entry"].items():
            if g.attrs.get("NX_class") not in (b"NXevent_data", "NXevent_data") or "error" in name or "unmapped" in name:
                continue
            n = g["event_id"].shape[0]
            for k, field in enumerate(("event_id", "event_time_offset")):
                ds = g[field]
                step = ds.chunks[0]
                ds.id.chunk_iter(lambda c, k=k, step=step, n=n, t=total: jobs.append(
                    (k, t + c.chunk_offset[0], min(step, n - c.chunk_offset[0]), step, c.byte_offset, c.size)))
            total += n
    ids, tof = np.empty(total, np.uint32), np.empty(total, np.float32)
    outs = (ids, tof.view(np.uint32))
    fd = os.open(path, os.O_RDONLY)
    def work(job):
        k, start, n, step, offset, size = job
        data = isal_zlib.decompress(os.pread(fd, size, offset), 15, 4 * step)
        unshuffle4(np.frombuffer(data, np.uint8), step, n, outs[k][start:start + n])
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(work, jobs))
    os.close(fd)
    return total
"""

PLAIN_H5PY = r"""
import h5py, numpy as np

def read(path):
    with h5py.File(path, "r") as f:
        groups = [g for name, g in f["entry"].items() if g.attrs.get("NX_class") in (b"NXevent_data", "NXevent_data")
                  and "error" not in name and "unmapped" not in name and "event_id" in g]
        sizes = [g["event_id"].shape[0] for g in groups]
        ids, tof = np.empty(sum(sizes), np.uint32), np.empty(sum(sizes), np.float32)
        start = 0
        for g, n in zip(groups, sizes):
            g["event_id"].read_direct(ids, dest_sel=np.s_[start:start + n])
            g["event_time_offset"].read_direct(tof, dest_sel=np.s_[start:start + n])
            start += n
    return ids.size
"""

SCIPPNEXUS = r"""
import scippnexus as snx

def read(path):
    with snx.File(path) as f:
        banks = [group[()] for name, group in f["entry"][snx.NXevent_data].items()
                 if "error" not in name and "unmapped" not in name]  # all kept in memory, like the others
    return int(sum(b.bins.size().sum().value for b in banks))
"""

SNAPCAL = r"""
import numpy as np
from snapcal_core.constants import N_NATIVE_PIXELS
from snapcal_core.data.load import load_event_file
from snapcal_core.data.read import read_raw_events
from snapcal_core.data.screen import screen_native

def read(path, lite=LITE, warm=[True]):
    if warm.pop() if warm else False:  # the warm-up also makes the screening import and run scipy.stats once
        screen_native(np.random.default_rng(0).poisson(10.0, N_NATIVE_PIXELS))
    if lite is None:
        return read_raw_events(path).event_id.size
    return load_event_file(path, lite_requested=lite).n_events
"""

CHILD = r"""
import json, resource, sys, time
warm, path = sys.argv[1], sys.argv[2]
read(warm)
cpu0 = time.process_time()
t = time.perf_counter()
count = read(path)
dt = time.perf_counter() - t
cpu = time.process_time() - cpu0  # all threads
print(json.dumps({"seconds": dt, "cpu_seconds": cpu, "events": count,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

#: reader -> (label, python, source of its read(path))
READERS = {
    "snapcal": ("snapcal native", sys.executable, SNAPCAL.replace("LITE", "False")),
    "snapcal_lite": ("snapcal -> Lite", sys.executable, SNAPCAL.replace("LITE", "True")),
    "snapcal_raw": ("snapcal read_raw_events (no crop)", sys.executable, SNAPCAL.replace("LITE", "None")),
    "h5py": ("plain h5py", sys.executable, PLAIN_H5PY),
    "scippnexus": ("scippnexus", str(ESS_PYTHON), SCIPPNEXUS),
    "limit": ("limit: pread + ISA-L on all cores", sys.executable, LIMIT),
}


def _state(wavelength_angstrom: float = 2.1):
    from snapcal_core.constants import REFERENCE_ARC_DEG, REFERENCE_LIN_M
    from snapcal_core.models import DetectorState

    return DetectorState(arc_deg=REFERENCE_ARC_DEG, lin_m=REFERENCE_LIN_M, wavelength_angstrom=wavelength_angstrom,
                         frequency_hz=60, guide=1)


def write_uniform(path: Path, n: int, compression: str | None, *, wavelength_angstrom: float = 2.1) -> float:
    """Write ``n`` uniform events with the project's writer; returns the seconds it took."""
    import numpy as np

    from snapcal_core.constants import N_NATIVE_PIXELS
    from snapcal_core.data.nexus import EventFileWriter
    from snapcal_core.data.state import state_logs

    rng = np.random.default_rng(1)
    chunk = 1 << 22
    t = time.perf_counter()
    with EventFileWriter(path, run_number=1, title="bench", start_time="2026-01-01T00:00:00", duration_s=600,
                         proton_charge=1.0, das_logs=state_logs(_state(wavelength_angstrom)),
                         compression=compression) as w:
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            w.append(rng.integers(0, N_NATIVE_PIXELS, m).astype(np.uint32),
                     rng.uniform(*TOF_RANGE_US, m).astype(np.float32))
    return time.perf_counter() - t


def make_file(n: int, compression: str | None) -> tuple[Path, float | None]:
    """The uniform benchmark file of ``n`` events; also the seconds it took to write (None if reused)."""
    path = WORK / f"bench_{n:.0e}_{compression or 'none'}_{FILE_VERSION}.nxs.h5"
    return (path, None) if path.exists() else (path, write_uniform(path, n, compression))


def diamond_file(n: int) -> tuple[Path, float | None]:
    """The simulated diamond run of ``n`` events (run 58800 + 10 log10 n); seconds to simulate (None if reused)."""
    from snapcal_core.data.locate import raw_file_path
    from snapcal_core.settings import SnapcalSettings
    from snapcal_core.simulate.run import simulate_run

    run, root = 58800 + round(10 * math.log10(n)), WORK / "facility"
    path = raw_file_path(root, ipts=1, run_number=run)
    if path.exists():
        return path, None
    t = time.perf_counter()
    simulate_run(run_number=run, ipts=1, sample="diamond", n_events=n, seed=2026,
                 settings=SnapcalSettings(data_root=root), overwrite=True)
    return path, time.perf_counter() - t


def warm_file() -> Path:
    """A small file of the benchmark files' layout (another state) for the readers' warm-up."""
    path = WORK / f"warm_2e5_gzip_{FILE_VERSION}.nxs.h5"
    if not path.exists():
        write_uniform(path, 200_000, "gzip", wavelength_angstrom=WARM_WAVELENGTH_ANGSTROM)
    return path


def run_reader(key: str, path: Path) -> dict:
    _, python, source = READERS[key]
    out = subprocess.run([python, "-c", source + CHILD, str(warm_file()), str(path)], capture_output=True, text=True,
                         cwd=Path(__file__).parent.parent)
    if out.returncode:
        raise RuntimeError(f"reader {key} failed on {path}:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def side_by_side(label: str, path: Path, repeats: int, readers: list[str]) -> list[str]:
    """Rows for one file: every reader ``repeats`` times, interleaved; medians and ratios."""
    runs: dict[str, list[dict]] = {k: [] for k in readers}
    for _ in range(repeats):
        for key in readers:
            runs[key].append(run_reader(key, path))
    median = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    limit = median.get("limit")
    mb = path.stat().st_size / 1e6
    rows = []
    for key in readers:
        r, s = runs[key], median[key]
        vs_limit = f"{s / limit:.2f}" if limit else "-"
        vs_snapcal = f"{s / median['snapcal']:.2f}" if "snapcal" in median else "-"
        seconds = ", ".join(f"{x['seconds']:.3f}" for x in r)
        rows.append(f"| {label} | {r[0]['events']:.2e} | {READERS[key][0]} | {s:.3f} | {vs_limit} | {vs_snapcal} | "
                    f"{r[0]['events'] / s / 1e6:.0f} | {mb / s:.0f} | {max(x['maxrss_mb'] for x in r):.0f} |"
                    f" <!-- runs {seconds} s; CPU median {statistics.median(x['cpu_seconds'] for x in r):.2f} s -->")
        print(rows[-1], flush=True)
    return rows


STEP_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import numpy as np
from snapcal_core.data.lite_kernel import events_to_lite
from snapcal_core.data.load import load_event_file, write_lite_file
what, path, n, warm = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
events_to_lite(np.zeros(10, np.uint32))
load_event_file(warm, lite_requested=True); load_event_file(warm, lite_requested=False, with_pulses=True)
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
cpu0 = time.process_time()
if what == "lite_map":
    ids = np.random.default_rng(0).integers(0, 1_179_648, n).astype(np.uint32)
    t = time.perf_counter(); events_to_lite(ids); dt = time.perf_counter() - t; count = n
elif what == "write_lite_copy":
    events = load_event_file(path, lite_requested=True)
    out = Path(sys.argv[5])
    t = time.perf_counter(); write_lite_file(events, out); dt = time.perf_counter() - t; count = events.n_events
else:
    t = time.perf_counter()
    events = load_event_file(path, lite_requested=what in ("load_lite", "load_lite_copy"),
                             with_pulses=what == "load_pulses")
    dt = time.perf_counter() - t; count = events.n_events
cpu = time.process_time() - cpu0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": dt, "cpu_seconds": cpu, "events": count, "maxrss_mb": rss, "baseline_mb": rss0}))
"""


def step_rows(n: int, repeats: int, steps: set[str]) -> list[str]:
    """The single-step rows (uniform files, gzip and uncompressed), each step in fresh subprocesses."""
    files = {c: make_file(n, c)[0] for c in ("gzip", None)}
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
    rows = []
    for key, label, what, path, extra in plan:
        if key not in steps:
            continue
        runs = [json.loads(subprocess.run([sys.executable, "-c", STEP_CHILD, what, str(path), str(n),
                                           str(warm_file()), *extra], check=True, capture_output=True,
                                          text=True).stdout.strip().splitlines()[-1]) for _ in range(repeats)]
        s = statistics.median(r["seconds"] for r in runs)
        mbps = f"{path.stat().st_size / 1e6 / s:.0f}" if what != "lite_map" else "-"
        seconds = ", ".join(f"{r['seconds']:.3f}" for r in runs)
        rows.append(f"| {n:.0e} | {label} | {s:.3f} | {runs[0]['events'] / s / 1e6:.1f} | {mbps} | "
                    f"{max(r['maxrss_mb'] for r in runs):.0f} ({min(r['baseline_mb'] for r in runs):.0f}) |"
                    f" <!-- runs: {seconds} s -->")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e7, 1e8], help="numbers of events")
    parser.add_argument("--files", nargs="+", default=["uniform", "diamond"], choices=["uniform", "diamond"])
    parser.add_argument("--repeats", type=int, default=3, help="runs per reader (median reported)")
    parser.add_argument("--readers", nargs="+", default=list(READERS), choices=list(READERS))
    parser.add_argument("--steps", nargs="+", default=None, help="instead: the single-step rows (keys of step_rows)")
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    print(f"<!-- {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start -->")
    if args.steps:
        print("| events | step | seconds (median) | M events/s | MB/s of file | peak RSS MB (after warm-up) |")
        print("| ---: | --- | ---: | ---: | ---: | ---: |", flush=True)
        for size in args.sizes:
            step_rows(int(size), args.repeats, set(args.steps))
        return
    readers = list(args.readers)
    if "scippnexus" in readers and not ESS_PYTHON.exists():
        readers.remove("scippnexus")
        print(f"<!-- scippnexus row skipped: no {ESS_PYTHON}; create the venv as benchmarks/bench_essdiffraction.py's "
              "docstring says -->")
    print("| file | events | reader | seconds (median) | / limit | / snapcal | M events/s | MB/s of file | "
          "peak RSS MB |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |", flush=True)
    for size in args.sizes:
        for kind in args.files:
            path, made_s = make_file(int(size), "gzip") if kind == "uniform" else diamond_file(int(size))
            if made_s is not None:
                print(f"<!-- wrote {path.name} in {made_s:.0f} s -->", flush=True)
            side_by_side(kind, path, args.repeats, readers)
    print(f"<!-- load average {os.getloadavg()[0]:.2f} at end -->")


if __name__ == "__main__":
    main()
