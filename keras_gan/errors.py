"""The one error type users see, and the CLI wrapper that turns it into one line and exit 2."""
from __future__ import annotations

import functools
import sys
from typing import Callable


class KerasGanError(Exception):
    """A problem the user can fix (a flag, a file, an environment variable).

    The message names what is wrong and what was expected; the CLIs print it as one line.
    """


def parse_flags_or_exit(argv: list[str]) -> list[str]:
    """An absl `flags_parser`: a bad flag, flagfile or config key is one line and status 2
    (absl's own parser prints usage hints and exits 1)."""
    from absl import flags

    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        sys.exit(2)


def exit_on_user_error(main: Callable[[list[str]], None]) -> Callable[[list[str]], None]:
    """Wraps an absl `main` so a KerasGanError becomes `error: ...` on stderr and status 2."""

    @functools.wraps(main)
    def wrapped(argv: list[str]) -> None:
        try:
            main(argv)
        except KerasGanError as error:
            print(f"error: {error}", file=sys.stderr, flush=True)
            sys.exit(2)

    return wrapped
