"""Writes that are never seen half-done: write beside the target, then rename over it.

Temporary files and directories are created private (mkstemp, mkdtemp) and named
`.NAME.RANDOM.partial`, so what a killed process leaves behind is recognisable
(`is_partial`); before the rename they get the modes any program would create them with under
the user's umask.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import Iterator

from keras_gan import faults

PARTIAL = ".partial"


def is_partial(name: str) -> bool:
    """Whether `name` (a base name) is a temporary of an unfinished atomic write."""
    return name.startswith(".") and name.endswith(PARTIAL)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes(path: str, data: bytes) -> None:
    """Atomically replaces `path` with `data`."""
    with _temporary_name(path) as temporary:
        with open(temporary, "wb") as stream:
            stream.write(data[:len(data) // 2])
            stream.flush()
            faults.point("half", path)
            stream.write(data[len(data) // 2:])
            stream.flush()
            os.fsync(stream.fileno())
        faults.point("written", path)


def write_text(path: str, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def directory(path: str) -> Iterator[str]:
    """Yields a temporary directory that replaces `path` (a directory) when the block succeeds."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    temporary = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", suffix=PARTIAL, dir=parent)
    try:
        yield temporary
        os.chmod(temporary, 0o777 & ~_umask())  # what is inside was created under the umask
        faults.point("written", path)
        if os.path.isdir(path):
            old = temporary[:-len(PARTIAL)] + ".old" + PARTIAL
            os.rename(path, old)
            faults.point("swapping", path)
            os.rename(temporary, path)
            shutil.rmtree(old)
        else:
            os.rename(temporary, path)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


@contextlib.contextmanager
def _temporary_name(path: str) -> Iterator[str]:
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=PARTIAL,
                                             dir=parent)
    os.close(descriptor)
    try:
        yield temporary
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
