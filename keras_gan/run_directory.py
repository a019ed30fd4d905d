"""A run directory nobody can corrupt: one writer, the flags that define the run, and resume
that never destroys a checkpoint.

- `lock`: one process writes a run directory; a second fails at once naming the holder. The lock
  file holds the holder's pid and host, so a lock left by a crash on this host is recognised.
- `record_flags` / `check_resumable_flags`: `flags.cfg` holds the program's flags that differ from
  their defaults (a flagfile that reproduces the run); a resume may change only flags that do not
  change what is trained, and such changes are appended to `flag_changes.cfg`, never rewritten.
- `restore_newest`: resumes from the newest checkpoint that restores, falling back past an
  unreadable state file or corrupt newest checkpoint, and stops without touching a file when none
  restores.
"""
from __future__ import annotations

import contextlib
import datetime
import glob
import json
import os
import re
import socket
import sys
from typing import Callable, Dict, Iterator, Sequence

from absl import logging

from keras_gan import atomic
from keras_gan.errors import KerasGanError

LOCK_NAME = ".lock"
FLAGS_NAME = "flags.cfg"
CHANGES_NAME = "flag_changes.cfg"


def check_writable(path: str, flag: str = "--run_dir") -> None:
    """Fails with one line when `path` cannot be a run directory; creates nothing."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise KerasGanError(f"{flag}={path}: exists and is not a directory")
    parent = os.path.abspath(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise KerasGanError(f"{flag}={path}: cannot be created ({parent} is not a directory)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise KerasGanError(f"{flag}={path}: cannot be created or written ({parent} is not "
                            f"writable)")


def create(path: str, flag: str = "--run_dir") -> None:
    check_writable(path, flag)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise KerasGanError(f"{flag}={path}: cannot be created ({error.strerror})") from None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def lock(path: str, flag: str = "--run_dir") -> Iterator[None]:
    """Holds `path`/.lock while the block runs; released on any exit of the block."""
    lock_path = os.path.join(path, LOCK_NAME)
    holder = {"pid": os.getpid(), "host": socket.gethostname(),
              "since": datetime.datetime.now().isoformat(timespec="seconds")}
    for _ in range(2):
        try:
            descriptor = os.open(lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            _remove_if_stale(lock_path, flag, path)
            continue
        try:
            with os.fdopen(descriptor, "w") as stream:
                json.dump(holder, stream)
        except OSError:  # e.g. a full disk: an empty lock would block the rerun
            with contextlib.suppress(OSError):
                os.remove(lock_path)
            raise
        break
    else:
        raise KerasGanError(f"{flag}={path}: could not take its lock {lock_path}")
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            with open(lock_path) as stream:
                mine = json.load(stream).get("pid") == holder["pid"]
            if mine:
                os.remove(lock_path)


def _remove_if_stale(lock_path: str, flag: str, path: str) -> None:
    try:
        with open(lock_path) as stream:
            holder = json.load(stream)
        pid, host = int(holder["pid"]), str(holder["host"])
    except (OSError, ValueError, KeyError, TypeError):
        holder, pid, host = {}, None, None
    if pid is not None and host == socket.gethostname() and not _pid_alive(pid):
        logging.warning("%s: removing the lock of process %d, which no longer runs", path, pid)
        with contextlib.suppress(FileNotFoundError):
            os.remove(lock_path)
        return
    who = (f"process {pid} on {host} since {holder.get('since', '?')}" if pid is not None
           else "an unreadable lock file")
    raise KerasGanError(f"{flag}={path} is in use by {who}; wait for it to finish, or delete "
                        f"{lock_path} if that process is gone")


# ----- flags -------------------------------------------------------------------------------------

def program_flags(flag_values, modules: Sequence[str] = ("experiments.", "keras_gan")) -> Dict:
    """This program's own flags (not absl's or TensorFlow's), by name. absl files the flags of
    the module run with `python -m` under its path, sys.argv[0] (e.g. `--mixture`)."""
    main = ("__main__", sys.argv[0])
    return {flag.name: flag for module, module_flags in flag_values.flags_by_module_dict().items()
            if module.startswith(tuple(modules)) or module in main
            for flag in module_flags}


def non_default_flags(flag_values) -> Dict[str, str]:
    """`--name=value` lines of this program's flags that differ from their defaults."""
    return {name: flag.serialize() for name, flag in sorted(program_flags(flag_values).items())
            if flag.value != flag.default}


