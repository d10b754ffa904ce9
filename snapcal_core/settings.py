"""Settings (pydantic-settings): ``SNAPCAL_*`` environment variables or a TOML file.

The TOML file is ``$SNAPCAL_CONFIG`` if set, else ``./snapcal.toml`` when present. Defaults put
everything inside ``./var`` so the demo needs no setup.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

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


def get_settings(**overrides: object) -> SnapcalSettings:
    """Fresh settings (environment and TOML re-read on every call, so tests can monkeypatch)."""
    return SnapcalSettings(**overrides)
