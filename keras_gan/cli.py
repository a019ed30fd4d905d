"""How every keras_gan program starts: a quiet console, flagfiles and plugins, then absl's
`app.run` with one-line flag errors.

TensorFlow's C++ side prints start-up lines (twice: two shared libraries load), an error-level
"failed call to cuInit" on every machine without a GPU, and grappler's "remapper failed" when a
refined generator's gradient graph offers a fusion it then declines: noise to a user, all before
any Python logging setting can act, all in absl's C++ format before its logging is initialised
(`I0000 00:00:...`). Programs filter these lines at the file-descriptor level unless the user
set TF_CPP_MIN_LOG_LEVEL, who then sees everything TensorFlow prints at that level. TensorFlow's
Python side logs every checkpoint shard and signature rename at INFO; those records are off.
Our progress lines and warnings (absl's Python format, with a real date) pass unchanged.
"""
from __future__ import annotations

import atexit
import logging
import os
import re
import sys
import threading
from typing import Callable

# A line of TensorFlow's C++ logging (absl's format with the zero date of logging that was never
# initialised), and the notice absl prints before the first of them.
_CPP_LINE = re.compile(rb"^[IWEF]0000 00:00:")
_CPP_NOTICES = (rb"All log messages before absl::InitializeLog",
                rb"To enable the following instructions")  # a start-up record's second line


# What starts a line of its own: a Python log record (absl's format with a real date), a
# traceback, one of our error lines, a Python warning.
_NEW_RECORD = re.compile(rb"^([IWEF]\d{4} \d\d:\d\d:\d\d|Traceback|error: |\S*Warning: )")


class _ConsoleFilter:
    """Whether to print each line: anything but TensorFlow's C++ log records, including the
    further lines of a multi-line record (a gRPC error's details) up to the next line that
    starts a record of its own."""

    def __init__(self):
        self.in_record = False

    def __call__(self, line: bytes) -> bool:
        if _CPP_LINE.match(line) or any(notice in line for notice in _CPP_NOTICES):
            self.in_record = True
        elif not self.in_record or _NEW_RECORD.match(line):
            self.in_record = False
        return not self.in_record


def _not_library_info(record: logging.LogRecord) -> bool:
    """False for TensorFlow's and Keras's own INFO records (checkpoint shards, renames)."""
    library = any(f"{os.sep}{name}{os.sep}" in record.pathname for name in ("tensorflow", "keras"))
    return record.levelno >= logging.WARNING or not library


def quiet_console() -> None:
    """Routes file descriptor 2 through `_ConsoleFilter` for the rest of the process, unless the
    user set TF_CPP_MIN_LOG_LEVEL (then TensorFlow's own level applies, nothing is filtered)."""
    if getattr(quiet_console, "installed", False):
        return
    quiet_console.installed = True
    # Filters, not levels: TensorFlow sets its logger's level when imported, and parts of it log
    # through absl's logger, which our progress lines use too.
    for name in ("tensorflow", "absl"):
        logging.getLogger(name).addFilter(_not_library_info)
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL"):
        return
    original = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump():
        keep = _ConsoleFilter()
        with os.fdopen(read_end, "rb", buffering=0) as source:
            for line in iter(source.readline, b""):
                if keep(line):
                    os.write(original, line)

    thread = threading.Thread(target=pump, name="console-filter", daemon=True)
    thread.start()

    def restore():
        sys.stderr.flush()
        os.dup2(original, 2)  # closes the pipe's only writer: the pump drains it and stops
        thread.join(timeout=5)

    atexit.register(restore)


def _flagfile_lines(path: str) -> list[str]:
    """The flags a flagfile holds, one per line; `#` and `//` start comment lines."""
    with open(path) as stream:
        lines = [line.strip() for line in stream]
    return [line for line in lines if line and not line.startswith(("#", "//"))]


def expand_flagfiles(args: list[str], including: str | None = None,
                     stack: tuple = ()) -> list[str]:
    """`args` with every `--flagfile=PATH` replaced by the flags it holds, recursively.

    A flagfile named inside another is found relative to the including file, so configs that
    include each other work from any working directory; a path relative to the working
    directory (how included files were once named) is still accepted when that finds nothing.
    """
    from keras_gan.errors import KerasGanError

    expanded = []
    for arg in args:
        if not arg.startswith("--flagfile="):
            expanded.append(arg)
            continue
        path = os.path.expanduser(arg.split("=", 1)[1])
        candidates = [path] if os.path.isabs(path) or including is None else [
            os.path.join(os.path.dirname(including), path), path]
        found = next((c for c in candidates if os.path.isfile(c)), None)
        where = f" (named in {including})" if including else ""
        if found is None:
            raise KerasGanError(f"--flagfile={path}: no such file{where}")
        found = os.path.abspath(found)
        if found in stack:
            raise KerasGanError(f"--flagfile={path}: includes itself{where}")
        expanded += expand_flagfiles(_flagfile_lines(found), found, stack + (found,))
    return expanded


def import_plugins(args: list[str]) -> None:
    """Imports the modules of the last `--plugins=a,b` in `args` (from the working directory
    too), so that what they register is known before any flag is checked."""
    import importlib

    from keras_gan.errors import KerasGanError

    values = [arg.split("=", 1)[1] for arg in args if arg.startswith("--plugins=")]
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    for module in filter(None, (values[-1].split(",") if values else [])):
        try:
            importlib.import_module(module.strip())
        except ImportError as error:
            raise KerasGanError(f"--plugins={values[-1]}: cannot import {module} ({error})"
                                ) from None


# (title, [flag names]) in the order --help shows them; a program's flag module sets them.
HELP_SECTIONS: list = []
HELP_ARGUMENTS = ("--help", "-h", "-?", "--helpshort")


def grouped_help(main_module) -> str:
    """--help: the program's docstring, then its flags section by section (HELP_SECTIONS), its
    own flags last."""
    import textwrap

    from absl import flags

    values = flags.FLAGS
    listed = {name for _, names in HELP_SECTIONS for name in names}
    own = [f.name for f in values.get_key_flags_for_module(main_module)
           if f.name not in listed and f.name in values]
    lines = [(main_module.__doc__ or "").strip(), ""]
    for title, names in [*HELP_SECTIONS, ("This program", own)]:
        if not names:
            continue
        lines.append(f"{title}:")
        for name in names:
            flag = values[name]
            lines += textwrap.wrap(f"--{name}: {flag.help}", 100, initial_indent="  ",
                                   subsequent_indent="    ")
            lines.append(f"    (default: {flag.default_as_str or 'none'})")
        lines.append("")
    return "\n".join(lines)


def run(main: Callable[[list], None]) -> None:
    """`app.run(main)` with a quiet console, flagfiles expanded relative to themselves,
    `--plugins` imported first, and one-line errors (status 2)."""
    from absl import app

    from keras_gan.errors import KerasGanError, parse_flags_or_exit

    quiet_console()
    if HELP_SECTIONS and any(arg in HELP_ARGUMENTS for arg in sys.argv[1:]):
        print(grouped_help(sys.modules["__main__"]))
        sys.exit(0)
    try:
        argv = [sys.argv[0], *expand_flagfiles(sys.argv[1:])]
        import_plugins(argv[1:])
    except KerasGanError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        sys.exit(2)
    app.run(main, argv=argv, flags_parser=parse_flags_or_exit)
