"""Task runners: Prefect's thread pool by default; a Dask cluster through ``prefect-dask`` on demand."""

from __future__ import annotations

import os


def dask_runner(address: str | None = None, **cluster_kwargs):
    """A ``DaskTaskRunner``: the scheduler at ``address`` (or ``SNAPCAL_DASK_ADDRESS``), else a
    LocalCluster started for the flow run (2 worker processes x 1 thread unless ``cluster_kwargs`` say
    otherwise). Every worker needs the same snapcal installation and the same data, calibration
    home and scratch paths (docs/operations.md)."""
    from prefect_dask import DaskTaskRunner

    address = address or os.environ.get("SNAPCAL_DASK_ADDRESS") or None
    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 1, "processes": True, **cluster_kwargs})


def on_dask(flow, address: str | None = None, **cluster_kwargs):
    """``flow`` with its tasks (pixel iterations, per-group fits, batch items) on a Dask cluster."""
    return flow.with_options(name=f"{flow.name}-dask", task_runner=dask_runner(address, **cluster_kwargs))
