"""`StepCallback`: a Keras callback that knows the global training step, and what `GAN.fit`
reads of a callback: the steps a fused call must stop at, and whether it restores state."""
from __future__ import annotations

import keras


class StepCallback(keras.callbacks.Callback):
    """A callback that counts global training steps, resumed runs included: `fit` calls
    `on_train_batch_end(batch)` with the batch's index within its epoch, as Keras does, and every
    epoch has `params["steps"]` steps, so step = epoch * steps + batch + 1. Subclasses act in
    `on_step_end(step, logs)` and call `super()` where they override `on_train_begin` or
    `on_epoch_begin`.

    `step` is the steps completed: at `on_train_begin` the GAN's own counter (after any callback
    that restores it), None for a fresh run, which has nothing to show before its first step; a
    run resumed at its last step trains nothing but is still drawn and scored at the end.
    Without `params` (a callback driven by hand) every `on_train_batch_end` is one step more.

    What `GAN.fit` reads of a callback, its two class attributes:
    - `boundary`: a fused call of several steps never crosses a multiple of it (0: none), so
      the callback sees the models exactly at its steps (set it to the N of "every N steps");
    - `restores_state`: its `on_train_begin` may restore the model (a checkpoint), so it
      begins before the other callbacks, which then see the restored step; on every other hook
      it comes after them, so a checkpoint of step N follows N's other outputs."""

    step = None
    boundary = 0
    restores_state = False
    _epoch = 0

    def on_train_begin(self, logs=None):
        counter = getattr(self.model, "step", None)
        self.step = (int(counter.numpy()) if counter is not None else 0) or None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        steps = (self.params or {}).get("steps")
        self.step = self._epoch * steps + batch + 1 if steps else (self.step or 0) + 1
        self.on_step_end(self.step, logs or {})

    def on_step_end(self, step: int, logs: dict) -> None:
        pass


def restores_state(callback) -> bool:
    """Whether `callback` restores the model at `on_train_begin`: a `StepCallback` that says so,
    or Keras's `BackupAndRestore`."""
    return (isinstance(callback, keras.callbacks.BackupAndRestore)
            or (isinstance(callback, StepCallback) and callback.restores_state))


def step_boundary(callback) -> int:
    """The step multiples a fused call must not cross for `callback` to see the models exactly
    at its steps: a `StepCallback`'s `boundary`, or Keras's integer `save_freq` (0: none)."""
    every = callback.boundary if isinstance(callback, StepCallback) else 0
    if not every and isinstance(getattr(callback, "save_freq", None), int):
        every = callback.save_freq  # ModelCheckpoint, BackupAndRestore
    return every if isinstance(every, int) and every > 0 else 0


class RestorersFirst(keras.callbacks.CallbackList):
    """The callback list `GAN.fit` runs: callbacks that restore state begin first, so the others
    see the restored step; on every other hook they come last (`fit` puts them there), so the
    checkpoint of step N is written after N's history row and grid: a kill between the two
    never loses a row on resume."""

    def on_train_begin(self, logs=None):
        ordered = self.callbacks
        self.callbacks = sorted(ordered, key=lambda c: not restores_state(c))
        try:
            super().on_train_begin(logs)
        finally:
            self.callbacks = ordered
