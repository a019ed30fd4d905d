"""The one error type users see, and the CLI wrapper that turns it into one line and exit 2."""
from __future__ import annotations

import functools
import re
import sys
from typing import Callable


class KerasGanError(ValueError):
    """A problem the user can fix (an argument, a file, an environment variable).

    The message names what is wrong and what was expected, a parameter as `name=value`; the
    CLIs print it as one line with the flag that sets the parameter (`--name=value`).
    """


def check_positive(**values) -> None:
    """Each of `values` (name=value) a positive integer (not a bool): the one rule every layer
    (the programs' flags, `compile`'s options, `fit`'s arguments) checks counts with."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise KerasGanError(f"{name}={value}: expected a positive integer")


def as_flags(message: str, defined) -> str:
    """`message` with every `parameter=` that a flag of the same name sets written as
    `--parameter=` (the library's parameters and the programs' flags share their names)."""

    def flag(match):
        name = match.group(1)
        return f"--{name}=" if name in defined else match.group(0)

    return re.sub(r"(?<![\w\-.])([a-z][a-z0-9_]*)=", flag, message)


def parse_flags_or_exit(argv: list[str]) -> list[str]:
    """An absl `flags_parser`: a bad flag, flagfile or config key is one line and status 2
    (absl's own parser prints usage hints and exits 1)."""
    from absl import flags

    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        sys.exit(2)


def exit_on_user_error(main: Callable[[list[str]], int | None]
                       ) -> Callable[[list[str]], int | None]:
    """Wraps an absl `main` so a KerasGanError becomes `error: ...` on stderr and status 2, its
    parameters named by their flags; `main`'s own exit status passes through."""

    @functools.wraps(main)
    def wrapped(argv: list[str]) -> int | None:
        from absl import flags

        try:
            return main(argv)
        except KerasGanError as error:
            message = as_flags(str(error), flags.FLAGS)
            print(f"error: {message}", file=sys.stderr, flush=True)
            sys.exit(2)

    return wrapped
