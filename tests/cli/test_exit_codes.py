"""Every subcommand of the README, with good and bad input, through the console entry point: exit 0 for
work done, 2 and one line ``error: <Type>: <what>`` for bad input and usage errors, 1 and one line for an
internal error; never a traceback without ``--debug``.

All offline and without Prefect: the calibrate cases fail in the checks before Prefect starts (a good
calibrate is tests/flows/test_calibrate_cli.py and tests/test_readme_commands.py).
"""

from __future__ import annotations

import re
import sys

import pytest

from cli import main
from snapcal_core.constants import REFERENCE_STATE_ID
from snapcal_core.settings import get_settings
from snapcal_core.simulate.run import simulate_run
from tests.test_readme_commands import focused_file

RUN = 31  # a small simulated silicon run in IPTS-4
UNKNOWN = 424242
OK = 0
BAD = 2
GOOD_CASES = [  # (argv, exit code, first line of stdout: a regular expression)
    (["--help"], OK, r"^$|Usage: snapcal"),
    (["config"], OK, r"snapcal \S+ settings"),
    (["config", "--json"], OK, r"^\{$"),
    (["samples", "list"], OK, r"calibrant samples \(3\)"),
    (["samples", "show", "silicon"], OK, r"silicon from .*silicon\.json"),
    (["groups", "--grouping", "Column", "--lite"], OK, r"Column grouping \(Lite\)"),
    (["inspect", str(RUN), "--lite"], OK, rf"run {RUN}  IPTS-4"),
    (["index", "list"], OK, r"no calibration in .* yet"),
    (["simulate", "--run", "32", "--ipts", "4", "--sample", "silicon", "--events", "20000"], OK, r"run 32 \(silicon"),
    (["assess", "FOCUSED", "--sample", "silicon"], OK, r"group geometry: "),
    (["recipe", str(RUN), "--sample", "silicon", "--skip-pixel"], OK, r"pixel step: pixel step skipped"),
]
BAD_CASES = [  # (argv, exit code, first line of stderr: a regular expression)
    ([], BAD, r"UsageError: snapcal needs a command"),
    (["bogus"], BAD, r"UsageError: snapcal: No such command 'bogus'"),
    (["index"], BAD, r"UsageError: snapcal index needs a command"),
    (["calibrate", "abc"], BAD, r"UsageError: snapcal calibrate: Invalid value for 'run'"),
    (["calibrate", "0"], BAD, r"UsageError: snapcal calibrate: Invalid value for 'run': .*greater than or equal to 1"),
    (["calibrate", str(RUN), "--pause-timeout", "0"], BAD, r"UsageError: .*'--pause-timeout'"),
    (["calibrate", str(RUN), "--approve", "--author", ""], BAD, r"InvalidOptionsError: --approve needs --author"),
    (["calibrate", str(RUN), "--approve", "--author", "eve\nroot"], BAD, r"InvalidOptionsError: author .*one line"),
    (["calibrate", str(RUN), "--approve", "--author", "x" * 300], BAD, r"InvalidOptionsError: author .*300 characters"),
    (["calibrate", str(RUN), "--approve", "--gate", "--author", "x"], BAD, r"exclude each other"),
    (["calibrate", str(UNKNOWN), "--approve", "--author", "x"], BAD, rf"IptsNotFoundError: run {UNKNOWN} "),
    (["calibrate", str(RUN), "--sample", "unobtainium", "--approve", "--author", "x"], BAD,
     r"CalibrantError: unknown calibrant sample 'unobtainium'"),
    (["calibrate", str(RUN), "--grouping", "Rows", "--approve", "--author", "x"], BAD, r"GroupingError: grouping 'Rows'"),
    (["calibrate", str(RUN), "--mask", "absent_mask.h5", "--approve", "--author", "x"], BAD,
     r"MaskFileError: mask file .*absent_mask\.h5 does not exist"),
    (["calibrate", str(RUN), "--fit", "everything"], BAD, r"UsageError: .*'--fit'"),
    (["recipe", str(RUN)], BAD, r"UsageError: snapcal recipe: Missing option '--sample'"),
    (["recipe", str(UNKNOWN), "--sample", "silicon"], BAD, rf"IptsNotFoundError: run {UNKNOWN} "),
    (["recipe", str(RUN), "--sample", "stdlib::Nope.ncmat"], BAD, r"CalibrantError: sample 'stdlib::Nope\.ncmat'"),
    (["inspect", str(UNKNOWN)], BAD, rf"IptsNotFoundError: run {UNKNOWN} "),
    (["inspect", str(RUN), "--grouping", "absent.xml"], BAD, r"GroupingError: grouping 'absent\.xml'"),
    (["groups", "--grouping", "Rows"], BAD, r"GroupingError: grouping 'Rows'"),
    (["groups", "--arc", "1"], BAD, r"UsageError: .*'--arc' requires 2 arguments"),
    (["samples", "show", "unobtainium"], BAD, r"CalibrantError: unknown calibrant sample"),
    (["assess", "absent.nxs", "--sample", "silicon"], BAD, r"CorruptFileError: cannot open absent\.nxs"),
    (["assess", "FOCUSED", "--sample", "silicon", "--arc", "-65", "105"], BAD, r"InvalidOptionsError: --arc .* --lin"),
    (["index", "applies", "5", "--state", REFERENCE_STATE_ID], BAD, r"StorageError: "),
    (["index", "show", "1"], BAD, r"StorageError: give --state STATE_ID: .* holds no state yet"),
    (["index", "list", "--state", "../etc"], BAD, r"StorageError: state id '\.\./etc'"),
    (["simulate", "--run", "0", "--ipts", "1", "--events", "1000"], BAD, r"InvalidRunNumberError: run number 0"),
    (["simulate", "--run", "x", "--ipts", "1"], BAD, r"UsageError: .*'--run'"),
]


