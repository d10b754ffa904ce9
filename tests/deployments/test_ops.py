"""``make serve`` / ``make stop`` (deployments.ops): a loopback server with both deployments, a process
worker and the watcher come up; stop ends every one of them by PID."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from snapcal_core.data.locate import raw_file_path
from tests.watch._helpers import write_run

pytestmark = [pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ops(command: str, env: dict, timeout: float = 240) -> str:
    done = subprocess.run([sys.executable, "-m", "deployments.ops", command], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def _existing_tree(root: Path) -> None:
    """A facility tree from before the first ``make serve``: a calibrant run and a corrupt file, a day old."""
    corrupt = raw_file_path(root, ipts=3, run_number=902)
    corrupt.parent.mkdir(parents=True)
    corrupt.write_bytes(b"not hdf5" * 64)
    for path in (write_run(root, run=901, ipts=3, title="Diamond"), corrupt):
        os.utime(path, (time.time() - 86_400,) * 2)


def _post(port: int, route: str) -> list:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/{route}", data=b"{}",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def _watch_state(path: Path, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    return json.loads(path.read_text())


def test_serve_starts_server_deployments_worker_and_watcher_and_stop_ends_them(tmp_path):
    _existing_tree(tmp_path / "facility")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(SNAPCAL_OPS_DIR=str(tmp_path / "var"), SNAPCAL_SERVER_PORT=str(port),
               SNAPCAL_DATA_ROOT=str(tmp_path / "facility"), SNAPCAL_WATCH_STATE=str(tmp_path / "watch.json"),
               SNAPCAL_CALIBRATION_HOME=str(tmp_path / "calibration"), SNAPCAL_SCRATCH_DIR=str(tmp_path / "scratch"))
    try:
        out = _ops("start", env)
        assert f"http://127.0.0.1:{port}" in out
        pids = {name: int((tmp_path / "var" / "run" / f"{name}.pid").read_text()) for name in ("server", "worker", "watcher")}
        assert all(_pid_alive(pid) for pid in pids.values()), pids
        names = sorted(d["name"] for d in _post(port, "deployments/filter"))
        assert names == ["snap-calibration", "snap-calibration-batch"]
        assert (tmp_path / "var" / "prefect").is_dir()  # the server's database lives under the ops dir
        assert "backfill off" in out  # the default: the runs already there are recorded, not calibrated
        state = _watch_state(tmp_path / "watch.json")
        assert sorted(state["existing"]) == ["901", "902"] and state["pending"] == state["announced"] == {}
        assert _post(port, "flow_runs/filter") == []
    finally:
        _ops("stop", env, timeout=120)
    assert not any(_pid_alive(pid) for pid in pids.values()), pids
    assert not list((tmp_path / "var" / "run").glob("*.pid"))
