"""What the commands print: results on stdout (rich tables, JSON), progress on stderr."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any

import typer
from rich.console import Console
from rich.status import Status
from rich.table import Table

console = Console(width=None if sys.stdout.isatty() else 120)


def print_json(obj: Any) -> None:
    """Print ``obj`` as JSON on stdout (pydantic models via ``model_dump(mode='json')``)."""
    if hasattr(obj, "model_dump"):
        obj = obj.model_dump(mode="json")
    typer.echo(json.dumps(obj, indent=2, default=float))


def print_table(title: str, columns: Sequence[str], rows: list[list[Any]]) -> None:
    """Print a readable rich table."""
    console.print(f"[bold]{title}[/bold]")
    table = Table()
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*[f"{v:.6g}" if isinstance(v, float) else str(v) for v in r])
    console.print(table)


class Progress:
    """What a long command is doing, on stderr (stdout keeps the results): a rich spinner line on a
    terminal, plain lines otherwise (logs, pipes); silent when ``quiet`` (e.g. ``--json``)."""

    def __init__(self, *, quiet: bool = False) -> None:
        self._console = Console(stderr=True)
        self._quiet = quiet
        self._status: Status | None = None
        self._started = time.perf_counter()

    def __enter__(self) -> Progress:
        if not self._quiet and self._console.is_terminal:
            self._status = self._console.status("")
            self._status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.stop()

    def step(self, text: str) -> None:
        """Now doing ``text`` (the spinner's line; a plain line without a terminal)."""
        self._started = time.perf_counter()
        if self._quiet:
            return
        if self._status is not None:
            self._status.update(f"{text} ...")
        else:
            self._console.print(f"{text} ...", markup=False, highlight=False)

    def done(self, text: str) -> None:
        """A line that stays, with the seconds since the last :meth:`step`."""
        if not self._quiet:
            self._console.print(f"{text} ({time.perf_counter() - self._started:.1f} s)", markup=False, highlight=False)
