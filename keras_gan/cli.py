"""How every keras_gan program starts: a quiet console, flagfiles and plugins, then absl's
`app.run` with one-line flag errors.

TensorFlow prints its start-up lines from two shared libraries (so twice), and an error-level
"failed call to cuInit" on every machine without a GPU, before any Python logging setting can
act. Its Python side logs every checkpoint shard and signature rename at INFO. Programs filter
these at the file-descriptor level: each start-up line once, no cuInit line where no NVIDIA
device exists, TensorFlow's Python INFO lines off. Everything else, our progress lines and
warnings included, passes unchanged.
"""
from __future__ import annotations

import atexit
import glob
import logging
import os
import re
import sys
import threading
from typing import Callable

_PREFIX = re.compile(rb"^[IWEF]\d{4} [\d:.]+\s+\d+ ")
_ONCE = (rb"All log messages before absl::InitializeLog", rb"cudart_stub.cc",
         rb"cpu_feature_guard.cc", rb"To enable the following instructions",
         rb"oneDNN custom operations are on")
_NO_GPU_NOISE = (rb"failed call to cuInit",)


def _filter_line(line: bytes, seen: set, has_gpu: bool) -> bool:
    """Whether to print `line`; remembers start-up lines in `seen`."""
    if not has_gpu and any(pattern in line for pattern in _NO_GPU_NOISE):
        return False
    if any(pattern in line for pattern in _ONCE):
        key = _PREFIX.sub(b"", line)
        if key in seen:
            return False
        seen.add(key)
    return True


def _not_library_info(record: logging.LogRecord) -> bool:
    """False for TensorFlow's and Keras's own INFO records (checkpoint shards, renames)."""
    library = any(f"{os.sep}{name}{os.sep}" in record.pathname for name in ("tensorflow", "keras"))
    return record.levelno >= logging.WARNING or not library


def quiet_console() -> None:
    """Routes file descriptor 2 through `_filter_line` for the rest of the process."""
    if getattr(quiet_console, "installed", False):
        return
    quiet_console.installed = True
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    # Filters, not levels: TensorFlow sets its logger's level when imported, and parts of it log
    # through absl's logger, which our progress lines use too.
    for name in ("tensorflow", "absl"):
        logging.getLogger(name).addFilter(_not_library_info)
    has_gpu = bool(glob.glob("/dev/nvidia[0-9]*")) or sys.platform != "linux"
    original = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump():
        seen = set()
        with os.fdopen(read_end, "rb", buffering=0) as source:
            for line in iter(source.readline, b""):
                if _filter_line(line, seen, has_gpu):
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
