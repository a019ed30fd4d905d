"""When a write cannot finish: its cause in one line, and no partial file left to be mistaken for
a complete one.

A full disk, a read-only or vanished directory surface from Python as `OSError` and from
TensorFlow's writers (checkpoints, summaries, SavedModels) as an `OpError` whose message ends in
the system's reason; `write_error` turns either into a `KerasGanError` naming the path, what was
being written and why. `remove_partial_files` deletes what an interrupted write leaves behind:
checkpoint temporaries (`ckpt-N_temp/`, data without its index, the state file's temporary) and
the `.NAME.RANDOM.partial` temporaries of `keras_gan.atomic`.
"""
from __future__ import annotations

import contextlib
import errno
import glob
import os
import re
import shutil

from absl import logging

from keras_gan import atomic
from keras_gan.errors import KerasGanError

_REASONS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
            errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
            errno.EPERM: "permission denied", errno.ENOENT: "its directory no longer exists"}

# What each part of a run directory is, for the message.
_WHAT = (("checkpoints", "a checkpoint"), ("history.csv", "the history"),
         ("samples", "a sample grid"), ("grid_history.png", "the grid history"),
         ("tensorboard", "TensorBoard summaries"), ("generator", "the exported SavedModel"),
         ("loss_curves.png", "the loss curves"), ("eval_history", "the evaluation scores"),
         ("flags.cfg", "the run's flags"), ("flag_changes.cfg", "the run's flag changes"),
         ("d_accuracy.json", "D's accuracy"), (".lock", "the run directory's lock"))


def reason(error: BaseException) -> str | None:
    """Why a write failed, when the cause is the storage's (full, read-only, gone); else None."""
    if isinstance(error, OSError):
        return _REASONS.get(error.errno)
    if type(error).__module__.startswith("tensorflow"):
        text = str(error)
        for code, why in _REASONS.items():
            if os.strerror(code) in text:
                return why
    return None


def failed_path(error: BaseException) -> str:
    """The path a failed write names (TensorFlow's messages hold it before the `; reason`)."""
    if isinstance(error, OSError) and error.filename:
        return str(error.filename)
    match = re.search(r"(?:^|\s)(/[^;\s]+);", str(error))
    return match.group(1) if match else "?"


def target_of(path: str) -> str:
    """The file or directory a write was making, for a path inside its temporary."""
    parts = path.split(os.sep)
    for i, part in enumerate(parts):
        if atomic.is_partial(part):
            name = part[1:-len(atomic.PARTIAL)].removesuffix(".old")
            return os.sep.join(parts[:i] + [name.rsplit(".", 1)[0]])
        if re.fullmatch(r"ckpt-\d+_temp", part):
            return os.sep.join(parts[:i] + [part[:-len("_temp")]])
    return path


def what_is(path: str, run_dir: str) -> str:
    """What `path` inside `run_dir` holds, in words."""
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(run_dir))
    first = relative.split(os.sep)[0].lstrip(".")
    for prefix, words in _WHAT:
        if first.startswith(prefix.lstrip(".")):
            return words
    return "a file"


def write_error(error: BaseException, root: str, checkpoints: str, what: str | None = None,
                path: str | None = None) -> KerasGanError | None:
    """The one-line error for a write under `root` (a run directory, or a checkpoint directory)
    that the storage stopped, after removing the partial files under `root`; None when `error`
    has another cause. `path` defaults to the one the error names, `what` to what that path is in
    a run directory; the message says which checkpoint in `checkpoints` a rerun resumes from."""
    why = reason(error)
    path = path or target_of(failed_path(error))
    outside = path != "?" and os.path.relpath(os.path.abspath(path), os.path.abspath(root)
                                              ).startswith("..")
    if why is None or outside:  # not a write of this run (e.g. a data file read)
        return None
    if not os.path.isdir(root):
        why, cleaned = f"{root} no longer exists", "nothing was written elsewhere"
    else:
        left = [p for p in remove_partial_files(root, report=False) if os.path.lexists(p)]
        cleaned = (f"{len(left)} partial files could not be removed yet (the next run removes "
                   f"them)" if left else "its partial files were removed")
    from keras_gan import run_directory

    candidates = run_directory.checkpoint_candidates(checkpoints)
    resume = (f"a rerun resumes from {os.path.basename(candidates[0])}" if candidates
              else "a rerun starts over (no checkpoint was complete)")
    return KerasGanError(f"could not write {what or what_is(path, root)} ({path}): {why}; "
                         f"{cleaned}; once that is fixed, {resume}")


def remove_partial_checkpoints(directory: str) -> list[str]:
    """Deletes what an interrupted `CheckpointManager.save` leaves in `directory`; their paths."""
    return _remove(_partial_checkpoints(directory))


def remove_partial_files(root: str, report: bool = True) -> list[str]:
    """Deletes every partial file of an interrupted write under `root`; their paths. `report`:
    log them (not when the caller's error says so)."""
    partial = []
    for directory, directories, files in os.walk(root):
        partial += _partial_checkpoints(directory)
        partial += [os.path.join(directory, name) for name in directories + files
                    if atomic.is_partial(name)]
        directories[:] = [name for name in directories
                          if not atomic.is_partial(name) and not name.endswith("_temp")]
    return _remove(sorted(set(partial)), report)


def _partial_checkpoints(directory: str) -> list[str]:
    indexed = {path[:-len(".index")] for path in glob.glob(os.path.join(directory, "ckpt-*.index"))}
    return (glob.glob(os.path.join(directory, "ckpt-*_temp"))
            + [path for path in glob.glob(os.path.join(directory, "ckpt-*.data-*"))
               if path.split(".data-")[0] not in indexed]
            + glob.glob(os.path.join(directory, "checkpoint.tmp*")))


def _remove(paths: list[str], report: bool = True) -> list[str]:
    for path in paths:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):  # e.g. a read-only file system: the next run
                os.remove(path)
    if paths and report:
        logging.warning("removed the partial files of an interrupted write: %s", ", ".join(paths))
    return paths
