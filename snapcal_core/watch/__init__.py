"""Post-acquisition watcher: find complete calibrant runs in the facility tree and announce each once.

Pure core (never imports Prefect): announcing is a callback the caller supplies; a run is
recorded as announced only once that callback returned (retried with backoff until then).
"""

from __future__ import annotations

from snapcal_core.watch.delivery import Backoff, DeliveryQueue, announcement_id
from snapcal_core.watch.errors import RuleFileError, UnreadyFileError, WatchError, WatchStateError
from snapcal_core.watch.models import Acquisition, ExistingRun, RejectedRun, SeenRun, WatchState
from snapcal_core.watch.rules import DEFAULT_TITLE_RULES, CalibrantRules, TitleRule, load_rules
from snapcal_core.watch.watcher import Watcher

__all__ = [
    "DEFAULT_TITLE_RULES",
    "Acquisition",
    "Backoff",
    "CalibrantRules",
    "DeliveryQueue",
    "ExistingRun",
    "RejectedRun",
    "RuleFileError",
    "SeenRun",
    "TitleRule",
    "UnreadyFileError",
    "WatchError",
    "WatchState",
    "WatchStateError",
    "Watcher",
    "announcement_id",
    "load_rules",
]
