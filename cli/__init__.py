"""The ``snapcal`` command line (typer): every command is listed in :func:`_register_all`.

The commands live in this package's modules; the Prefect-backed ones (``calibrate``, ``watch``)
import Prefect and :mod:`flows` only when they run, so the other commands never import Prefect.
Layers: ``cli`` -> ``flows`` -> ``tasks`` -> ``snapcal_core``; nothing below imports ``cli``.

One error path for every command (:func:`main`): a snapcal error, a usage error (bad argument or
option) or invalid parameters print one line ``error: <Type>: <what>`` on stderr and exit 2; any
other error is internal: one line and exit 1, its traceback only with ``--debug`` (or ``SNAPCAL_DEBUG=1``).
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import typer
from pydantic import ValidationError
from typer.exceptions import TyperException

from snapcal_core.errors import SnapcalError
from snapcal_core.settings import ensure_prefect_home, use_prefect_environment

app = typer.Typer(name="snapcal", help="SNAP diffraction calibration.", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False)

USAGE_EXIT = 2  # snapcal errors, usage errors, invalid parameters
INTERNAL_EXIT = 1  # anything else: a bug or an unexpected environment
_REGISTERED: list[bool] = []
_DEBUG: list[bool] = []
#: Commands that run on a Prefect server: their Prefect home is created first.
PREFECT_COMMANDS = frozenset({"calibrate", "watch"})


@app.callback()
def _root(ctx: typer.Context,
          debug: bool = typer.Option(False, "--debug", envvar="SNAPCAL_DEBUG",
                                     help="Show the traceback of an internal error (also SNAPCAL_DEBUG=1)")) -> None:
    """SNAP diffraction calibration."""
    if debug:
        _DEBUG.append(True)
    if ctx.invoked_subcommand in PREFECT_COMMANDS:
        ensure_prefect_home()  # Prefect itself creates only the last folder of PREFECT_HOME


def _register_all() -> None:
    """Register every ``snapcal`` command, in ``--help`` order (once: idempotent, so tests may call it).

    The modules are imported here, when the command line runs, after :func:`run` set Prefect's
    environment; an import that fails registers nothing and is retried on the next call.
    """
    if _REGISTERED:
        return
    from cli import assess, calibrate, config, groups, index, inspect, recipe, samples, simulate, watch

    app.command("assess")(assess.assess)
    app.command("config")(config.config)
    app.command("groups")(groups.groups)
    app.command("inspect")(inspect.inspect)
    app.command("recipe")(recipe.recipe)
    app.command("simulate")(simulate.simulate)
    app.command("calibrate")(calibrate.calibrate)  # on a Prefect server (PREFECT_COMMANDS)
    app.command("watch")(watch.watch)  # on a Prefect server (PREFECT_COMMANDS)
    app.add_typer(index.index_app, name="index")  # command groups: typer lists them last
    app.add_typer(samples.samples_app, name="samples")
    _REGISTERED.append(True)


def debug_requested(argv: list[str]) -> bool:
    """``--debug`` on the command line (before the command) or ``SNAPCAL_DEBUG`` set to a true value."""
    flag = os.environ.get("SNAPCAL_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}
    return flag or "--debug" in argv or bool(_DEBUG)


def one_line(text: object) -> str:
    """``text`` with its line breaks and runs of blanks folded into single spaces."""
    return " ".join(str(text).split())


def error_line(kind: str, what: object) -> str:
    """``error: <Type>: <what>``, the one line every failing command ends with."""
    return f"error: {kind}: {one_line(what) or '(no message)'}"


def _usage_errors() -> tuple[type[BaseException], ...]:
    """Usage errors of typer's own click and, should a command raise one, of the click package."""
    try:
        import click
    except ImportError:  # pragma: no cover - click comes with prefect
        return (TyperException,)
    return (TyperException, click.ClickException)


def _usage_line(exc: BaseException) -> str:
    """A click usage error as one line naming the command and, through click's message, the argument."""
    ctx = getattr(exc, "ctx", None)
    where = f"{ctx.command_path}: " if ctx is not None else ""
    hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    return error_line("UsageError", f"{where}{message}{hint}")


def _no_args_help(exc: Any) -> int:  # a NoArgsIsHelpError (of typer's click or the click package: matched by name)
    """``snapcal`` or ``snapcal index`` alone: its help on stdout, and one error line (no command given)."""
    ctx = exc.ctx
    typer.echo(ctx.get_help())
    typer.secho(error_line("UsageError", f"{ctx.command_path} needs a command (listed above)"), err=True,
                fg=typer.colors.RED)
    return USAGE_EXIT


def _validation_line(exc: ValidationError) -> str:
    """A pydantic error of a command's parameters as one line naming the fields (the first three)."""
    problems = exc.errors()
    text = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in problems[:3])
    more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
    return error_line("ValidationError", f"{exc.title}: {text}{more}")


def _fail(line: str, code: int) -> int:
    typer.secho(line, err=True, fg=typer.colors.RED)
    return code


def _internal(exc: BaseException, debug: bool) -> int:
    """An unexpected error: its traceback only when debugging, then one line; exit 1."""
    if debug:
        traceback.print_exception(exc)
    hint = "" if debug else " (run again with --debug or SNAPCAL_DEBUG=1 for the traceback)"
    return _fail(error_line(f"internal error: {type(exc).__name__}", f"{exc}{hint}"), INTERNAL_EXIT)


def run(argv: list[str] | None = None) -> int:
    """Run ``snapcal ARGV`` (default: ``sys.argv[1:]``) and return its exit code; never raises."""
    argv = sys.argv[1:] if argv is None else list(argv)
    _DEBUG.clear()
    try:
        use_prefect_environment()  # before any command imports Prefect
        _register_all()
        code = app(args=argv, prog_name="snapcal", standalone_mode=False)  # a typer.Exit(n) comes back as n
    except SnapcalError as exc:
        return _fail(error_line(type(exc).__name__, exc), USAGE_EXIT)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return _fail(error_line("Aborted", "stopped at a prompt (end of input or Ctrl-C)"), INTERNAL_EXIT)
    except KeyboardInterrupt:
        return _fail(error_line("Interrupted", "stopped by Ctrl-C"), 130)
    except ValidationError as exc:
        return _fail(_validation_line(exc), USAGE_EXIT)
    except Exception as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            return _no_args_help(exc)
        if isinstance(exc, _usage_errors()):
            return _fail(_usage_line(exc), USAGE_EXIT)
        return _internal(exc, debug_requested(argv))
    return code if isinstance(code, int) else 0


def main() -> None:
    """Console entry point: :func:`run`, then exit with its code (no ``SystemExit`` on success)."""
    code = run()
    if code:
        sys.exit(code)