def read_flagfile(path: str) -> Dict[str, str]:
    """name -> `--name=value` line of a flagfile written by `record_flags` (or an older run's
    full dump); comments and blank lines are skipped."""
    recorded = {}
    with open(path) as stream:
        for line in stream:
            match = re.match(r"--(?:no)?([A-Za-z0-9_]+)(=.*)?$", line.strip())
            if match:
                recorded[match.group(1)] = line.strip()
    return recorded


def check_resumable_flags(run_dir: str, flag_values, changeable: Sequence[str],
                          flag: str = "--run_dir") -> list[str]:
    """Fails with one line naming every flag that would change what a resumed run trains;
    returns the changeable flags that differ, as flagfile lines for `record_flag_changes`."""
    path = os.path.join(run_dir, FLAGS_NAME)
    if not os.path.exists(path):
        return []
    recorded = read_flagfile(path)
    current = program_flags(flag_values)
    differing = []
    for name, flag_ in sorted(current.items()):
        now, was = flag_.serialize(), recorded.get(name)
        # A flag absent from flags.cfg was at its default (older runs recorded every flag).
        changed = now != was if was is not None else flag_.value != flag_.default
        if changed and name != "flagfile":
            differing.append((name, was, now))
    fixed = [(n, was, now) for n, was, now in differing if n not in changeable]
    if fixed:
        listing = "; ".join(f"{now or '--' + n + ' unset'} (run has {was or 'the default'})"
                            for n, was, now in fixed)
        raise KerasGanError(f"{flag}={run_dir} was trained with other flags that change the "
                            f"model, data, objective or schedule: {listing}; use a new {flag}")
    return [now or f"# --{n} back to its default" for n, _, now in differing]


def record_flag_changes(run_dir: str, changes: Sequence[str], step: int) -> None:
    """Appends a resume's changed flags to `flag_changes.cfg`; `flags.cfg` stays as started."""
    if not changes:
        return
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    with open(os.path.join(run_dir, CHANGES_NAME), "a") as stream:
        stream.write(f"# resumed at step {step} on {stamp} with\n" + "\n".join(changes) + "\n")
    logging.info("resuming with changed flags (recorded in %s): %s", CHANGES_NAME,
                 " ".join(changes))


def record_flags(run_dir: str, flag_values) -> None:
    """Writes `flags.cfg` for a run that starts; a resumed run keeps the one it started with."""
    path = os.path.join(run_dir, FLAGS_NAME)
    if not os.path.exists(path):
        atomic.write_text(path, "\n".join(non_default_flags(flag_values).values()) + "\n")


# ----- checkpoints -------------------------------------------------------------------------------

def checkpoint_candidates(directory: str) -> list[str]:
    """Checkpoint prefixes in `directory`, newest first, from the files themselves (not only the
    state file, which may be unreadable)."""
    prefixes = [index[:-len(".index")]
                for index in glob.glob(os.path.join(directory, "ckpt-*.index"))]
    found = {checkpoint_step(p): p for p in prefixes if _CHECKPOINT_PREFIX.search(p)}
    return [found[n] for n in sorted(found, reverse=True)]


_CHECKPOINT_PREFIX = re.compile(r"ckpt-(\d+)$")


def checkpoint_step(prefix: str) -> int:
    """The step a checkpoint prefix (`.../ckpt-N`) was saved at."""
    return int(_CHECKPOINT_PREFIX.search(prefix).group(1))


def restore_newest(directory: str, restore: Callable[[str], None], flag: str = "--run_dir",
                   at_most: int | None = None) -> str | None:
    """Restores the newest checkpoint that `restore` accepts (of step `at_most` or earlier, when
    given); returns its prefix, or None when the directory holds none. Unreadable ones are
    reported in one line each and left on disk."""
    candidates = [prefix for prefix in checkpoint_candidates(directory)
                  if at_most is None or checkpoint_step(prefix) <= at_most]
    problems = []
    for prefix in candidates:
        try:
            restore(prefix)
        except Exception as error:  # noqa: BLE001  (any failure means: try an older one)
            text = str(error).strip()
            reason = text.splitlines()[0] if text else type(error).__name__
            problems.append(f"{os.path.basename(prefix)}: {reason[:160]}")
            logging.warning("checkpoint %s does not restore (%s); trying an older one", prefix,
                            reason[:160])
            continue
        if problems:
            logging.warning("resumed from %s, the newest checkpoint that restores", prefix)
        return prefix
    if candidates:
        raise KerasGanError(f"{flag}: none of the {len(candidates)} checkpoints in {directory} "
                            f"restores ({'; '.join(problems)}); every file was left as it was")
    return None
