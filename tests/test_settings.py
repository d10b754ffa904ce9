from pathlib import Path

from typer.testing import CliRunner

from snapcal_core.settings import get_settings


def test_defaults_live_in_var(monkeypatch):
    for name in ("DATA_ROOT", "CALIBRATION_HOME", "SCRATCH_DIR", "CALIBRANT_HOME", "CONFIG"):
        monkeypatch.delenv(f"SNAPCAL_{name}", raising=False)
    monkeypatch.setenv("SNAPCAL_CONFIG", "/nonexistent/snapcal.toml")
    s = get_settings()
    assert s.data_root == Path("var/facility") and s.calibration_home == Path("var/calibration")


def test_toml_file_and_environment(tmp_path, monkeypatch):
    toml = tmp_path / "snapcal.toml"
    toml.write_text(f'data_root = "{tmp_path / "facility"}"\nscratch_dir = "{tmp_path / "scratch"}"\n')
    monkeypatch.setenv("SNAPCAL_CONFIG", str(toml))
    monkeypatch.setenv("SNAPCAL_SCRATCH_DIR", str(tmp_path / "env-scratch"))
    s = get_settings()
    assert s.data_root == tmp_path / "facility"
    assert s.scratch_dir == tmp_path / "env-scratch"  # the environment wins over the file


def test_config_and_groups_commands(settings_env):
    from cli import _register_all, app

    _register_all()
    out = CliRunner().invoke(app, ["config", "--json"])
    assert out.exit_code == 0 and str(settings_env / "data_root") in out.output
    out = CliRunner().invoke(app, ["groups", "--grouping", "Bank", "--lite", "--json"])
    assert out.exit_code == 0, out.output
    assert '"group_id": 2' in out.output and '"n_pixels": 9216' in out.output
    out = CliRunner().invoke(app, ["groups", "--grouping", "Nope"])
    assert out.exit_code != 0


def test_config_table_with_the_default_settings_shows_unset_paths(settings_env):
    """Without --json too: the optional rule file is None by default and shows as not set."""
    from cli import _register_all, app

    _register_all()
    out = CliRunner().invoke(app, ["config"])
    assert out.exit_code == 0, out.output
    assert "calibrant_rules" in out.output and "(not set)" in out.output
    assert str(settings_env / "data_root") in out.output.replace("\n", "").replace("│", "").replace(" ", "") or \
        "data_root" in out.output
