"""The ``snapcal`` command line (typer).

Each module in this package that defines ``register(app: typer.Typer) -> None`` adds its commands;
other packages (e.g. ``flows``, which may import Prefect) add theirs through the entry-point group
``snapcal.cli``, so this core package never imports Prefect.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from importlib.metadata import entry_points

import typer

from snapcal_core.errors import SnapcalError

app = typer.Typer(name="snapcal", help="SNAP diffraction calibration.", no_args_is_help=True, add_completion=False)


_REGISTERED: list[bool] = []


def _register_all() -> None:
    """Register every command once (idempotent, so tests may call it)."""
    if _REGISTERED:
        return
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(app)
    for ep in entry_points(group="snapcal.cli"):
        ep.load()(app)
    _REGISTERED.append(True)  # only once every command is in: a failed import is retried, not half-registered


def main() -> None:
    """Console entry point: run the app, turning snapcal errors into one clear line and exit 2."""
    _register_all()
    try:
        code = app(standalone_mode=False)  # a command's typer.Exit(n) comes back as n here
    except SnapcalError as exc:
        typer.secho(f"error: {type(exc).__name__}: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise
    if isinstance(code, int) and code:
        sys.exit(code)
