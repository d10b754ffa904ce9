"""``make serve`` / ``make stop``: a local Prefect server, snapcal's deployments, a process worker
and the acquisition watcher, all on 127.0.0.1 with their state under ``var/``.

``python -m deployments.ops start [--backfill]|stop|status``. Every process runs in its own
session with its PID in ``var/run/<name>.pid`` and its log in ``var/log/<name>.log``; ``stop``
sends SIGTERM to each process group and SIGKILL after a grace period (``prefect worker`` may not
exit on SIGTERM when it was started from a non-interactive shell, PREFECT.md section 3).

Backfill is a configured choice, off by default: on its first start (no state file) the watcher
records the runs already in the facility tree as existing and calibrates only new ones.
``--backfill`` (or ``SNAPCAL_WATCH_BACKFILL=1 make serve``) calibrates those too, skipping and
reporting the corrupt ones.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from deployments.definitions import POOL
from flows.watch import BACKFILL_ENV

REPO = Path(__file__).resolve().parents[1]
VAR = Path(os.environ.get("SNAPCAL_OPS_DIR", REPO / "var")).resolve()  # tests point it elsewhere
RUN_DIR, LOG_DIR = VAR / "run", VAR / "log"
ORDER = ("server", "worker", "watcher")  # started in this order, stopped in reverse
BIN = Path(sys.executable).parent


def environment(port: int) -> dict[str, str]:
    """Environment of every process: loopback server, state in var/prefect, no telemetry."""
    return {**os.environ, "PREFECT_HOME": str(VAR / "prefect"), "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "SNAPCAL_REPO": str(REPO),
            "PREFECT_UI_URL": f"http://127.0.0.1:{port}",
            # the UI learns the API's address from these, not from ``--port`` (tests/browser, UI quirks)
            "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api", "PREFECT_SERVER_API_PORT": str(port)}


def _alive(name: str) -> int | None:
    pid_file = RUN_DIR / f"{name}.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        pid_file.unlink()
        return None
    return pid


def _spawn(name: str, argv: list[str], env: dict[str, str]) -> int:
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with (LOG_DIR / f"{name}.log").open("a") as log:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    (RUN_DIR / f"{name}.pid").write_text(str(proc.pid))
    print(f"{name}: pid {proc.pid}, log {LOG_DIR / f'{name}.log'}")
    return proc.pid


def _wait_healthy(port: int, timeout_s: float = 180.0) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if _alive("server") is None:
            raise SystemExit(f"the Prefect server exited; see {LOG_DIR / 'server.log'}")
        time.sleep(1)
    raise SystemExit(f"the Prefect server did not answer within {timeout_s:.0f} s; see {LOG_DIR / 'server.log'}")


def _prefect(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([str(BIN / "prefect"), "--no-prompt", *args], cwd=REPO, env=env, check=True)


def _backfill_default() -> bool:
    return os.environ.get(BACKFILL_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def watcher_argv(*, backfill: bool) -> list[str]:
    """The watcher's command line: backfill stated explicitly, so its log says which it was."""
    return [str(BIN / "snapcal"), "watch", "--backfill" if backfill else "--no-backfill"]


def start(port: int, *, backfill: bool = False) -> None:
    env = environment(port)
    if _alive("server") is None:
        _spawn("server", [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)], env)
    _wait_healthy(port)
    _prefect(["work-pool", "create", POOL, "--type", "process", "--overwrite"], env)
    _prefect(["deploy", "--all"], env)
    if _alive("worker") is None:
        _spawn("worker", [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--limit", "2"], env)
    if _alive("watcher") is None:
        _spawn("watcher", watcher_argv(backfill=backfill), env)
        print("watcher: " + ("backfill on: runs already in the facility tree are calibrated too (corrupt files "
                             f"skipped, see {LOG_DIR / 'watcher.log'})" if backfill else
                             "backfill off: runs already in the facility tree at its first start are not calibrated "
                             f"(--backfill or {BACKFILL_ENV}=1 to calibrate them)"))
    print(f"\nPrefect UI: http://127.0.0.1:{port}  (runs waiting for approval: Runs -> the run -> Resume)")
    print(f"CLI against it: export PREFECT_API_URL=http://127.0.0.1:{port}/api ; stop everything: make stop")


def stop(grace_s: float = 10.0) -> None:
    for name in reversed(ORDER):
        pid = _alive(name)
        if pid is None:
            continue
        os.killpg(pid, signal.SIGTERM)
        deadline = time.time() + grace_s
        while time.time() < deadline and _alive(name) is not None:
            time.sleep(0.2)
            _reap(pid)
        if _alive(name) is not None:
            os.killpg(pid, signal.SIGKILL)
            print(f"{name}: pid {pid} killed after {grace_s:.0f} s")
        else:
            print(f"{name}: pid {pid} stopped")
        (RUN_DIR / f"{name}.pid").unlink(missing_ok=True)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def status() -> None:
    for name in ORDER:
        pid = _alive(name)
        print(f"{name}: {'running, pid ' + str(pid) if pid else 'not running'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="local Prefect server, deployments, worker and watcher")
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--port", type=int, default=int(os.environ.get("SNAPCAL_SERVER_PORT", "4200")))
    parser.add_argument("--backfill", action=argparse.BooleanOptionalAction, default=_backfill_default(),
                        help=f"start: the watcher also calibrates the runs already in the tree at its first start "
                        f"(default from {BACKFILL_ENV}, else off)")
    args = parser.parse_args(argv)
    {"start": lambda: start(args.port, backfill=args.backfill), "stop": stop, "status": status}[args.command]()


if __name__ == "__main__":
    main()
