"""``snapcal watch``'s options reach the watcher: backfill off by default, on by flag or environment."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import cli.watch as watch_cli


class FakeWatcher:
    """Records how it was made; ``run`` returns at once."""

    made: list[dict] = []

    def __init__(self, root, rules, state_path, announce, **options) -> None:
        self.root, self.state_path = Path(root), Path(state_path)
        FakeWatcher.made.append(dict(announce=announce, **options))

    def run(self, stop, poll_s: float) -> None:
        return None


@pytest.fixture
def invoke(settings_env: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(watch_cli, "Watcher", FakeWatcher)
    monkeypatch.setattr(watch_cli.signal, "signal", lambda *_: None)  # keep pytest's own handlers
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.delenv(watch_cli.BACKFILL_ENV, raising=False)
    FakeWatcher.made.clear()
    app = typer.Typer()
    app.command("watch")(watch_cli.watch)
    app.command("other")(lambda: None)  # two commands: ``watch`` is named on the command line

    def run(*args: str) -> dict:
        result = CliRunner().invoke(app, ["watch", *args])
        assert result.exit_code == 0, result.output
        return FakeWatcher.made[-1]

    return run


def test_backfill_is_off_by_default(invoke) -> None:
    options = invoke()
    assert options["backfill"] is False and options["corrupt_after_s"] == 600
    assert options["announce"] is watch_cli.announce


def test_backfill_by_flag_or_environment(invoke, monkeypatch) -> None:
    assert invoke("--backfill", "--corrupt-after", "60")["backfill"] is True
    monkeypatch.setenv(watch_cli.BACKFILL_ENV, "1")
    assert invoke()["backfill"] is True
    assert invoke("--no-backfill")["backfill"] is False
