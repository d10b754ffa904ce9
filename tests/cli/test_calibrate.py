"""``snapcal calibrate``: the decision typed at the prompt resumes the paused run and the version is saved;
a rejected decision is asked again; expected errors end in one line, without Prefect's tracebacks; who
can decide a run on the embedded server; ``--gate`` and ``--approve`` exclude each other."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import _register_all, app, run
from cli.calibrate import EMBEDDED_PAUSE_TIMEOUT_S, SERVER_PAUSE_TIMEOUT_S, plan_decision, watch_pauses
from snapcal_core.errors import InvalidOptionsError
from snapcal_core.preflight import RunRef
from snapcal_core.settings import get_settings
from snapcal_core.simulate.run import simulate_run
from snapcal_core.storage.store import list_versions
from tests.data.conftest import REFERENCE_STATE

RUN = 4343
SID = "04bd2c53f6bf6754"


@pytest.fixture
def env(tmp_path, monkeypatch, prefect_harness):
    simulate_run(run_number=RUN, ipts=9, sample="diamond", n_events=2_000_000, seed=8,
                 settings=get_settings(data_root=tmp_path / "facility"))
    for name in ("data_root", "calibration_home", "scratch_dir"):
        monkeypatch.setenv(f"SNAPCAL_{name.upper()}", str(tmp_path / name.replace("data_root", "facility")))
    _register_all()
    return tmp_path


def _interactive(answers: list[str]):
    return CliRunner().invoke(app, ["calibrate", str(RUN), "--sample", "diamond", "--skip-pixel", "--interactive",
                                    "--pause-timeout", "120"], input="\n".join(answers) + "\n")


@pytest.mark.slow
@pytest.mark.prefect
def test_interactive_accept_at_the_prompt_saves_a_version(env):
    result = _interactive(["accept", "terminal tester", "1", f">={RUN}", "checked at the prompt"])
    assert result.exit_code == 0, result.output
    assert "decision [accept/iterate/cancel]" in result.output and "new calibration version 1" in result.output
    assert f"Run {RUN}, diamond, Column (Lite), iteration 1" in result.output  # the report came before the prompt
    assert "DIFC change vs the applicable calibration" in result.output and "focused_fits.png" in result.output
    assert f"new instrument state {SID} (first calibration of this state)" in result.output
    entries = list_versions(env / "calibration_home", SID, lite=True)
    assert entries[-1].version == 1 and entries[-1].author == "terminal tester"
    assert entries[-1].comments == "checked at the prompt"


@pytest.mark.slow
@pytest.mark.prefect
def test_interactive_asks_again_after_the_flow_rejects_a_decision(env):
    rejected = ["accept", "tester", "5", f">={RUN}", "iteration 5 does not exist"]
    result = _interactive([*rejected, "accept", "tester", "1", f">={RUN}", "second answer"])
    assert result.exit_code == 0, result.output
    assert result.output.count("decision [accept/iterate/cancel]") == 2, result.output
    assert list_versions(env / "calibration_home", SID, lite=True)[-1].comments == "second answer"


@pytest.mark.slow
@pytest.mark.prefect
@pytest.mark.parametrize(("sample", "vanished", "error"), [
    ("unobtainium", False, "error: CalibrantError: unknown calibrant sample 'unobtainium'"),
    ("diamond", True, "error: RunNotFoundError: event file"),
])
def test_an_expected_error_in_the_flow_is_one_line_without_a_traceback(env, monkeypatch, capfd, sample, vanished,
                                                                        error):
    """The CLI's checks are made to pass (the sample checked as diamond; the event file removed after
    the check), so that the error arises in the flow's tasks, which the CLI's resolved run reaches."""
    import cli.calibrate
    from snapcal_core.preflight import check_calibration

    def checked(**kw):
        ref = check_calibration(**{**kw, "sample": "diamond"})
        if vanished:
            Path(ref.event_file).unlink()
        return ref

    monkeypatch.setattr(cli.calibrate, "check_calibration", checked)
    code = run(["calibrate", str(RUN), "--sample", sample, "--skip-pixel", "--approve", "--author", "x"])
    out, err = capfd.readouterr()
    assert code == 2, out + err
    assert err.strip().splitlines()[-1].startswith(error), err
    assert "Traceback" not in out + err


@pytest.mark.slow
@pytest.mark.prefect
def test_the_walk_from_the_command_to_the_saved_version_locates_the_run_once(env, monkeypatch):
    """The CLI resolves the run before a server starts; the flow receives that run, not the number again."""
    import snapcal_core.preflight

    located = []
    real = snapcal_core.preflight.locate_run
    monkeypatch.setattr(snapcal_core.preflight, "locate_run", lambda *a, **kw: located.append(a) or real(*a, **kw))
    code = run(["calibrate", str(RUN), "--skip-pixel", "--approve", "--author", "walker"])
    assert code == 0
    assert len(located) == 1
    assert list_versions(env / "calibration_home", SID, lite=True)[-1].author == "walker"


def test_the_flow_refuses_a_resolved_run_of_another_run():
    from flows.calibration import resolved_run
    from flows.parameters import CalibrationParameters

    ref = RunRef(run_number=RUN + 1, ipts=9, event_file="SNAP.nxs.h5", state=REFERENCE_STATE, state_id=SID)
    assert resolved_run(CalibrationParameters(run_number=RUN + 1), ref) is ref
    with pytest.raises(InvalidOptionsError, match=f"resolved run {RUN + 1} is not the run to calibrate, {RUN}"):
        resolved_run(CalibrationParameters(run_number=RUN), ref)


def _replay(polls: list):
    """``running`` and ``paused`` of :func:`watch_pauses` that replay ``polls``, one per poll."""
    queue = list(polls)
    return dict(running=lambda: bool(queue), paused=lambda: queue.pop(0))


def test_a_rejected_decision_pauses_again_and_is_asked_again():
    """Each pause is its own Paused state: the second pause of the same iteration is asked, once."""
    asked = []
    watch_pauses(**_replay([("run", "paused-1"), ("run", "paused-1"), None, ("run", "paused-2"), ("run", "paused-2")]),
                 answer=lambda pause: asked.append(pause) or True)
    assert asked == [("run", "paused-1"), ("run", "paused-2")]


def test_an_answer_the_server_refused_is_asked_again():
    verdicts = iter([False, True])
    asked = []
    watch_pauses(**_replay([("run", "paused-1")] * 3), answer=lambda pause: asked.append(pause) or next(verdicts))
    assert asked == [("run", "paused-1")] * 2


def test_on_the_embedded_server_only_this_terminal_can_decide():
    at_terminal = plan_decision(approval="manual", interactive=False, pause_timeout_s=None, embedded=True, terminal=True)
    assert at_terminal.interactive and at_terminal.pause_timeout_s == EMBEDDED_PAUSE_TIMEOUT_S
    assert "nothing else can approve" in at_terminal.notes[0] and "make serve" in at_terminal.notes[0]
    with pytest.raises(InvalidOptionsError, match="--approve --author NAME or --gate"):
        plan_decision(approval="manual", interactive=False, pause_timeout_s=None, embedded=True, terminal=False)
    gate = plan_decision(approval="gate", interactive=False, pause_timeout_s=30, embedded=True, terminal=False)
    assert not gate.interactive and gate.pause_timeout_s == 30 and "after 30 s" in gate.notes[0]
    auto = plan_decision(approval="auto", interactive=False, pause_timeout_s=None, embedded=True, terminal=False)
    assert auto.notes == [] and not auto.interactive


def test_with_a_server_the_run_waits_for_the_ui_an_hour_by_default():
    plan = plan_decision(approval="manual", interactive=False, pause_timeout_s=None, embedded=False, terminal=False)
    assert not plan.interactive and plan.pause_timeout_s == SERVER_PAUSE_TIMEOUT_S
    assert "Prefect UI" in plan.notes[0]


def test_approve_and_gate_exclude_each_other(capsys):
    assert run(["calibrate", str(RUN), "--approve", "--author", "x", "--gate"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: InvalidOptionsError: --approve and --gate exclude each other"


def test_the_pause_timeout_option_documents_both_defaults():
    import inspect

    from cli.calibrate import calibrate

    out = inspect.signature(calibrate).parameters["pause_timeout"].default.help
    assert f"default {SERVER_PAUSE_TIMEOUT_S}" in out and f"{EMBEDDED_PAUSE_TIMEOUT_S} on the embedded" in out
