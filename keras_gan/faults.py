"""Fault injection, for the tests that show every write survives a kill or a full disk.

`KERAS_GAN_FAULT=kill@POINT` makes the process SIGKILL itself when it reaches POINT (nothing
after it runs: no `finally`, no flush), `KERAS_GAN_FAULT=full@POINT` raises the error a full disk
raises there. Points are `PHASE:NAME`, NAME a file's or directory's base name: `half:flags.cfg`
(half of a file's bytes written to its temporary), `written:flags.cfg` (all written, not yet
renamed over the target), `swapping:generator` (a directory's old version moved aside, the new
not yet in its place). Unset, a point costs one dictionary lookup.
"""
from __future__ import annotations

import errno
import os
import signal

VARIABLE = "KERAS_GAN_FAULT"


def point(phase: str, path: str) -> None:
    """Where a write can be interrupted; acts only when `KERAS_GAN_FAULT` names this point."""
    fault = os.environ.get(VARIABLE)
    if not fault:
        return
    action, _, where = fault.partition("@")
    if where != f"{phase}:{os.path.basename(os.path.normpath(path))}":
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "full":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
