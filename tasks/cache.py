"""Cache keys that make the flow body safe to re-run (a suspended run re-executes from the top).

A task's key is the hash of its parameters, where the parameters that name *input* files or
folders also contribute each file's size and mtime: a rewritten input is never served a stale
result (PREFECT.md: caching on a path string alone returns stale results). Output folders are
hashed by name only, since the task itself changes them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from snapcal_core import __version__


def path_stamp(path: str | None) -> list:
    """Size and mtime of a file, or of every file directly inside a folder; [] if absent."""
    if not path:  # None or "" (no file: "" would otherwise be the working directory)
        return []
    p = Path(path)
    if p.is_dir():
        return [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in sorted(p.iterdir()) if f.is_file()]
    if p.is_file():
        st = p.stat()
        return [p.name, st.st_size, st.st_mtime_ns]
    return []


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _lookup(parameters: dict[str, Any], name: str) -> Any:
    """``parameters[name]``, or an attribute of a parameter for ``"param.attr"``."""
    head, *attrs = name.split(".")
    value = parameters.get(head)
    for attr in attrs:
        value = getattr(value, attr, None)
    return value


def stamped_key(*input_paths: str) -> Callable[[Any, dict[str, Any]], str]:
    """A ``cache_key_fn`` hashing every parameter, plus the stamps of the ``input_paths`` (parameter
    names, or ``"param.attr"`` for a path held by a model parameter)."""

    def key(context, parameters: dict[str, Any]) -> str:
        stamps = {name: path_stamp(_lookup(parameters, name)) for name in input_paths}
        text = json.dumps({"snapcal": __version__, "task": context.task.name, "parameters": _plain(parameters),
                           "stamps": stamps}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    return key
