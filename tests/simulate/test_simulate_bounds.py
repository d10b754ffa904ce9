"""Bounds and clean-up of ``snapcal simulate``: sizes refused before anything is written (events, disk),
progress on long runs, and no partial file left by an exception, Ctrl-C or SIGTERM."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli.simulate import EXIT_SIGINT, EXIT_SIGTERM, PlainProgress, event_count
from snapcal_core.settings import get_settings
from snapcal_core.simulate import run as run_module
from snapcal_core.simulate.run import (
    BYTES_PER_EVENT,
    MAX_EVENTS,
    InsufficientDiskSpaceError,
    SimulationSizeError,
    estimated_bytes,
    simulate_run,
    validate_n_events,
)

REPO = Path(__file__).resolve().parents[2]
DiskUsage = collections.namedtuple("DiskUsage", "total used free")


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.parametrize("bad", [0, -5, MAX_EVENTS + 1, 10**11, 2.5])
def test_event_counts_outside_one_to_the_limit_are_refused(bad) -> None:
    with pytest.raises(SimulationSizeError, match="limit of 1,000,000,000 events|positive integer"):
        validate_n_events(bad)
    assert validate_n_events(MAX_EVENTS) == MAX_EVENTS and validate_n_events(1e7) == 10_000_000


def test_too_many_events_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(SimulationSizeError, match=r"100,000,000,000 events is more than"):
        simulate_run(run_number=1, ipts=1, n_events=10**11, settings=get_settings(data_root=tmp_path))
    assert time.monotonic() - started < 1 and files_under(tmp_path) == []


def test_a_run_that_does_not_fit_the_disk_is_refused_naming_both_sizes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(run_module.shutil, "disk_usage", lambda path: DiskUsage(10**12, 10**12 - 10**8, 10**8))
    with pytest.raises(InsufficientDiskSpaceError) as info:
        simulate_run(run_number=1, ipts=1, n_events=20_000_000, settings=get_settings(data_root=tmp_path))
    message = str(info.value)
    assert "20,000,000 events need about 0.18 GB" in message and "only 0.10 GB free" in message
    assert str(tmp_path) in message and "SNAP_1.nxs.h5" in message
    assert isinstance(info.value, OSError) and files_under(tmp_path) == []


def test_the_estimate_covers_what_the_simulator_writes(tmp_path: Path) -> None:
    run = simulate_run(run_number=2, ipts=1, n_events=1_000_000, settings=get_settings(data_root=tmp_path))
    raw_bytes, truth_bytes = Path(run.raw_path).stat().st_size, Path(run.truth_path).stat().st_size
    assert raw_bytes <= 1_000_000 * BYTES_PER_EVENT["gzip"] < 1.1 * raw_bytes  # honest, not just large
    assert raw_bytes + truth_bytes <= estimated_bytes(1_000_000)


def test_an_exception_mid_write_leaves_nothing_and_an_overwrite_leaves_the_old_files(tmp_path: Path) -> None:
    settings = get_settings(data_root=tmp_path)

    def fail(done: int, total: int) -> None:
        raise RuntimeError(f"disk went away after {done} events")

    with pytest.raises(RuntimeError, match="disk went away"):
        simulate_run(run_number=3, ipts=1, n_events=4_500_000, settings=settings, progress=fail)
    assert files_under(tmp_path) == []
    old = simulate_run(run_number=3, ipts=1, n_events=20_000, seed=1, settings=settings)
    before = {name: (tmp_path / name).read_bytes() for name in files_under(tmp_path)}
    with pytest.raises(RuntimeError):
        simulate_run(run_number=3, ipts=1, n_events=4_500_000, seed=2, settings=settings, overwrite=True, progress=fail)
    assert {name: (tmp_path / name).read_bytes() for name in files_under(tmp_path)} == before
    assert sorted(before) == sorted(str(Path(p).relative_to(tmp_path)) for p in (old.raw_path, old.truth_path))


def test_progress_is_reported_for_every_chunk(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    simulate_run(run_number=4, ipts=1, n_events=4_500_000, settings=get_settings(data_root=tmp_path),
                 progress=lambda done, total: seen.append((done, total)))
    assert seen == [(4_194_304, 4_500_000), (4_500_000, 4_500_000)]  # chunks of 2**22 events


def test_plain_progress_prints_a_line_every_ten_seconds_and_the_end() -> None:
    now, lines = [0.0], []
    progress = PlainProgress(run=7, clock=lambda: now[0], echo=lines.append)
    for done, at_s in ((1, 4.0), (2, 10.5), (3, 15.0), (4, 21.0), (8, 22.0)):
        now[0] = at_s
        progress(done, 8)
    assert lines == ["run 7: 2 of 8 events (25 %), 10 s, about 32 s left",
                     "run 7: 4 of 8 events (50 %), 21 s, about 21 s left",
                     "run 7: 8 of 8 events (100 %), 22 s"]
    quick, quiet = PlainProgress(run=8, clock=lambda: 0.0, echo=lines.append), len(lines)
    quick(8, 8)  # done before the first line is due: says nothing
    assert len(lines) == quiet


@pytest.mark.parametrize(("text", "events"), [("2000000", 2_000_000), ("10_000_000", 10**7), ("1e7", 10**7),
                                              ("2,500,000", 2_500_000), (" 3E6 ", 3_000_000)])
def test_events_option_reads_plain_separated_and_scientific_counts(text: str, events: int) -> None:
    assert event_count(text) == events


@pytest.mark.parametrize("text", ["1.5", "abc", "inf", "1e400", ""])
def test_events_option_refuses_what_is_not_a_whole_count(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        event_count(text)


def test_cli_refuses_1e11_events_before_writing(settings_env: Path) -> None:
    from cli import _register_all, app

    _register_all()
    result = CliRunner().invoke(app, ["simulate", "--run", "5", "--ipts", "1", "--events", "1e11"])
    assert isinstance(result.exception, SimulationSizeError), result.output
    assert files_under(settings_env / "data_root") == []


def _partial_files(nexus: Path) -> list[Path]:
    return sorted(nexus.glob(".SNAP_9.*.partial")) if nexus.exists() else []


@pytest.mark.parametrize(("signum", "code", "says"), [(signal.SIGTERM, EXIT_SIGTERM, "stopped by SIGTERM"),
                                                      (signal.SIGINT, EXIT_SIGINT, "stopped by Ctrl-C")])
def test_a_signal_mid_write_removes_the_partial_file(tmp_path: Path, signum: int, code: int, says: str) -> None:
    root = tmp_path / "facility"
    env = {**os.environ, "SNAPCAL_DATA_ROOT": str(root), "SNAPCAL_CONFIG": str(tmp_path / "absent.toml")}
    argv = [sys.executable, "-m", "cli", "simulate", "--run", "9", "--ipts", "4", "--events", "1e8"]
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # not ignored under &
    nexus = root / "SNAP" / "IPTS-4" / "nexus"
    try:
        deadline = time.monotonic() + 120
        while not _partial_files(nexus) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _partial_files(nexus), "the simulation never started writing"
        time.sleep(0.5)  # mid-write
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, stderr[-2000:]
    assert says in stderr and "nothing was written" in stderr
    assert files_under(root) == []  # no raw, no truth, no hidden partial
