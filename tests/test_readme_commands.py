"""Every ``snapcal`` command of the README's command-line block, as written there: each exits 0 (the
examples work), a failure would be one typed error line, never a traceback.

The commands are read from README.md itself (so a new README line is tested without touching
this file) and run through the console entry point ``cli.main`` in this process
(the Prefect ones on the session's test server). ``FOCUSED.nxs`` stands for a Mantid focused
file: a synthetic one in SaveNexusProcessed's layout. A ``calibrate`` that pauses for a person (the
gate holds the run, or nothing approves it) waits ``--pause-timeout`` seconds, an hour by default:
the test gives it 30; ``--interactive`` is answered "cancel". ``snapcal watch`` runs until stopped: it is
started as a process against the test server, left to announce the simulated run, and stopped
with Ctrl-C (SIGINT).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cli import main
from tests.io.test_nxprocessed import TWO_THETA_DEG, column_detectors, log_edges, silicon_counts, write_focused

pytestmark = [pytest.mark.slow, pytest.mark.prefect]
README = Path(__file__).resolve().parents[1] / "README.md"
ONE_ERROR_LINE = re.compile(r"^error: [A-Za-z]+Error: \S")


def readme_commands() -> list[str]:
    """The ``snapcal`` invocations of the README's "The command line" block, in order (comments cut)."""
    text = README.read_text()
    block = text.split("## The command line", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        line = line.split(" #", 1)[0].strip()
        for part in filter(None, (p.strip() for p in line.split(";"))):
            words = shlex.split(part)
            while words and "=" in words[0]:  # an environment prefix, e.g. PREFECT_API_URL=...
                words.pop(0)
            assert words and words[0].endswith("bin/snapcal"), f"README command not run through snapcal: {part!r}"
            commands.append(shlex.join(words[1:]))
    return commands


def focused_file(path: Path) -> Path:
    """A Mantid focused silicon file (Column groups, located detectors), as SaveNexusProcessed writes it."""
    edges = log_edges()
    centres = 0.5 * (edges[1:] + edges[:-1])
    rng = np.random.default_rng(4)
    ids, physical = column_detectors()
    values = [silicon_counts(centres, two_theta_deg=tt, rng=rng) for tt in TWO_THETA_DEG]
    return write_focused(path, x=edges, values=values, detectors=ids, physical=physical)


def run_main(argv: list[str], capsys, stdin: str = "") -> tuple[int, str, str]:
    """``snapcal ARGV`` through the console entry point: (exit code, stdout, stderr)."""
    old_argv, old_stdin = sys.argv, sys.stdin
    sys.argv = ["snapcal", *argv]
    if stdin:
        import io

        sys.stdin = io.StringIO(stdin)
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv, sys.stdin = old_argv, old_stdin
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def readme_env(tmp_path, monkeypatch, prefect_harness):
    for name in ("data_root", "calibration_home", "scratch_dir"):
        monkeypatch.setenv(f"SNAPCAL_{name.upper()}", str(tmp_path / name))
    monkeypatch.setenv("SNAPCAL_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("SNAPCAL_WATCH_STATE", str(tmp_path / "watch" / "announced.json"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_readme_lists_the_commands_this_test_runs():
    commands = readme_commands()
    assert commands[0] == "--help" and any(c.startswith("simulate ") for c in commands)
    assert {c.split()[0] for c in commands} >= {"simulate", "inspect", "groups", "config", "samples", "recipe",
                                                 "assess", "calibrate", "index", "watch"}


def test_every_readme_command_exits_zero_or_with_one_typed_error_line(readme_env, capsys):
    focused = focused_file(readme_env / "focused.nxs")
    outcomes = []
    for command in readme_commands():
        if command.startswith("watch"):
            continue  # runs until stopped: test_readme_watch_stops_cleanly_on_ctrl_c
        argv = [focused.as_posix() if w == "FOCUSED.nxs" else w for w in shlex.split(command)]
        if argv[0] == "calibrate":
            argv += ["--pause-timeout", "30"]
        stdin = "cancel\nreadme tester\n" if "--interactive" in argv else ""
        code, out, err = run_main(argv, capsys, stdin=stdin)
        outcomes.append((command, code))
        assert "Traceback" not in out + err, f"snapcal {command}: a traceback\n{out}\n{err}"
        if code != 0:
            last = err.strip().splitlines()[-1] if err.strip() else ""
            assert code == 2 and ONE_ERROR_LINE.match(last), f"snapcal {command}: exit {code}\n{out}\n{err}"
    assert [command for command, code in outcomes if code != 0] == [], outcomes  # every example works as written
    assert any(c.startswith("simulate ") for c, _ in outcomes) and any(c.startswith("calibrate ") for c, _ in outcomes)


def test_readme_watch_stops_cleanly_on_ctrl_c(readme_env, tmp_path):
    """``snapcal watch`` against the test server: announces the simulated run, stops on SIGINT, no traceback."""
    from prefect.settings import PREFECT_API_URL

    from snapcal_core.settings import get_settings
    from snapcal_core.simulate.run import simulate_run

    simulate_run(run_number=5, ipts=1, sample="silicon", n_events=50_000, seed=3,
                 settings=get_settings(data_root=tmp_path / "data_root"))
    (command,) = [c for c in readme_commands() if c.startswith("watch")]
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    snapcal = Path(sys.executable).with_name("snapcal")
    proc = subprocess.Popen([str(snapcal), *shlex.split(command), "--settle", "0.5", "--poll", "0.5"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state = tmp_path / "watch" / "announced.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None and not (state.is_file() and '"5"' in state.read_text()):
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert "Traceback" not in out + err, out + err
    assert proc.returncode in (0, 130), (proc.returncode, out, err)
    assert state.is_file() and '"5"' in state.read_text(), (out, err)
