"""``make serve`` / ``make stop`` (deployments.ops): a loopback server with both deployments, a process
worker and the watcher come up; stop ends every one of them by PID."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

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


def test_serve_starts_server_deployments_worker_and_watcher_and_stop_ends_them(tmp_path):
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
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/deployments/filter", data=b"{}",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            names = sorted(d["name"] for d in json.load(response))
        assert names == ["snap-calibration", "snap-calibration-batch"]
        assert (tmp_path / "var" / "prefect").is_dir()  # the server's database lives under the ops dir
    finally:
        _ops("stop", env, timeout=120)
    assert not any(_pid_alive(pid) for pid in pids.values()), pids
    assert not list((tmp_path / "var" / "run").glob("*.pid"))
