"""The ``monday`` command: one Typer app, one module per command group.

Surfaces only parse input, call the core and render; :func:`main` turns every
:class:`~mondaytest.errors.MondayError` into its message and exit code (no traceback unless
``--debug``).
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Annotated, TextIO

import typer
from rich.markup import escape
from typer.exceptions import TyperException

from mondaytest import __version__
from mondaytest.cli import audit as audit_cli
from mondaytest.cli import eval as eval_cli
from mondaytest.cli import spec as spec_cli
from mondaytest.cli import state
from mondaytest.cli.release import release_app
from mondaytest.errors import MondayError

__all__ = ["app", "main"]

app = typer.Typer(
    name="monday",
    help="Monday: take an AI system from live to shipped.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(spec_cli.app, name="spec")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(eval_cli.app, name="eval")
app.add_typer(release_app, name="release")
spec_cli.register_top_level(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"monday {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks for every error.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Monday: take an AI system from live to shipped."""
    state.DEBUG = debug or os.environ.get("MONDAY_DEBUG") == "1"


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Print a warning as one ``warning:`` line, without the source line Python adds."""
    state.err_console().print(
        f"[yellow]warning:[/] {escape(str(message))}", highlight=False, soft_wrap=True
    )


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    try:
        result = app(args=argv, standalone_mode=False)
    except MondayError as exc:
        if state.DEBUG:
            raise
        # the message, hint and location carry user and core text (paths, ids, kinds): printed
        # literally, never read as Rich markup
        state.err_console().print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        state.err_console().print("aborted")
        return 3
    except TyperException as exc:  # usage errors: unknown option, bad argument, …
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            state.err_console().print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return 2
    except Exception as exc:
        if state.DEBUG:
            raise
        state.err_console().print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))} "
            "— rerun with --debug for the traceback and report it",
            highlight=False,
        )
        return 3
    # with standalone_mode=False, `typer.Exit(code)` comes back as the return value
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
