"""The one error type users see, and the CLI wrapper that turns it into one line and exit 2."""
from __future__ import annotations

import functools
import re
import sys
from typing import Callable, Mapping


class KerasGanError(ValueError):
    """A problem the user can fix (an argument, a file, an environment variable).

    The message names what is wrong and what was expected, a parameter as `name=value`; the
    CLIs print it as one line with the flag that sets the parameter (`--name=value`).
    """


# Library parameters whose flag has another name.
FLAG_NAMES = {"global_batch_size": "batch_size", "steps_per_execution": "steps_per_call"}


def as_flags(message: str, flag_names: Mapping[str, str], defined) -> str:
    """`message` with every `parameter=` that a flag sets written as that `--flag=`."""

    def flag(match):
        parameter = match.group(1)
        name = flag_names.get(parameter, parameter)
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


def exit_on_user_error(main: Callable[[list[str]], None]) -> Callable[[list[str]], None]:
    """Wraps an absl `main` so a KerasGanError becomes `error: ...` on stderr and status 2, its
    parameters named by their flags."""

    @functools.wraps(main)
    def wrapped(argv: list[str]) -> None:
        from absl import flags

        try:
            main(argv)
        except KerasGanError as error:
            message = as_flags(str(error), FLAG_NAMES, flags.FLAGS)
            print(f"error: {message}", file=sys.stderr, flush=True)
            sys.exit(2)

    return wrapped
