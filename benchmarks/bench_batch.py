"""Benchmark the batch flow's task runners: one thread, two threads, a 2-worker Dask LocalCluster.

Usage: ``.venv/bin/python benchmarks/bench_batch.py [--runs 4] [--events 5e6]``. Simulates the runs
(diamond, reference state) under ``benchmarks/_work/batch`` once, then calibrates all of them
(Column grouping, Lite, pixel loop on, nothing saved) with each runner on the embedded Prefect
server, after one warm-up batch. Prints a Markdown table of wall times.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / "_work" / "batch"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--events", type=float, default=5e6)
    args = parser.parse_args()
    os.environ.update(SNAPCAL_DATA_ROOT=str(WORK / "facility"), SNAPCAL_SCRATCH_DIR=str(WORK / "scratch"),
                      SNAPCAL_CALIBRATION_HOME=str(WORK / "calibration"), PREFECT_LOGGING_LEVEL="WARNING",
                      PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    os.environ.pop("PREFECT_API_URL", None)
    from prefect.task_runners import ThreadPoolTaskRunner

    from flows.batch import BatchParameters, batch_flow, dask_batch_flow
    from snapcal_core.settings import get_settings
    from snapcal_core.simulate.run import simulate_run

    runs = list(range(7001, 7001 + args.runs))
    for seed, run in enumerate(runs):
        if not (WORK / "facility" / "SNAP" / "IPTS-9" / "nexus" / f"SNAP_{run}.nxs.h5").exists():
            simulate_run(run_number=run, ipts=9, sample="diamond", n_events=int(args.events), seed=seed, settings=get_settings())
    params = BatchParameters(runs=runs, approval="manual")
    batch_flow(params)  # warm-up: server start, numba caches
    rows = []
    one_thread = batch_flow.with_options(task_runner=ThreadPoolTaskRunner(max_workers=1))
    for label, flow, numba_threads in (
            ("1 task thread, numba on 2 cores", one_thread, None),
            ("2 task threads, numba on 2 cores each (oversubscribed)", batch_flow, None),
            ("2 task threads, numba on 1 core each (default)", batch_flow, 1),
            ("Dask LocalCluster, 2 processes x 1 thread", dask_batch_flow(n_workers=2), 1)):
        t0 = time.perf_counter()
        flow(params.model_copy(update={"numba_threads_per_item": numba_threads}))
        rows.append((label, time.perf_counter() - t0))
    print(f"| runner | {args.runs} runs x {args.events:.0e} events, seconds |\n| --- | ---: |")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
