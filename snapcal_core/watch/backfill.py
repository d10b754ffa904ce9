"""The first start on an existing tree: which raw files were already there, and when a file is corrupt.

Without backfill, the files already complete when the watcher first starts (no state file yet)
are recorded as *existing* and never read nor announced; a file still being written then (its
mtime within the settle time) is a new run. With backfill they are all candidates, and a file
that is still unreadable ``corrupt_after_s`` after its last change is *rejected* (reported,
skipped) instead of being retried forever.
"""

from __future__ import annotations

from collections.abc import Iterable

from snapcal_core.watch.probe import Candidate


def existing_at_start(files: Iterable[tuple[Candidate, int]], *, now_s: float, settle_s: float) -> list[Candidate]:
    """The candidates (given with their mtime in ns) unchanged for at least ``settle_s`` at wall time ``now_s``."""
    return [c for c, mtime_ns in files if file_age_s(mtime_ns, now_s=now_s) >= settle_s]


def file_age_s(mtime_ns: int, *, now_s: float) -> float:
    """Seconds since the file last changed (wall clock)."""
    return now_s - mtime_ns * 1e-9


def is_corrupt(mtime_ns: int, *, now_s: float, corrupt_after_s: float) -> bool:
    """An unreadable file is corrupt (not partial) once it has not changed for ``corrupt_after_s``."""
    return file_age_s(mtime_ns, now_s=now_s) >= corrupt_after_s
