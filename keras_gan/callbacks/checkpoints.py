"""The run directory's checkpoints: everything training needs, every N steps."""
from __future__ import annotations

import errno
import os

import tensorflow as tf

from keras_gan.callbacks.step import StepCallback
from keras_gan.errors import KerasGanError


class RunCheckpoint(StepCallback):
    """Checkpoints everything training needs (`keras_gan.run_checkpoint`: G, D, G's weight average,
    both optimisers, the step, loss scales) to `directory` every `every_n_steps` steps and at the
    end, keeping the newest `keep`, with `tf.train.CheckpointManager`.

    At the start of `fit` (before other callbacks look at the step) the newest checkpoint that
    restores is loaded: an unreadable one is reported and skipped for an older one, and left on
    disk. So rerunning the same script continues at the step it stopped at, with the same noise
    and batches as an uninterrupted run. Keras's `BackupAndRestore` also works with a GAN (its
    weights file holds the same state); this one keeps several checkpoints, survives a corrupt
    newest one and writes the run directory's format.

    A checkpoint is complete or absent: what an interrupted save left (a killed process, a full
    disk) is removed before restoring, and a save the storage stops (full, read-only, the
    directory gone: it is never recreated) removes its partial files and raises one
    `KerasGanError` naming the checkpoint a rerun resumes from.
    """

    restores_state = True

    def __init__(self, directory: str, every_n_steps: int = 1000, keep: int = 3,
                 flag: str | None = None):
        super().__init__()
        self.flag = flag or f"directory={directory}"  # how errors name the directory
        if every_n_steps < 1 or keep < 1:
            raise KerasGanError(f"every_n_steps={every_n_steps}, keep={keep}: expected positive "
                                f"integers")
        self.directory, self.every_n_steps, self.keep = directory, every_n_steps, keep
        self.boundary = every_n_steps
        self.manager = None
        self.restored = None
        self._saved_step = None

    def restore(self, gan, at_most: int | None = None) -> str | None:
        """Loads the newest usable checkpoint (of step `at_most` or earlier) into `gan` (once);
        its path, or None."""
        if self.manager is None:
            from keras_gan import run_checkpoint, run_directory, storage

            checkpoint = run_checkpoint.training_checkpoint(gan)
            storage.remove_partial_checkpoints(self.directory)
            self.restored = run_directory.restore_newest(
                self.directory, lambda path: run_checkpoint.restore(gan, checkpoint, path),
                flag=self.flag, at_most=at_most)
            self.manager = tf.train.CheckpointManager(checkpoint, self.directory,
                                                      max_to_keep=self.keep)
        return self.restored

    def on_train_begin(self, logs=None):
        self.restore(self.model)
        os.makedirs(self.directory, exist_ok=True)  # from here on, its absence is an error
        super().on_train_begin(logs)

    def on_step_end(self, step, logs):
        if step % self.every_n_steps == 0:
            self.save()

    def save(self) -> None:
        if self.step is None or self._saved_step == self.step:
            return
        from keras_gan import storage

        what = f"the checkpoint of step {self.step}"
        try:
            if not os.path.isdir(self.directory):  # TensorFlow would silently recreate it
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), self.directory)
            self.manager.save(checkpoint_number=self.step)
        except Exception as error:  # noqa: BLE001  (re-raised unless the storage stopped it)
            problem = storage.write_error(error, self.directory, self.directory, what,
                                          os.path.join(self.directory, f"ckpt-{self.step}"))
            if problem is None:
                raise
            raise problem from None
        self._saved_step = self.step

    def on_train_end(self, logs=None):
        self.save()
