"""End to end: from the gzip event file on disk to the saved version in the store.

Usage: ``.venv/bin/python benchmarks/bench_end_to_end.py [--events 1e7] [--native] [--repeats 3] [--no-prefect-row]``

A simulated diamond run (the project's simulator and writer, gzip; under ``benchmarks/_work``,
reused) is calibrated in a fresh subprocess per repeat, so each peak RSS is its own:

* **pipeline**: the functions the flow's tasks wrap, without Prefect: resolve (every input
  checked), load (gzip -> events, Lite mapping), the recipe's one sequence in memory
  (:func:`snapcal_core.recipe.sequence.run_steps`: pixel iterations, the split-half finish,
  focusing, group fits, final assessment), writing the result folder, the report with its plots
  and the save into the store. Every step's seconds and share are printed.
* **snapcal calibrate --approve**: the same run through the CLI on an embedded Prefect server
  (a fresh Prefect home each time: server start, flow and task runs, result persistence); its
  excess over the pipeline row is Prefect's own overhead, shown as its own row.

Medians of the repeats (peak RSS: the largest). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).parent / "_work" / "end_to_end"
RUN, IPTS = 4242, 42

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
t_start = time.perf_counter()
from snapcal_core import pipeline
from snapcal_core.recipe import sequence
from snapcal_core.data.load import load_event_file
from snapcal_core.pipeline import CalibrationRequest, request_setup, resolve_run, save_result
from snapcal_core.recipe.calibrate import RecipeSettings
from snapcal_core.recipe.result_io import write_result
from snapcal_core.report.build import build_report, extra_files_for_store
from snapcal_core.settings import get_settings

run, lite, out = int(sys.argv[1]), sys.argv[2] == "lite", Path(sys.argv[3])
settings = get_settings()
times = {}

def timed(name, fn):
    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            times[name] = times.get(name, 0.0) + time.perf_counter() - t
    return wrapper

for name in ("iterate_pixels", "finish_pixels", "prepare_group_step", "finish_calibration"):
    setattr(sequence, name, timed(name, getattr(sequence, name)))
sequence.MemorySteps.fit_groups = timed("fit_groups", sequence.MemorySteps.fit_groups)
t0 = time.perf_counter()
request = CalibrationRequest(run_number=run, sample="diamond", grouping="Column", lite=lite)
ref = timed("resolve", resolve_run)(request, settings)
events = timed("load", load_event_file)(ref.event_file, lite_requested=lite, ipts=ref.ipts, run_number=run)
setup = timed("setup", request_setup)(events, request)
result = sequence.run_steps(sequence.MemorySteps(events=events, settings=request.recipe, setup=setup),
                            settings=request.recipe)
summary = timed("write_result", write_result)(result, out / "result", native_mask_reason=events.native_mask_reason,
    run_number=run, sample=setup.sample, grouping=setup.grouping.name, lite=lite, state_id=ref.state_id,
    settings=request.recipe)
report = timed("report", build_report)([summary], state=ref.state, home=settings.calibration_home, compare_versions=[])
saved = timed("save", save_result)(settings.calibration_home, summary, state=ref.state, author="bench", comments="",
    applies_to=f">={run}", extra_files=extra_files_for_store(summary, report), approval={"policy": "auto"})
total = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": total, "steps": times, "import_s": t0 - t_start, "maxrss_mb": rss,
                  "events": events.n_events, "version": saved.version}))
"""

#: Step keys of the child -> the table's labels, in the order a run passes them.
STEPS = [("resolve", "resolve (inputs checked, file header)"), ("load", "load gzip -> events"),
         ("setup", "setup (grouping, peaks, start table)"), ("iterate_pixels", "pixel loop (all iterations)"),
         ("finish_pixels", "pixel finish (split halves, held out)"), ("prepare_group_step", "focus (+ group alignment)"),
         ("fit_groups", "group fits"), ("finish_calibration", "final focus + assessment"),
         ("write_result", "write result folder"), ("report", "report + plots"), ("save", "save version")]


