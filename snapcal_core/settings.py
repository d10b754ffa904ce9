"""Settings (pydantic-settings): ``SNAPCAL_*`` environment variables or a TOML file.

The TOML file is ``$SNAPCAL_CONFIG`` if set, else ``./snapcal.toml`` when present. Defaults put
everything inside ``./var`` so the demo needs no setup.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from snapcal_core.errors import ConfigurationError

_PACKAGE_SAMPLES = Path(__file__).parent / "samples"


def _toml_path() -> Path:
    return Path(os.environ.get("SNAPCAL_CONFIG", "snapcal.toml"))


class SnapcalSettings(BaseSettings):
    """Where snapcal reads raw data and keeps calibrations, scratch files and calibrant samples."""

    model_config = SettingsConfigDict(env_prefix="SNAPCAL_", extra="ignore")

    data_root: Path = Field(Path("var/facility"), description="Facility tree holding SNAP/IPTS-*/nexus/")
    calibration_home: Path = Field(Path("var/calibration"), description="Root of the calibration store")
    scratch_dir: Path = Field(Path("var/scratch"), description="Work area for intermediate files")
    calibrant_home: Path = Field(_PACKAGE_SAMPLES, description="Folder of calibrant-sample JSON files")
    watch_state: Path = Field(Path("var/watch/announced.json"), description="Runs the acquisition watcher has announced")
    calibrant_rules: Path | None = Field(None, description="Rule file (TOML/JSON) saying which runs are calibrant runs")
    prefect_home: Path = Field(Path("var/prefect"), description="Prefect's state (PREFECT_HOME: its SQLite database, "
                               "results, profiles) for every command, unless PREFECT_HOME is set")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if _toml_path().is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=_toml_path()))
        return tuple(sources)


def get_settings(**overrides: Any) -> SnapcalSettings:
    """Fresh settings (environment and TOML re-read on every call, so tests can monkeypatch).

    An unreadable TOML file or a value no setting accepts is a :class:`ConfigurationError` naming the
    file and the setting."""
    try:
        return SnapcalSettings(**overrides)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"settings file {_toml_path()} is not valid TOML: {exc}") from None
    except ValidationError as exc:
        where = _toml_path() if _toml_path().is_file() else "SNAPCAL_* environment"
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
        raise ConfigurationError(f"settings ({where}): {problems}") from None


def prefect_environment(settings: SnapcalSettings | None = None) -> dict[str, str]:
    """The Prefect variables every snapcal command runs with: Prefect's home (and so its SQLite database,
    ``$PREFECT_HOME/prefect.db``) under the snapcal home, no telemetry, a server start-up timeout that fits
    two busy cores."""
    home = Path((settings or get_settings()).prefect_home).expanduser().resolve()
    return {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    }


def use_prefect_environment(settings: SnapcalSettings | None = None) -> dict[str, str]:
    """Put :func:`prefect_environment` into ``os.environ`` where a variable is unset (the user's value wins);
    returns what was set. Call it before Prefect is imported: Prefect reads its settings at import."""
    added = {k: v for k, v in prefect_environment(settings).items() if k not in os.environ}
    os.environ.update(added)
    return added


def ensure_prefect_home() -> Path:
    """Create ``$PREFECT_HOME`` (parents too) before Prefect is imported: Prefect makes only the last folder."""
    home = Path(os.environ.get("PREFECT_HOME") or prefect_environment()["PREFECT_HOME"]).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home
