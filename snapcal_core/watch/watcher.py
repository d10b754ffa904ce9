"""Post-acquisition watcher: hand each complete calibrant run to a callback, once.

The pure core of the watcher (no Prefect): the caller supplies ``announce`` (e.g. a function that
submits a calibration flow run). :meth:`Watcher.scan_once` is a deterministic poll;
:meth:`Watcher.run` wakes up on file-system events and at least every ``poll_s`` seconds.

Delivery is at least once: a run is recorded as announced only after ``announce`` returns, so a
crash between the two announces it again after a restart. One watcher per state file.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import watchfiles

from snapcal_core.watch.errors import UnreadyFileError
from snapcal_core.watch.models import Acquisition, SeenRun
from snapcal_core.watch.probe import Candidate, SettleTracker, candidate_of, find_candidates, read_identity
from snapcal_core.watch.rules import CalibrantRules
from snapcal_core.watch.state import load_state, save_state

log = logging.getLogger(__name__)


class Watcher:
    """Announce complete calibrant runs found under ``root`` (the data root, or its ``SNAP`` folder).

    A file ``IPTS-<n>/nexus/SNAP_<run>.nxs.h5`` is complete when its inode, size and mtime have
    not changed for ``settle_s`` seconds of ``clock`` and it opens as NeXus with a run number
    (equal to the one in its name) and a title. A file that is not complete is looked at again
    later and never raises. ``state_path`` (JSON) remembers announced and non-calibrant runs.
    """

    def __init__(
        self,
        root: Path,
        rules: CalibrantRules,
        state_path: Path,
        announce: Callable[[Acquisition], None],
        settle_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if settle_s < 0:
            raise ValueError(f"settle_s must be >= 0 seconds, got {settle_s}")
        self.root = Path(root)
        self.rules = rules
        self.state_path = Path(state_path)
        self.announce = announce
        self.settle_s = float(settle_s)
        self._clock = clock
        self._tracker = SettleTracker(self.settle_s)
        self._state = load_state(self.state_path)
        self._unready: dict[Path, str] = {}  # last reason each file could not be read (logged once)

    @property
    def announced(self) -> dict[int, Acquisition]:
        """Runs announced so far (also by earlier watchers on the same state file)."""
        return dict(self._state.announced)

    @property
    def ignored(self) -> dict[int, SeenRun]:
        """Complete runs that were not calibrant runs."""
        return dict(self._state.ignored)

    # --- polling ------------------------------------------------------------------------------
    def scan_once(self) -> list[Acquisition]:
        """Look at every raw file once; returns the acquisitions announced by this scan."""
        candidates = find_candidates(self.root)
        self._tracker.keep_only({c.path for c in candidates})
        announced = []
        for candidate in candidates:
            if self._done(candidate):
                self._tracker.forget(candidate.path)
                continue
            acquisition = self._visit(candidate)
            if acquisition is not None:
                announced.append(acquisition)
        return announced

    def _done(self, c: Candidate) -> bool:
        """Already announced, or seen as non-calibrant (unless the rules now make it one)."""
        if c.run_number in self._state.announced:
            return True
        seen = self._state.ignored.get(c.run_number)
        return seen is not None and self.rules.sample_for(run_number=c.run_number, title=seen.title) is None

    def _signature(self, path: Path) -> tuple[int, int, int] | None:
        try:
            st = path.stat()
        except OSError:  # vanished (or unreadable) between listing and stat: look again next scan
            self._tracker.forget(path)
            return None
        return st.st_ino, st.st_size, st.st_mtime_ns

    def _visit(self, c: Candidate) -> Acquisition | None:
        signature = self._signature(c.path)
        now = self._clock()
        if signature is None or not self._tracker.observe(c.path, signature, now):
            return None
        try:
            run, title = read_identity(c.path)
            if run != c.run_number:
                raise UnreadyFileError(f"{c.path}: /entry/run_number is {run} but the file name says {c.run_number}")
        except UnreadyFileError as exc:
            self._note_unready(c.path, str(exc))
            self._tracker.restart(c.path, now)
            return None
        after = self._signature(c.path)
        if after != signature:  # changed while being read: settle again
            if after is not None:
                self._tracker.observe(c.path, after, now)
            return None
        self._unready.pop(c.path, None)
        return self._classify(c, title=title, size_bytes=signature[1])

    def _note_unready(self, path: Path, reason: str) -> None:
        level = logging.DEBUG if self._unready.get(path) == reason else logging.WARNING
        log.log(level, "not complete yet, will look again: %s", reason)
        self._unready[path] = reason

    def _classify(self, c: Candidate, *, title: str, size_bytes: int) -> Acquisition | None:
        sample = self.rules.sample_for(run_number=c.run_number, title=title)
        if sample is None:
            self._state.ignored[c.run_number] = SeenRun(run_number=c.run_number, path=c.path, title=title)
            save_state(self.state_path, self._state)
            self._tracker.forget(c.path)
            log.info("run %d (%r) is not a calibrant run", c.run_number, title)
            return None
        acquisition = Acquisition(
            run_number=c.run_number, ipts=c.ipts, path=c.path, title=title, sample=sample,
            grouping=self.rules.grouping, lite=self.rules.lite, size_bytes=size_bytes,
            detected_at=dt.datetime.now(dt.timezone.utc),
        )
        try:
            self.announce(acquisition)
        except Exception:  # noqa: BLE001 - any callback failure: keep watching, retry on the next scan
            log.exception("announcing run %d (%s) failed; retrying on the next scan", c.run_number, c.path)
            return None
        self._state.announced[c.run_number] = acquisition
        self._state.ignored.pop(c.run_number, None)
        save_state(self.state_path, self._state)
        self._tracker.forget(c.path)
        log.info("announced calibrant run %d (%s, %s)", c.run_number, sample, c.path)
        return acquisition

    # --- event loop ---------------------------------------------------------------------------
    def _safe_scan(self) -> list[Acquisition]:
        try:
            return self.scan_once()
        except Exception:  # noqa: BLE001 - e.g. the state file cannot be written: log, try again later
            log.exception("scan of %s failed; trying again on the next wake-up", self.root)
            return []

    def run(self, stop: threading.Event | None = None, poll_s: float = 2.0, *,
            force_polling: bool | None = None) -> None:
        """Scan on file-system events under ``root`` and at least every ``poll_s`` s until ``stop`` is set.

        The periodic rescan revisits settling files and covers file systems whose writes raise no
        events here (NFS/GPFS written by other hosts); ``force_polling`` makes watchfiles poll.
        """
        if poll_s <= 0:
            raise ValueError(f"poll_s must be positive, got {poll_s}")
        stop = stop if stop is not None else threading.Event()
        while not stop.is_set():
            if not self.root.is_dir():
                log.warning("watched root %s does not exist (yet); waiting", self.root)
                stop.wait(poll_s)
                continue
            try:
                self._watch(stop, poll_s, force_polling)
            except Exception:  # noqa: BLE001 - e.g. the watched folder was removed: start watching again
                log.exception("watching %s failed; restarting in %s s", self.root, poll_s)
                stop.wait(poll_s)

    def _watch(self, stop: threading.Event, poll_s: float, force_polling: bool | None) -> None:
        self._safe_scan()
        last = time.monotonic()
        timeout_ms = max(1, int(poll_s * 1000))
        for changes in watchfiles.watch(self.root, watch_filter=None, stop_event=stop, rust_timeout=timeout_ms,
                                        yield_on_timeout=True, debounce=min(1600, timeout_ms),
                                        force_polling=force_polling):
            relevant = any(candidate_of(Path(p)) is not None for _, p in changes)
            if relevant or time.monotonic() - last >= poll_s:
                self._safe_scan()
                last = time.monotonic()
