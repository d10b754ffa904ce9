"""When to (re)try announcing the pending runs: a bounded exponential backoff, per run and overall.

Pure decisions on a clock the caller passes in (no I/O, no Prefect). A failed delivery closes a
*gate* for everybody (the server is most likely down: one attempt per round, not one per run)
and delays that run on its own schedule (a run the server keeps refusing does not hold up the
others once the gate opens again). A success reopens the gate.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

#: Namespace of the announcement ids (uuid5): the same file gives the same id in every process.
ANNOUNCEMENT_NAMESPACE = uuid.UUID("5e0c0a1e-5a4b-4c2a-9d1f-7a3c5b1e2f00")


def announcement_id(*, run_number: int, path: Path, size_bytes: int, mtime_ns: int) -> uuid.UUID:
    """Stable id of the event announcing this run's file: uuid5 of run, path, size and mtime."""
    return uuid.uuid5(ANNOUNCEMENT_NAMESPACE, f"{run_number}:{Path(path)}:{size_bytes}:{mtime_ns}")


@dataclass(frozen=True)
class Backoff:
    r"""Delay before the next attempt after ``n`` consecutive failures.

    .. math:: \mathrm{delay}(n) = \min(\mathrm{max\_s},\ \mathrm{first\_s} \cdot \mathrm{factor}^{\,n-1}),
              \quad \mathrm{delay}(0) = 0
    """

    first_s: float = 1.0
    factor: float = 2.0
    max_s: float = 300.0

    def __post_init__(self) -> None:
        if not (self.first_s > 0 and self.factor >= 1 and self.max_s >= self.first_s):
            raise ValueError(f"backoff needs first_s > 0, factor >= 1 and max_s >= first_s, got {self}")

    def delay_s(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        # past the cap the exponent no longer matters: clip it (no overflow however long the server stays down)
        cap = math.ceil(math.log(self.max_s / self.first_s, self.factor)) if self.factor > 1 else 0
        return min(self.max_s, self.first_s * self.factor ** min(failures - 1, cap))


@dataclass
class DeliveryQueue:
    """Which pending runs to try at ``now_s`` and when to try again after a failure."""

    backoff: Backoff = field(default_factory=Backoff)
    _run_failures: dict[int, int] = field(default_factory=dict)
    _run_due_s: dict[int, float] = field(default_factory=dict)
    _gate_failures: int = 0
    _gate_due_s: float = -math.inf

    def due(self, pending: Iterable[int], now_s: float) -> list[int]:
        """Pending runs to try now, fewest failures first, then by run number (none while the gate is closed)."""
        if now_s < self._gate_due_s:
            return []
        due = (run for run in pending if self._run_due_s.get(run, -math.inf) <= now_s)
        return sorted(due, key=lambda run: (self.failures(run), run))

    def failed(self, run: int, now_s: float) -> float:
        """Record a failed attempt for ``run``; returns the seconds until the next attempt of any run."""
        self._run_failures[run] = self._run_failures.get(run, 0) + 1
        self._run_due_s[run] = now_s + self.backoff.delay_s(self._run_failures[run])
        self._gate_failures += 1
        self._gate_due_s = now_s + self.backoff.delay_s(self._gate_failures)
        return self._gate_due_s - now_s

    def delivered(self, run: int) -> None:
        """Record that ``run`` was accepted: its schedule is dropped and the gate reopens."""
        self._run_failures.pop(run, None)
        self._run_due_s.pop(run, None)
        self._gate_failures, self._gate_due_s = 0, -math.inf

    def failures(self, run: int) -> int:
        """Consecutive failed attempts of ``run``."""
        return self._run_failures.get(run, 0)
