"""prefect.yaml (work pool + worker) and deployments/definitions.py (serve) define the same deployments."""

from pathlib import Path

import yaml

from deployments.definitions import BATCH, CALIBRATION, POOL, batch_schedule, trigger_parameters
from flows.batch import BatchParameters
from flows.events import ACQUIRED_EVENT
from flows.parameters import CalibrationParameters

PREFECT_YAML = Path(__file__).resolve().parents[2] / "prefect.yaml"


def _deployments() -> dict:
    return {d["name"]: d for d in yaml.safe_load(PREFECT_YAML.read_text())["deployments"]}


def test_yaml_trigger_matches_the_python_trigger():
    deployment = _deployments()[CALIBRATION]
    assert deployment["work_pool"]["name"] == POOL
    (trigger,) = deployment["triggers"]
    assert trigger["expect"] == [ACQUIRED_EVENT] and trigger["match"] == {"prefect.resource.id": "snap.run.*"}
    assert trigger["parameters"] == trigger_parameters("gate")


def test_yaml_schedule_matches_the_python_schedule_and_its_parameters_validate():
    (schedule,) = _deployments()[BATCH]["schedules"]
    python = batch_schedule()
    assert (schedule["cron"], schedule["timezone"], schedule["active"]) == (python.cron, python.timezone, python.active)
    assert schedule["parameters"] == python.parameters
    BatchParameters(**schedule["parameters"]["params"])


def test_rendered_trigger_parameters_validate_as_flow_parameters():
    """What the server renders from an event payload is a valid CalibrationParameters."""
    rendered = {"run_number": 58810, "sample": "diamond", "grouping": "Column", "lite": True, "approval": "gate",
                "auto_author": "snapcal watcher"}
    assert set(rendered) == set(trigger_parameters("gate")["params"])
    assert CalibrationParameters(**rendered).approval == "gate"
