"""``snapcal calibrate --interactive``: the report in the terminal, the decision typed at the prompt
resumes the paused run, and the version is saved; ``--gate`` and ``--approve`` exclude each other."""

import pytest
from typer.testing import CliRunner

from snapcal_core.cli import _register_all, app
from snapcal_core.settings import get_settings
from snapcal_core.simulate.run import simulate_run
from snapcal_core.storage.store import list_versions

pytestmark = [pytest.mark.slow, pytest.mark.prefect]
RUN = 4343


@pytest.fixture
def env(tmp_path, monkeypatch, prefect_harness):
    simulate_run(run_number=RUN, ipts=9, sample="diamond", n_events=2_000_000, seed=8,
                 settings=get_settings(data_root=tmp_path / "facility"))
    for name in ("data_root", "calibration_home", "scratch_dir"):
        monkeypatch.setenv(f"SNAPCAL_{name.upper()}", str(tmp_path / name.replace("data_root", "facility")))
    _register_all()
    return tmp_path


def test_interactive_accept_at_the_prompt_saves_a_version(env):
    answers = "\n".join(["accept", "terminal tester", "1", f">={RUN}", "checked at the prompt"]) + "\n"
    result = CliRunner().invoke(app, ["calibrate", str(RUN), "--sample", "diamond", "--skip-pixel", "--interactive",
                                      "--pause-timeout", "120"], input=answers)
    assert result.exit_code == 0, result.output
    assert "decision [accept/iterate/cancel]" in result.output and "new calibration version 1" in result.output
    assert "group" in result.output.lower()  # the summary table was shown before the prompt
    entries = list_versions(env / "calibration_home", "04bd2c53f6bf6754", lite=True)
    assert entries[-1].version == 1 and entries[-1].author == "terminal tester"
    assert entries[-1].comments == "checked at the prompt"


def test_approve_and_gate_exclude_each_other():
    _register_all()
    result = CliRunner().invoke(app, ["calibrate", str(RUN), "--approve", "--author", "x", "--gate"])
    assert result.exit_code != 0 and "exclude each other" in result.output
