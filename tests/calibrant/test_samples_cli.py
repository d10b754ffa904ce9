import json

import typer
from typer.testing import CliRunner

from cli import samples as samples_cli


def _app() -> typer.Typer:
    """The samples sub-app on its own root (the full CLI registers it the same way)."""
    app = typer.Typer()
    app.add_typer(samples_cli.samples_app, name="samples")

    @app.callback()
    def _root() -> None: ...

    return app


def test_samples_list_shows_the_shipped_samples():
    out = CliRunner().invoke(_app(), ["samples", "list"])
    assert out.exit_code == 0, out.output
    for text in ("diamond", "ceria", "silicon", "F d -3 m", "Ce O2", "5.43159", "diamond.json"):
        assert text in out.output


def test_samples_show_prints_fields_and_reflections():
    out = CliRunner().invoke(_app(), ["samples", "show", "diamond", "--dmin", "1.0"])
    assert out.exit_code == 0, out.output
    assert "latticeParameters" in out.output and "3 reflections in [1, 100] A" in out.output
    assert "2.05929" in out.output and "311" in out.output


def test_samples_show_json_respects_the_d_range():
    out = CliRunner().invoke(_app(), ["samples", "show", "silicon", "--json", "--dmin", "1.0", "--dmax", "3.0"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["sample"]["crystallography"]["spaceGroup"] == "F d -3 m"
    d = [r["d_angstrom"] for r in data["reflections"]]
    assert d and all(1.0 <= x <= 3.0 for x in d) and max(r["relative_intensity"] for r in data["reflections"]) == 1.0


def test_samples_show_unknown_name_is_a_calibrant_error():
    out = CliRunner().invoke(_app(), ["samples", "show", "unobtainium"])
    assert out.exit_code != 0 and "unknown calibrant sample" in str(out.exception)
