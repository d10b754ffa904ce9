"""Helpers shared by CLI commands."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

console = Console(width=None if sys.stdout.isatty() else 120)


def print_json(obj: Any) -> None:
    """Print ``obj`` as JSON on stdout (pydantic models via ``model_dump(mode='json')``)."""
    if hasattr(obj, "model_dump"):
        obj = obj.model_dump(mode="json")
    typer.echo(json.dumps(obj, indent=2, default=float))


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """Print a readable rich table."""
    console.print(f"[bold]{title}[/bold]")
    table = Table()
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*[f"{v:.6g}" if isinstance(v, float) else str(v) for v in r])
    console.print(table)