@pytest.fixture(scope="module")
def facility(tmp_path_factory):
    root = tmp_path_factory.mktemp("facility")
    simulate_run(run_number=RUN, ipts=4, sample="silicon", n_events=600_000, seed=5,
                 settings=get_settings(data_root=root))
    return root


@pytest.fixture
def env(facility, tmp_path, monkeypatch):
    monkeypatch.setenv("SNAPCAL_DATA_ROOT", str(facility))
    monkeypatch.setenv("SNAPCAL_CALIBRATION_HOME", str(tmp_path / "calibration"))
    monkeypatch.setenv("SNAPCAL_SCRATCH_DIR", str(tmp_path / "scratch"))
    monkeypatch.setenv("SNAPCAL_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.delenv("SNAPCAL_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def snapcal(argv: list[str], capsys) -> tuple[int, str, str]:
    """``snapcal ARGV`` through the console entry point, ``sys.argv`` patched: (exit code, stdout, stderr)."""
    old = sys.argv
    sys.argv = ["snapcal", *argv]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = old
    out = capsys.readouterr()
    return code, out.out, out.err


def _argv(argv: list[str], env) -> list[str]:
    if "FOCUSED" in argv:
        path = env / "focused.nxs"
        if not path.exists():
            focused_file(path)
        argv = [str(path) if a == "FOCUSED" else a for a in argv]
    return argv


def _first_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.strip()), "")


@pytest.mark.parametrize(("argv", "code", "first"), GOOD_CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_good_input_exits_zero(argv, code, first, env, capsys):
    got, out, err = snapcal(_argv(argv, env), capsys)
    assert "Traceback" not in out + err, out + err
    assert got == code, out + err
    assert re.search(first, _first_line(out)), out


@pytest.mark.parametrize(("argv", "code", "first"), BAD_CASES, ids=lambda v: " ".join(v)[:60] if isinstance(v, list) else None)
def test_bad_input_is_one_error_line_and_exit_two(argv, code, first, env, capsys):
    got, out, err = snapcal(_argv(argv, env), capsys)
    assert "Traceback" not in out + err, out + err
    assert got == code, out + err
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], err  # progress lines may come first (simulate)
    assert re.search(first, errors[0]), errors[0]


def test_a_manual_run_on_the_embedded_server_without_a_terminal_is_refused_before_prefect_starts(env, capsys,
                                                                                                   monkeypatch):
    import cli.calibrate

    monkeypatch.setattr(cli.calibrate, "_embedded", lambda: True)
    monkeypatch.setattr(cli.calibrate, "_run_flow", lambda *a: pytest.fail("the flow must not start"))
    got, out, err = snapcal(["calibrate", str(RUN), "--sample", "silicon"], capsys)
    assert got == BAD and err.startswith("error: InvalidOptionsError: nothing could approve this run"), err
    assert "make serve" in err and "PREFECT_API_URL" in err and len(err.strip().splitlines()) == 1


def test_a_bad_settings_file_is_a_configuration_error(env, capsys, monkeypatch):
    (env / "snapcal.toml").write_text("data_root = [\n")
    monkeypatch.setenv("SNAPCAL_CONFIG", str(env / "snapcal.toml"))
    got, out, err = snapcal(["config"], capsys)
    assert got == BAD and err.startswith("error: ConfigurationError: settings file ") and "snapcal.toml" in err


@pytest.mark.parametrize("debug", [None, "--debug", "SNAPCAL_DEBUG=1"])
def test_an_internal_error_exits_one_its_traceback_only_with_debug(debug, env, capsys, monkeypatch):
    import cli.config

    def broken(**_):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli.config, "get_settings", broken)
    if debug == "SNAPCAL_DEBUG=1":
        monkeypatch.setenv("SNAPCAL_DEBUG", "1")
    got, out, err = snapcal(["--debug", "config"] if debug == "--debug" else ["config"], capsys)
    assert got == 1
    assert err.strip().splitlines()[-1].startswith("error: internal error: RuntimeError: boom")
    assert ("Traceback" in err) == (debug is not None), err
