"""How both commands (`umlharness` and `sim`) run: one line per error, fixed exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import click

from .errors import HarnessError

#: A failure the user can act on (bad input, a guest that failed, a build that failed).
ERROR_EXIT = 2
#: Ctrl-C, or an aborted prompt.
INTERRUPTED_EXIT = 130


def run_cli(
    command: click.Command,
    prog: str,
    argv: Sequence[str] | None = None,
    details: Callable[[HarnessError], str] | None = None,
) -> None:
    """Run a click command; a HarnessError becomes `PROG: error: ...` on one line
    (then the message's further lines and `details(error)`, such as a console
    tail, if any) and exit status 2."""
    try:
        command.main(
            args=list(argv) if argv is not None else None, prog_name=prog, standalone_mode=False
        )
    except click.exceptions.Abort:
        click.echo(f"{prog}: aborted", err=True)
        sys.exit(INTERRUPTED_EXIT)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except HarnessError as error:
        # The first line says what failed; lines after it (a compiler's
        # diagnostics with the source line they quote) are kept as they are.
        first, _, rest = str(error).partition("\n")
        click.echo(f"{prog}: error: {first}", err=True)
        if rest:
            click.echo(rest, err=True)
        extra = details(error) if details else ""
        if extra:
            click.echo(extra, err=True)
        sys.exit(ERROR_EXIT)
    except KeyboardInterrupt:
        click.echo(f"{prog}: interrupted", err=True)
        sys.exit(INTERRUPTED_EXIT)
