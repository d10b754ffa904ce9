"""``make serve``'s backfill choice (deployments.ops): off by default, on by flag or environment, passed
to the watcher explicitly."""

from __future__ import annotations

import pytest

from deployments import ops


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list:
    calls: list = []
    monkeypatch.setattr(ops, "start", lambda port, *, backfill: calls.append((port, backfill)))
    monkeypatch.delenv(ops.BACKFILL_ENV, raising=False)
    return calls


@pytest.mark.parametrize(("argv", "env", "backfill"), [
    (["start"], None, False),
    (["start", "--backfill"], None, True),
    (["start"], "1", True),
    (["start"], "false", False),
    (["start", "--no-backfill"], "yes", False),
])
def test_backfill_is_off_unless_asked_for(started, monkeypatch, argv, env, backfill) -> None:
    if env is not None:
        monkeypatch.setenv(ops.BACKFILL_ENV, env)
    ops.main([*argv, "--port", "4321"])
    assert started == [(4321, backfill)]


@pytest.mark.parametrize("backfill", [False, True])
def test_the_watcher_is_told_the_choice_explicitly(backfill: bool) -> None:
    argv = ops.watcher_argv(backfill=backfill)
    assert argv[1:] == ["watch", "--backfill" if backfill else "--no-backfill"]
