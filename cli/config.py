"""``snapcal config``: show the resolved settings and where they came from."""

from __future__ import annotations

import typer

from cli.display import print_json, print_table
from snapcal_core import __version__
from snapcal_core.settings import _toml_path, get_settings


def config(json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table")) -> None:
    """Show data root, calibration home, scratch dir and calibrant home."""
    settings = get_settings()
    if json_out:
        print_json({"version": __version__, **settings.model_dump(mode="json")})
        return
    source = _toml_path() if _toml_path().is_file() else "defaults + SNAPCAL_* environment"
    rows = [[k, "(not set)" if v is None else str(v.resolve())] for k, v in settings.model_dump().items()]
    print_table(f"snapcal {__version__} settings ({source})", ["setting", "path"], rows)
