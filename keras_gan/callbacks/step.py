"""`StepCallback`: a Keras callback that knows the global training step."""
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
    `boundary`: a fused call of several steps never crosses a multiple of it (0: none), so the
    callback sees the models exactly at its steps. Without `params` (a callback driven by hand)
    every `on_train_batch_end` is one step more."""

    step = None
    boundary = 0
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
