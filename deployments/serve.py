"""Serve snapcal's deployments from this process (one machine, no work pool):
``python -m deployments.serve [--approval gate|manual|auto] [--limit 2]``.

The process runs every flow run of the deployments as a subprocess and must stay up; a run that
waits for approval is *suspended* (holds no process) and is re-executed here once resumed.
For a work pool with a worker instead, see ``prefect.yaml`` and ``make serve``.
"""

from __future__ import annotations

import argparse

from prefect import serve

from deployments.definitions import runner_deployments


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--approval", choices=["manual", "gate", "auto"], default="gate",
                        help="approval policy of runs started by the acquisition event (default gate)")
    parser.add_argument("--limit", type=int, default=2, help="flow runs at once (default 2)")
    args = parser.parse_args(argv)
    serve(*runner_deployments(approval=args.approval), limit=args.limit)


if __name__ == "__main__":
    main()