def data_root(n: int) -> Path:
    return WORK / f"data_{n:.0e}"


def environment(home: Path, n: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(SNAPCAL_DATA_ROOT=str(data_root(n)), SNAPCAL_CALIBRATION_HOME=str(home / "calibration"),
               SNAPCAL_SCRATCH_DIR=str(home / "scratch"), SNAPCAL_PREFECT_HOME=str(home / "prefect"))
    env.pop("PREFECT_API_URL", None)
    return env


def make_run(n: int) -> Path:
    from snapcal_core.settings import get_settings
    from snapcal_core.simulate.run import simulate_run

    raw = data_root(n) / "SNAP" / f"IPTS-{IPTS}" / "nexus" / f"SNAP_{RUN}.nxs.h5"
    stamp = data_root(n) / "complete"
    if raw.is_file() and stamp.is_file():
        return raw
    t = time.perf_counter()
    simulate_run(run_number=RUN, ipts=IPTS, sample="diamond", n_events=n, seed=7, overwrite=True,
                 settings=get_settings(data_root=data_root(n)))
    stamp.write_text(str(n))
    print(f"simulated {n:.0e} events in {time.perf_counter() - t:.0f} s: {raw}", file=sys.stderr)
    return raw


def _fresh(tag: str) -> Path:
    home = WORK / tag
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    return home


def pipeline_runs(n: int, lite: bool, repeats: int) -> list[dict]:
    runs = []
    for i in range(repeats):
        home = _fresh(f"pipeline_{i}")
        out = subprocess.run([sys.executable, "-c", CHILD, str(RUN), "lite" if lite else "native", str(home)],
                             env=environment(home, n), check=True, capture_output=True, text=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return runs


def cli_runs(n: int, lite: bool, repeats: int) -> list[float]:
    snapcal = Path(sys.executable).with_name("snapcal")
    seconds = []
    for i in range(repeats):
        home = _fresh(f"cli_{i}")
        argv = [str(snapcal), "calibrate", str(RUN), "--sample", "diamond", "--approve", "--author", "bench",
                *([] if lite else ["--native"])]
        t = time.perf_counter()
        subprocess.run(argv, env=environment(home, n), check=True, capture_output=True, text=True)
        seconds.append(time.perf_counter() - t)
    return seconds


def table(n: int, lite: bool, runs: list[dict], cli: list[float] | None) -> list[str]:
    total = statistics.median(r["seconds"] for r in runs)
    mode = "Lite" if lite else "native"
    rows = [f"Run of {n:.0e} simulated diamond events (gzip), {mode}, {len(runs)} runs, medians:", "",
            "| step | seconds | share |", "| --- | --- | --- |"]
    for key, label in STEPS:
        s = statistics.median(r["steps"].get(key, 0.0) for r in runs)
        rows.append(f"| {label} | {s:.2f} | {100 * s / total:.0f} % |")
    rows.append(f"| **file to saved version, no Prefect** | **{total:.2f}** | peak RSS "
                f"{max(r['maxrss_mb'] for r in runs) / 1024:.2f} GB |")
    rows.append(f"| (Python imports before the clock) | {statistics.median(r['import_s'] for r in runs):.2f} | |")
    if cli:
        c = statistics.median(cli)
        rows.append(f"| `snapcal calibrate --approve`, embedded server, whole command | {c:.2f} | |")
        rows.append(f"| Prefect's own overhead (command - pipeline) | {c - total:.2f} "
                    f"| {100 * (c - total) / c:.0f} % of the command |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=float, default=1e7)
    parser.add_argument("--native", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-prefect-row", action="store_true")
    args = parser.parse_args()
    n, lite = int(args.events), not args.native
    make_run(n)
    runs = pipeline_runs(n, lite, args.repeats)
    cli = None if args.no_prefect_row else cli_runs(n, lite, args.repeats)
    print("\n".join(table(n, lite, runs, cli)))


if __name__ == "__main__":
    main()
