"""Post-acquisition watcher: hand each complete calibrant run to a callback until it is accepted, once.

The pure core of the watcher (no Prefect): the caller supplies ``announce`` (e.g. a function that
posts a ``snap.run.acquired`` event and raises unless the server accepted it).
:meth:`Watcher.scan_once` is a deterministic poll; :meth:`Watcher.run` wakes up on file-system
events and at least every ``poll_s`` seconds.

Delivery is at least once and never loses a run: a complete calibrant run is first recorded as
*pending* in the state file, then announced; it moves to *announced* only after ``announce``
returned. A failed announcement is retried with a bounded exponential backoff
(:mod:`snapcal_core.watch.delivery`), on later scans and after restarts, with the same event id
every time (a crash between the server's acceptance and the state write announces it again
with that id: a Prefect server stores it once and its triggers skip an id seen in the last
30 min). One watcher per state file.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import watchfiles

from snapcal_core.watch.backfill import existing_at_start, is_corrupt
from snapcal_core.watch.delivery import Backoff, DeliveryQueue, announcement_id
from snapcal_core.watch.errors import UnreadyFileError
from snapcal_core.watch.models import Acquisition, ExistingRun, RejectedRun, SeenRun
from snapcal_core.watch.probe import (
    Candidate,
    SettleTracker,
    Signature,
    candidate_of,
    find_candidates,
    read_identity,
    verify_events,
)
from snapcal_core.watch.rules import CalibrantRules
from snapcal_core.watch.state import load_state, save_state

log = logging.getLogger(__name__)


class Watcher:
    """Announce complete calibrant runs found under ``root`` (the data root, or its ``SNAP`` folder).

    A file ``IPTS-<n>/nexus/SNAP_<run>.nxs.h5`` is complete when its inode, size and mtime have
    not changed for ``settle_s`` seconds of ``clock`` and it opens as NeXus with a run number
    (equal to the one in its name) and a title; a calibrant run's events must also all read
    back. A file that is not complete is looked at again later and never raises; one still
    unreadable ``corrupt_after_s`` (wall clock) after its last change is rejected (reported,
    skipped until it changes). ``state_path`` (JSON) remembers every run dealt with.

    On the first start (no state file) without ``backfill``, the files already complete in the
    tree are recorded as existing and never announced; with ``backfill`` they are announced
    (the corrupt ones rejected). ``backfill`` on a later start also announces the runs an
    earlier first start recorded as existing.
    """

    def __init__(
        self,
        root: Path,
        rules: CalibrantRules,
        state_path: Path,
        announce: Callable[[Acquisition], None],
        settle_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        backfill: bool = False,
        corrupt_after_s: float = 600.0,
        backoff: Backoff | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if settle_s < 0:
            raise ValueError(f"settle_s must be >= 0 seconds, got {settle_s}")
        if corrupt_after_s < settle_s:
            raise ValueError(f"corrupt_after_s ({corrupt_after_s}) must be >= settle_s ({settle_s})")
        self.root = Path(root)
        self.rules = rules
        self.state_path = Path(state_path)
        self.announce = announce
        self.settle_s = float(settle_s)
        self.corrupt_after_s = float(corrupt_after_s)
        self._clock, self._wall_clock = clock, wall_clock
        self._tracker = SettleTracker(self.settle_s)
        self._queue = DeliveryQueue(backoff or Backoff())
        first_start = not self.state_path.exists()
        self._state = load_state(self.state_path)
        self._record_existing = first_start and not backfill
        self._save_on_first_scan = first_start or (backfill and bool(self._state.existing))
        if backfill and self._state.existing:
            log.info("backfill: %d run(s) recorded as existing at the first start are candidates again",
                     len(self._state.existing))
            self._state.existing.clear()
        if self._state.pending:
            log.info("%d run(s) found earlier are still to be announced: %s", len(self._state.pending),
                     ", ".join(map(str, sorted(self._state.pending))))
        self._unready: dict[Path, str] = {}  # last reason each file could not be read (logged once)

    @property
    def announced(self) -> dict[int, Acquisition]:
        """Runs the server accepted so far (also those of earlier watchers on the same state file)."""
        return dict(self._state.announced)

    @property
    def pending(self) -> dict[int, Acquisition]:
        """Complete calibrant runs whose announcement has not been accepted yet."""
        return dict(self._state.pending)

    @property
    def ignored(self) -> dict[int, SeenRun]:
        """Complete runs that were not calibrant runs."""
        return dict(self._state.ignored)

    @property
    def existing(self) -> dict[int, ExistingRun]:
        """Runs already in the tree at the first start (not backfilled)."""
        return dict(self._state.existing)

    @property
    def rejected(self) -> dict[int, RejectedRun]:
        """Corrupt files, reported and skipped."""
        return dict(self._state.rejected)

    # --- polling ------------------------------------------------------------------------------
    def scan_once(self) -> list[Acquisition]:
        """Look at every raw file once, then announce the pending runs that are due.

        Returns the acquisitions the server accepted during this scan.
        """
        candidates = find_candidates(self.root)
        self._tracker.keep_only({c.path for c in candidates})
        if self._record_existing:
            self._note_existing(candidates)
        if self._save_on_first_scan:
            save_state(self.state_path, self._state)  # from now on this is not a first start
            self._record_existing = self._save_on_first_scan = False
        for candidate in candidates:
            if self._done(candidate):
                self._tracker.forget(candidate.path)
            else:
                self._visit(candidate)
        return self._deliver()

    def _note_existing(self, candidates: list[Candidate]) -> None:
        stamped = [(c, s[2]) for c in candidates if (s := self._signature(c.path)) is not None]
        existing = existing_at_start(stamped, now_s=self._wall_clock(), settle_s=self.settle_s)
        for c in existing:
            self._state.existing[c.run_number] = ExistingRun(run_number=c.run_number, path=c.path)
        if existing:
            log.warning("first start without backfill: %d run(s) already in %s are recorded as existing and will "
                        "not be calibrated (start the watcher once with --backfill to calibrate them)",
                        len(existing), self.root)

    def _done(self, c: Candidate) -> bool:
        """Announced, pending or existing, or seen as non-calibrant (unless the rules now make it one)."""
        state = self._state
        if c.run_number in state.announced or c.run_number in state.pending or c.run_number in state.existing:
            return True
        seen = state.ignored.get(c.run_number)
        return seen is not None and self.rules.sample_for(run_number=c.run_number, title=seen.title) is None

    def _signature(self, path: Path) -> Signature | None:
        try:
            st = path.stat()
        except OSError:  # vanished (or unreadable) between listing and stat: look again next scan
            self._tracker.forget(path)
            return None
        return st.st_ino, st.st_size, st.st_mtime_ns

    def _still_rejected(self, c: Candidate, signature: Signature) -> bool:
        rejected = self._state.rejected.get(c.run_number)
        return rejected is not None and (rejected.size_bytes, rejected.mtime_ns) == signature[1:]

    def _visit(self, c: Candidate) -> None:
        signature = self._signature(c.path)
        if signature is None or self._still_rejected(c, signature):
            return
        now = self._clock()
        if not self._tracker.observe(c.path, signature, now):
            return
        try:
            run, title = read_identity(c.path)
            if run != c.run_number:
                raise UnreadyFileError(f"{c.path}: /entry/run_number is {run} but the file name says {c.run_number}")
            sample = self.rules.sample_for(run_number=c.run_number, title=title)
            if sample is not None:
                verify_events(c.path)
        except UnreadyFileError as exc:
            self._unreadable(c, signature, str(exc), now)
            return
        after = self._signature(c.path)
        if after != signature:  # changed while being read: settle again
            if after is not None:
                self._tracker.observe(c.path, after, now)
            return
        self._unready.pop(c.path, None)
        self._tracker.forget(c.path)
        if sample is None:
            self._ignore(c, title)
        else:
            self._enqueue(c, title=title, sample=sample, signature=signature)

    def _unreadable(self, c: Candidate, signature: Signature, reason: str, now: float) -> None:
        """Look again after another settle time, or reject the file once it is old enough to be corrupt."""
        if not is_corrupt(signature[2], now_s=self._wall_clock(), corrupt_after_s=self.corrupt_after_s):
            level = logging.DEBUG if self._unready.get(c.path) == reason else logging.WARNING
            log.log(level, "not complete yet, will look again: %s", reason)
            self._unready[c.path] = reason
            self._tracker.restart(c.path, now)
            return
        self._state.rejected[c.run_number] = RejectedRun(run_number=c.run_number, path=c.path, size_bytes=signature[1],
                                                         mtime_ns=signature[2], reason=reason)
        save_state(self.state_path, self._state)
        self._unready.pop(c.path, None)
        self._tracker.forget(c.path)
        log.error("run %d is corrupt and will not be calibrated (looked at again only if the file changes): %s",
                  c.run_number, reason)

    def _ignore(self, c: Candidate, title: str) -> None:
        self._state.ignored[c.run_number] = SeenRun(run_number=c.run_number, path=c.path, title=title)
        self._state.rejected.pop(c.run_number, None)
        save_state(self.state_path, self._state)
        log.info("run %d (%r) is not a calibrant run", c.run_number, title)

    def _enqueue(self, c: Candidate, *, title: str, sample: str, signature: Signature) -> None:
        """Record the run as pending (in the state file) before the first attempt to announce it."""
        acquisition = Acquisition(
            run_number=c.run_number, ipts=c.ipts, path=c.path, title=title, sample=sample,
            grouping=self.rules.grouping, lite=self.rules.lite, size_bytes=signature[1],
            detected_at=dt.datetime.now(dt.UTC),
            event_id=announcement_id(run_number=c.run_number, path=c.path, size_bytes=signature[1],
                                     mtime_ns=signature[2]),
        )
        self._state.pending[c.run_number] = acquisition
        self._state.ignored.pop(c.run_number, None)
        self._state.rejected.pop(c.run_number, None)
        save_state(self.state_path, self._state)
        log.info("calibrant run %d (%s, %s) is complete; announcing it", c.run_number, sample, c.path)

    # --- delivery -----------------------------------------------------------------------------
    def _deliver(self) -> list[Acquisition]:
        """Announce the due pending runs in run order; stop at the first failure (backoff)."""
        delivered = []
        now = self._clock()
        for run in self._queue.due(self._state.pending, now):
            acquisition = self._state.pending[run]
            try:
                self.announce(acquisition)
            except Exception as exc:  # noqa: BLE001 - any callback failure: the run stays pending
                self._failed(acquisition, exc, now)
                break
            self._queue.delivered(run)
            del self._state.pending[run]
            self._state.announced[run] = acquisition
            delivered.append(acquisition)
            save_state(self.state_path, self._state)
            log.info("announced calibrant run %d (%s, %s)", run, acquisition.sample, acquisition.path)
        return delivered

    def _failed(self, acquisition: Acquisition, exc: Exception, now: float) -> None:
        wait_s = self._queue.failed(acquisition.run_number, now)
        log.warning("announcing run %d (%s) failed (attempt %d: %s); %d run(s) pending, retrying in %.0f s",
                    acquisition.run_number, acquisition.path, self._queue.failures(acquisition.run_number), exc,
                    len(self._state.pending), wait_s)

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

        The periodic rescan revisits settling files, retries pending announcements and covers
        file systems whose writes raise no events here (NFS/GPFS written by other hosts);
        ``force_polling`` makes watchfiles poll.
        """
        if poll_s <= 0:
            raise ValueError(f"poll_s must be positive, got {poll_s}")
        stop = stop if stop is not None else threading.Event()
        while not stop.is_set():
            if not self.root.is_dir():
                log.warning("watched root %s does not exist (yet); waiting", self.root)
                self._deliver_safely()
                stop.wait(poll_s)
                continue
            try:
                self._watch(stop, poll_s, force_polling)
            except Exception:  # noqa: BLE001 - e.g. the watched folder was removed: start watching again
                log.exception("watching %s failed; restarting in %s s", self.root, poll_s)
                stop.wait(poll_s)

    def _deliver_safely(self) -> None:
        try:
            self._deliver()
        except Exception:  # noqa: BLE001 - the state file cannot be written: try again later
            log.exception("announcing the pending runs failed; trying again on the next wake-up")

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
