"""The watcher's JSON state file: read it (absent = nothing seen yet) and replace it atomically."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import ValidationError

from snapcal_core.watch.errors import WatchStateError
from snapcal_core.watch.models import WatchState


def load_state(path: Path) -> WatchState:
    """The state stored at ``path``; an empty state when the file does not exist yet."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return WatchState()
    except (OSError, UnicodeDecodeError) as exc:
        raise WatchStateError(f"watch state file {path} cannot be read: {exc}") from exc
    try:
        return WatchState.model_validate_json(text)
    except ValidationError as exc:
        # refuse to start rather than announce every run again: the file needs a human look
        raise WatchStateError(f"watch state file {path} is malformed (fix or move it away): {exc}") from exc


def save_state(path: Path, state: WatchState) -> None:
    """Write ``state`` to a temporary file beside ``path``, fsync it, then ``os.replace`` it into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(state.model_dump_json(indent=2))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise WatchStateError(f"watch state file {path} cannot be written: {exc}") from exc
