"""``snapcal watch``: announce every complete calibrant run to Prefect as a ``snap.run.acquired`` event.

The watching itself is ``snapcal_core.watch`` (no Prefect); the announcement is
:func:`flows.watch.announce`, so a deployment trigger (``deployments.definitions``) starts a
calibration for each run. A run counts as announced only once the server accepted its event; until
then it stays pending and is retried with backoff, also after a restart.
Needs ``PREFECT_API_URL`` (a running server: ``make serve`` starts one and this watcher).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path

import typer

from cli.display import console
from flows.watch import BACKFILL_ENV, announce
from snapcal_core.settings import get_settings
from snapcal_core.watch import CalibrantRules, Watcher, load_rules


def watch(
    root: Path = typer.Option(None, "--root", help="Facility tree to watch (default: the data root setting)"),
    rules: Path = typer.Option(None, "--rules", help="Calibrant rule file, TOML or JSON (default: built-in title rules)"),
    state: Path = typer.Option(None, "--state", help="State file of announced runs (default: the watch_state setting)"),
    settle: float = typer.Option(10.0, "--settle", help="Seconds a file must stay unchanged before it counts as complete"),
    poll: float = typer.Option(2.0, "--poll", help="Rescan (and retry pending announcements) at least this often (s)"),
    backfill: bool = typer.Option(False, "--backfill/--no-backfill", envvar=BACKFILL_ENV,
                                  help="Also calibrate the runs already in the tree at the first start (default: "
                                  "record them as existing and calibrate only new runs); corrupt files are skipped"),
    corrupt_after: float = typer.Option(600.0, "--corrupt-after",
                                        help="A file still unreadable this long (s) after its last change is "
                                        "reported as corrupt and skipped until it changes"),
) -> None:
    """Watch the facility tree and announce each complete calibrant run once (also across restarts)."""
    if not os.environ.get("PREFECT_API_URL"):
        raise typer.BadParameter("PREFECT_API_URL is not set: the watcher announces runs to a running Prefect server")
    settings = get_settings()
    rule_file = rules or settings.calibrant_rules
    watcher = Watcher(root or settings.data_root, load_rules(rule_file) if rule_file else CalibrantRules(),
                      state or settings.watch_state, announce, settle_s=settle, backfill=backfill,
                      corrupt_after_s=corrupt_after)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    console.print(f"watching {watcher.root} (state {watcher.state_path}, backfill {'on' if backfill else 'off'}); "
                  "stop with SIGTERM or Ctrl-C")
    watcher.run(stop, poll_s=poll)

