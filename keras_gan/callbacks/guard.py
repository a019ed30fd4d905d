"""`RunDirectoryGuard`: a run whose directory vanishes or turns read-only stops at once."""
from __future__ import annotations

import os

from keras_gan.callbacks.step import StepCallback
from keras_gan.errors import KerasGanError


class RunDirectoryGuard(StepCallback):
    """Checks after every step, before the other callbacks write (it goes first), that
    `run_dir` still exists and is writable, and stops training with one error when it is not.
    Without it a run whose directory was deleted would append its history to an unlinked file
    and recreate the directory piecemeal at its next sample grid or checkpoint."""

    def __init__(self, run_dir: str, flag: str = "run_dir"):
        super().__init__()
        self.run_dir, self.flag = run_dir, flag

    def check(self) -> None:
        where = f"{self.flag}={self.run_dir}"
        if not os.path.isdir(self.run_dir):
            raise KerasGanError(f"{where} no longer exists (deleted or unmounted) after step "
                                f"{self.step}; training stopped and wrote nothing elsewhere")
        if not os.access(self.run_dir, os.W_OK | os.X_OK):
            read_only = os.statvfs(self.run_dir).f_flag & os.ST_RDONLY
            why = "its file system became read-only" if read_only else "it is no longer writable"
            raise KerasGanError(f"{where}: {why} after step {self.step}; training stopped, its "
                                f"files are as they were; once it is writable, a rerun resumes "
                                f"from its newest checkpoint")

    def on_step_end(self, step, logs):
        self.check()

    def on_train_end(self, logs=None):
        self.check()
