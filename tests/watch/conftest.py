"""Raw files for the watcher tests: one simulated diamond run (made once) and tiny files with any title."""

from __future__ import annotations

from pathlib import Path

import pytest

from snapcal_core.data.locate import raw_file_path
from snapcal_core.settings import SnapcalSettings
from snapcal_core.simulate.run import simulate_run
from snapcal_core.watch import CalibrantRules, Watcher
from tests.watch._helpers import SIM_IPTS, SIM_RUN, FakeClock, Recorder


@pytest.fixture(scope="session")
def simulated_diamond(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated diamond calibrant run (20 000 events, made once per session: ~3 s)."""
    root = tmp_path_factory.mktemp("simulated")
    run = simulate_run(run_number=SIM_RUN, ipts=SIM_IPTS, n_events=20_000, settings=SnapcalSettings(data_root=root))
    return Path(run.raw_path)


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / "facility"
    (root / "SNAP").mkdir(parents=True)
    return root


@pytest.fixture
def place_diamond(simulated_diamond: Path, data_root: Path):
    """Copy the simulated diamond run into this test's facility tree (optionally only its first bytes)."""

    def place(n_bytes: int | None = None) -> Path:
        target = raw_file_path(data_root, ipts=SIM_IPTS, run_number=SIM_RUN)
        target.parent.mkdir(parents=True, exist_ok=True)
        content = simulated_diamond.read_bytes()
        target.write_bytes(content if n_bytes is None else content[:n_bytes])
        return target

    return place


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_watcher(data_root: Path, tmp_path: Path, clock: FakeClock):
    """Watchers on this test's tree and state file, on the fake clock with a 10 s settle time."""

    def make(announce=None, rules: CalibrantRules | None = None, settle_s: float = 10.0, **options) -> Watcher:
        return Watcher(data_root, rules or CalibrantRules(), tmp_path / "state" / "watch.json",
                       announce if announce is not None else Recorder(), settle_s=settle_s, clock=clock, **options)

    return make
