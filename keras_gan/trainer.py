"""The one GAN trainer: G, D, GD, two optimisers, a strategy and a fused `tf.function` step.

Every variant (docs/configs.md) is this trainer with a different `TrainerConfig` and models;
`keras_gan.GAN` is its public face.
"""
from __future__ import annotations

import contextlib
import dataclasses
from typing import Callable, Dict, Iterable, Tuple

import keras
import numpy as np
import tensorflow as tf

from keras_gan import objectives, penalties
from keras_gan.ema import ExponentialMovingAverage
from keras_gan.errors import KerasGanError
from keras_gan.loss_scale import DynamicLossScale
from keras_gan.layers import BatchNormalization
from keras_gan.models import build_combined, is_conditional, nested_layers

ORDERS = ("g_first", "d_first", "simultaneous")
D_STYLES = ("concat", "separate")
D_REDUCTIONS = ("mean", "sum")


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
    """How one training step runs.

    d_style: `concat` trains D on one batch concat(real, fake); `separate` calls D on each half.
    objective: a registered name (`keras_gan.objectives.register`); `g_loss` chooses bce's G loss.
    d_reduction: D's loss is the `mean` (halves averaged) or the `sum` of the real and fake losses.
    penalty: a registered name (`keras_gan.penalties.register`), added to D's loss times
        `penalty_weight`.
    pack: the examples D judges at once (PacGAN, `models.packed`; 1: one), which the penalty
        must know; each replica's batch must be a multiple of it.
    g_top_k: top-k training (Sinha et al. 2020): G learns from the fraction of each fake batch
        D scores most real, starting at all of it and multiplied by `g_top_k_decay` every G
        step down to `g_top_k` (1: every sample, always).
    g_ema_decay: keep an exponential moving average of G's weights (0: none).
    g_ema_warmup: the average's warm-up constant (`ema.ExponentialMovingAverage`; TF's 10).
    loss_scale: the initial dynamic loss scale of each optimiser (float16; 0: none), doubled
        after `loss_scale_growth_interval` finite steps, halved when a step is skipped.
    order: `g_first` (G step, then a D step on the same fake batch), `d_first` (D steps, then a
        G step on fresh z) or `simultaneous` (both from one forward pass, as the paper's code).
    d_steps: Algorithm 1's k, D steps per G step; each D step takes a fresh real batch.
    steps_per_execution: training steps fused into one `tf.function` call (Keras's option of
        that name); metrics come back once per call.
    """

    global_batch_size: int = 0
    objective: str = "bce"
    g_loss: str = "non_saturating"
    penalty: str = "none"
    penalty_weight: float = 10.0
    pack: int = 1
    g_top_k: float = 1.0
    g_top_k_decay: float = 1.0
    g_ema_decay: float = 0.0
    g_ema_warmup: float = 10.0
    loss_scale: float = 0.0
    loss_scale_growth_interval: int = 2000
    d_style: str = "separate"
    d_reduction: str = "mean"
    order: str = "g_first"
    d_steps: int = 1
    steps_per_execution: int = 1
    jit_compile: bool = False

    def __post_init__(self):
        choices = {"objective": tuple(objectives.OBJECTIVES), "g_loss": objectives.G_LOSSES,
                   "penalty": tuple(penalties.PENALTIES), "d_style": D_STYLES,
                   "d_reduction": D_REDUCTIONS, "order": ORDERS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise KerasGanError(f"{name}={getattr(self, name)}: expected one of "
                                    f"{', '.join(allowed)}")
        if self.order == "simultaneous" and self.d_steps != 1:
            raise KerasGanError(f"order=simultaneous updates D and G from one forward pass: "
                                f"expected d_steps=1, not {self.d_steps}")
        if not 0.0 <= self.g_ema_decay < 1.0:
            raise KerasGanError(f"g_ema_decay={self.g_ema_decay}: expected 0 (off) or a decay "
                                f"in (0, 1), e.g. 0.999")
        if self.g_ema_warmup < 2.0:
            raise KerasGanError(f"g_ema_warmup={self.g_ema_warmup}: expected at least 2 (2: the "
                                f"average of every step; TF's rule: 10)")
        if self.loss_scale < 0 or self.loss_scale_growth_interval < 1:
            raise KerasGanError(f"loss_scale={self.loss_scale}, loss_scale_growth_interval="
                                f"{self.loss_scale_growth_interval}: expected a positive scale "
                                f"and interval")
        if not 0.0 < self.g_top_k <= 1.0 or not 0.0 < self.g_top_k_decay <= 1.0:
            raise KerasGanError(f"g_top_k={self.g_top_k}, g_top_k_decay="
                                f"{self.g_top_k_decay}: expected a kept fraction and a decay "
                                f"in (0, 1]")
        if self.penalty_weight < 0:
            raise KerasGanError(f"penalty_weight={self.penalty_weight}: expected >= 0")
        if self.global_batch_size < 0:
            raise KerasGanError(f"global_batch_size={self.global_batch_size}: expected a "
                                f"positive integer (0: set by the data)")
        for name in ("d_steps", "steps_per_execution", "pack"):
            if getattr(self, name) < 1:
                raise KerasGanError(f"{name}={getattr(self, name)}: expected a positive integer")


@contextlib.contextmanager
def frozen(model: keras.Model):
    """Freezes `model` while tracing one update: its variables get no gradient, and it still
    normalises with batch statistics, as the references' frozen networks do.

    `keras_gan.layers.BatchNormalization` does that frozen and leaves its moving statistics
    alone. Keras's own BatchNormalization would switch to its moving statistics when frozen, so
    a user's model keeps those layers trainable (their variables are in neither update's list):
    they normalise with the batch and update their moving statistics, as in keras.io's loop and
    PyTorch's."""
    model.trainable = False
    for layer in nested_layers(model):
        if (isinstance(layer, keras.layers.BatchNormalization)
                and not isinstance(layer, BatchNormalization)):
            layer.trainable = True
    try:
        yield
    finally:
        model.trainable = True


class GANTrainer:
    """Owns the models, optimisers and step counter, and runs distributed training steps."""

    def __init__(self, build_models: Callable[[], Tuple[keras.Model, keras.Model]],
                 build_optimizers: Callable[[], Tuple[keras.Optimizer, keras.Optimizer]],
                 config: TrainerConfig, strategy: tf.distribute.Strategy):
        self.config, self.strategy = config, strategy
        self._traced = False
        if config.global_batch_size:
            self.set_batch_size(config.global_batch_size)
        self.objective = objectives.make_objective(config.objective, config.g_loss)
        self._penalty = penalties.make_penalty(config.penalty, config.pack)
        self.metric_names = self.objective.metric_names + (("penalty",) if self._penalty else ())
        with strategy.scope():
            self.generator, self.discriminator = build_models()
            self.combined = build_combined(self.generator, self.discriminator)
            self.conditional = is_conditional(self.generator)
            self.g_optimizer, self.d_optimizer = build_optimizers()
            # Explicit variable lists, taken once while both models are trainable: toggling
            # `trainable` later must not change what each optimiser updates.
            self._g_vars = list(self.generator.trainable_variables)
            self._d_vars = list(self.discriminator.trainable_variables)
            # Built eagerly: an optimiser first built inside a traced step creates its slots
            # there (keras-team/keras#23085).
            self.g_optimizer.build(self._g_vars)
            self.d_optimizer.build(self._d_vars)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step",
                                    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
            self.ema = (ExponentialMovingAverage(self.generator, config.g_ema_decay,
                                                 config.g_ema_warmup)
                        if config.g_ema_decay else None)
            self.g_loss_scale, self.d_loss_scale = (
                (DynamicLossScale(config.loss_scale, config.loss_scale_growth_interval)
                 for _ in range(2)) if config.loss_scale else (None, None))
        if config.loss_scale:
            for optimizer in (self.g_optimizer, self.d_optimizer):
                if not hasattr(optimizer, "_fused_step"):
                    raise KerasGanError("dynamic loss scaling (mixed_float16) needs the fused "
                                        "optimisers (keras_gan.optimizers.FusedAdam, "
                                        "FusedMomentumSGD)")
                optimizer.skip_non_finite = True
        self._tracked = dict(generator=self.generator, discriminator=self.discriminator,
                             g_optimizer=self.g_optimizer, d_optimizer=self.d_optimizer,
                             step=self.step)
        if self.ema:
            self._tracked["generator_ema"] = self.ema.model
        if config.loss_scale:
            self._tracked["g_loss_scale"] = self.g_loss_scale.checkpointable()
            self._tracked["d_loss_scale"] = self.d_loss_scale.checkpointable()
        self.checkpoint = tf.train.Checkpoint(**self._tracked)
        # Replica functions are traced inline by the outer tf.function; a nested tf.function is
        # only used to mark an XLA cluster (a shared inner trace would give every replica the
        # same collective keys as the first one, and MirroredStrategy then mismatches them).
        compiled = (lambda f: tf.function(f, jit_compile=True)) if config.jit_compile else (
            lambda f: f)
        self._g_replica_fn = compiled(self._g_replica)
        self._d_replica_fn = compiled(self._d_replica)
        self._fake_replica_fn = compiled(self._fake_replica)
        self._simultaneous_replica_fn = compiled(self._simultaneous_replica)
        self._train_calls = tf.function(self._train_loop, reduce_retracing=True)

    def set_batch_size(self, global_batch_size: int, **changes) -> None:
        """Fixes the global batch size (and other `changes` to the config) before the first
        step; the traced step depends on them, so they cannot change after it."""
        config = dataclasses.replace(self.config, global_batch_size=global_batch_size, **changes)
        if self._traced and config != self.config:
            raise KerasGanError(f"batch_size={global_batch_size}: this GAN trained with batches "
                                f"of {self.config.global_batch_size}; compile() again to change "
                                f"it")
        replicas = self.strategy.num_replicas_in_sync
        if global_batch_size < 1 or global_batch_size % replicas:
            raise KerasGanError(f"global_batch_size={global_batch_size}: expected a positive "
                                f"multiple of the {replicas} replicas of the strategy")
        if global_batch_size // replicas % config.pack:
            raise KerasGanError(f"pack={config.pack}: each replica's batch of "
                                f"{global_batch_size // replicas} must be a multiple of it")
        self.config = config

    # Entries a checkpoint may lack (written before the feature existed, or with it off); they
    # keep their fresh values, and the EMA of G starts at the restored G.
    _OPTIONAL = ("generator_ema", "g_loss_scale", "d_loss_scale")

    def restore(self, path: str) -> None:
        """Restores a checkpoint of this trainer, also one without the optional entries."""
        reader = tf.train.load_checkpoint(path)
        saved = {name.split("/")[0] for name in reader.get_variable_to_shape_map()}
        present = {k: v for k, v in self._tracked.items() if k in saved or k not in self._OPTIONAL}
        if len(present) == len(self._tracked):
            self.checkpoint.restore(path).assert_existing_objects_matched()
            return
        tf.train.Checkpoint(**present).restore(path).assert_existing_objects_matched()
        self.checkpoint.save_counter.assign(
            reader.get_tensor("save_counter/.ATTRIBUTES/VARIABLE_VALUE"))
        if self.ema and "generator_ema" not in saved:
            self.ema.copy_from_model()

    @property
    def sampling_generator(self) -> keras.Model:
        """The G that grids, evaluation and export use: the EMA of G's weights when kept."""
        return self.ema.model if self.ema else self.generator

    # ----- one replica's work: reads top to bottom like the references -----------------------

    def _with_labels(self, tensor: tf.Tensor, element: Dict[str, tf.Tensor]):
        """A model's input: the tensor, joined by the batch's labels when conditional."""
        return [tensor, element["labels"]] if self.conditional else tensor

    def _fake_replica(self, element: Dict[str, tf.Tensor]) -> tf.Tensor:
        return self.generator(self._with_labels(element["z_d"], element), training=True)

    def _discriminate(self, element: Dict[str, tf.Tensor], fake: tf.Tensor
                      ) -> Tuple[tf.Tensor, tf.Tensor, Dict[str, tf.Tensor]]:
        """D on the real and the fake half: its fake-half outputs, its loss and its metrics."""
        real, batch = element["real"], self.config.global_batch_size
        fake = tf.cast(fake, real.dtype)  # G may compute in float16
        labels = element["labels"] if self.conditional else None

        def discriminate(x, y=labels):
            return self.discriminator(x if y is None else [x, y], training=True)

        if self.config.d_style == "concat":
            both = None if labels is None else tf.concat([labels, labels], 0)
            real_outputs, fake_outputs = tf.split(discriminate(tf.concat([real, fake], 0), both),
                                                  2)
        else:
            real_outputs, fake_outputs = discriminate(real), discriminate(fake)
        real_losses, fake_losses = self.objective.d_losses(
            real_outputs, fake_outputs, element["real_labels"])
        loss = (tf.nn.compute_average_loss(real_losses, global_batch_size=batch)
                + tf.nn.compute_average_loss(fake_losses, global_batch_size=batch))
        if self.config.d_reduction == "mean":
            loss = loss / 2.0
        metrics = {name: tf.reduce_sum(values) / batch for name, values in
                   self.objective.summaries(real_outputs, fake_outputs).items()}
        if self._penalty:
            penalty = tf.nn.compute_average_loss(
                self._penalty(discriminate, real, fake, element["alpha"]),
                global_batch_size=batch)
            loss += self.config.penalty_weight * penalty
            metrics["penalty"] = penalty
        return fake_outputs, loss, {"d_loss": loss, **metrics}

    def _minimise(self, tape: tf.GradientTape, loss: tf.Tensor, variables, optimizer,
                  loss_scale: DynamicLossScale | None) -> None:
        """Applies the gradients of `loss` (recorded on `tape`). With a dynamic loss scale, a
        step whose gradients are not finite on some replica is skipped on all of them."""
        if loss_scale is None:
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return
        gradients = tape.gradient(loss, variables,
                                  output_gradients=tf.convert_to_tensor(loss_scale.scale))
        gradients, finite = loss_scale.unscale(gradients)
        # All NaN on a skipped step: the fused optimisers then leave every variable alone.
        gradients = [tf.where(finite, g, tf.fill(tf.shape(g), float("nan"))) for g in gradients]
        optimizer.apply_gradients(zip(gradients, variables))
        optimizer.iterations.assign_sub(1 - tf.cast(finite, optimizer.iterations.dtype))
        loss_scale.update(finite)

    def _g_loss(self, fake_outputs: tf.Tensor) -> tf.Tensor:
        """G's loss on this replica's share of the global batch (top-k weighted if asked)."""
        losses = self.objective.g_losses(fake_outputs)
        if self.config.g_top_k < 1.0:
            steps = tf.cast(self.g_optimizer.iterations, tf.float32)
            fraction = tf.maximum(self.config.g_top_k, self.config.g_top_k_decay ** steps)
            losses *= objectives.top_k_weights(fake_outputs, fraction)
        return tf.nn.compute_average_loss(losses, global_batch_size=self.config.global_batch_size)

    def _d_replica(self, element: Dict[str, tf.Tensor], fake: tf.Tensor) -> Dict[str, tf.Tensor]:
        with tf.GradientTape() as tape:
            _, loss, metrics = self._discriminate(element, tf.stop_gradient(fake))
        self._minimise(tape, loss, self._d_vars, self.d_optimizer, self.d_loss_scale)
        return metrics

    def _simultaneous_replica(self, element: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        """The original code's update (pylearn2 `AdversaryCost2`): one forward pass of G and D,
        D's gradients from its loss and G's from its own loss on the same fake logits (same
        dropout masks), both applied to the weights that produced them."""
        with tf.GradientTape(persistent=True) as tape:
            fake = self.generator(self._with_labels(element["z_g"], element), training=True)
            fake_outputs, d_loss, metrics = self._discriminate(element, fake)
            g_loss = self._g_loss(fake_outputs)
        self._minimise(tape, d_loss, self._d_vars, self.d_optimizer, self.d_loss_scale)
        self._minimise(tape, g_loss, self._g_vars, self.g_optimizer, self.g_loss_scale)
        del tape
        return {**metrics, "g_loss": g_loss, "d_fake_after": metrics["d_fake"]}

    def _g_replica(self, element: Dict[str, tf.Tensor]
                   ) -> Tuple[Dict[str, tf.Tensor], tf.Tensor]:
        with tf.GradientTape() as tape:
            fake, fake_outputs = self.combined(self._with_labels(element["z_g"], element),
                                               training=True)
            loss = self._g_loss(fake_outputs)
        self._minimise(tape, loss, self._g_vars, self.g_optimizer, self.g_loss_scale)
        return {"g_loss": loss, "d_fake_after": tf.reduce_sum(
            self.objective.fake_summary(fake_outputs)) / self.config.global_batch_size}, fake

    # ----- the phases of a step, each run on every replica ---------------------------------
    # Freezing happens here, outside `strategy.run`: MirroredStrategy traces replicas in parallel
    # threads, so toggling `trainable` inside a replica function would race.

    def generate(self, element) -> tf.Tensor:
        """A fake batch for D's step from the element's `z_d` (and labels); G is frozen so its
        BN statistics stay put."""
        with frozen(self.generator):
            return self.strategy.run(self._fake_replica_fn, args=(element,))

    def d_update(self, element, fake) -> Dict[str, tf.Tensor]:
        """One D step on a real batch and a (detached) fake batch."""
        return self.strategy.run(self._d_replica_fn, args=(element, fake))

    def g_update(self, element) -> Tuple[Dict[str, tf.Tensor], tf.Tensor]:
        """One G step through GD with D frozen, from the element's `z_g` (and labels); returns
        its metrics and the fake batch."""
        with frozen(self.discriminator):
            return self.strategy.run(self._g_replica_fn, args=(element,))

    def _train_step(self, elements) -> Dict[str, tf.Tensor]:
        """One training step: one G update and `d_steps` D updates, in the configured order."""
        if self.config.order == "simultaneous":
            return self.strategy.run(self._simultaneous_replica_fn, args=(elements[0],))
        if self.config.order == "g_first":
            g_metrics, fake = self.g_update(elements[0])
            d_metrics = self.d_update(elements[0], fake)
            for element in elements[1:]:
                d_metrics = self.d_update(element, self.generate(element))
        else:
            for element in elements:
                d_metrics = self.d_update(element, self.generate(element))
            g_metrics, _ = self.g_update(elements[-1])
        return {**d_metrics, **g_metrics}

    # ----- the distributed, fused loop --------------------------------------------------------

    def _train_loop(self, iterator, num_steps: tf.Tensor) -> Dict[str, tf.Tensor]:
        """`num_steps` training steps in one call; per-step metrics come back stacked."""
        history = tf.TensorArray(tf.float32, size=num_steps)
        for i in tf.range(num_steps):
            elements = tuple(next(iterator) for _ in range(self.config.d_steps))
            per_replica = self._train_step(elements)
            if self.ema:
                self.ema.update(self.step)
            history = history.write(i, tf.stack([
                self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica[name], axis=None)
                for name in self.metric_names]))
            self.step.assign_add(1)
        stacked = dict(zip(self.metric_names, tf.unstack(history.stack(),
                                                         num=len(self.metric_names), axis=1)))
        stacked["weights_finite"] = tf.reduce_all(
            [tf.reduce_all(tf.math.is_finite(v)) for v in self._g_vars + self._d_vars])
        return stacked

    def train_steps(self, iterator, num_steps: int) -> Dict[str, np.ndarray]:
        """Runs `num_steps` steps in calls of at most `steps_per_execution`; returns per-step
        metrics."""
        if not self.config.global_batch_size:
            raise KerasGanError("global_batch_size: not set; expected set_batch_size() first")
        self._traced = True
        collected = []
        while num_steps > 0:
            n = min(num_steps, self.config.steps_per_execution)
            collected.append({k: v.numpy() for k, v in
                              self._train_calls(iterator, tf.constant(n, tf.int32)).items()})
            num_steps -= n
        return {name: np.concatenate([np.atleast_1d(c[name]) for c in collected])
                for name in collected[0]}

    def fit(self, dataset: tf.distribute.DistributedDataset, steps_per_epoch: int,
            total_steps: int, callbacks: keras.callbacks.CallbackList, model: keras.Model,
            boundaries: Iterable[int] = ()) -> None:
        """Trains until the step counter reaches `total_steps`, driving Keras callbacks.

        As in `keras.Model.fit`, callbacks see `on_train_batch_end(batch, logs)` with the batch's
        index in its epoch after every step (logs are read from the device once per call) and
        `on_epoch_end(epoch, logs)` with the epoch's mean logs; `on_train_begin` gets
        `{"step": s}`, the global step training starts at (`keras_gan.callbacks.StepCallback`
        counts from it). They may stop training through `model.stop_training`. A fused call
        never crosses an epoch end or a multiple of any of `boundaries`, so callbacks that save
        state (grids, checkpoints) see the models exactly at their step.
        """
        model.stop_training = False
        iterator = iter(dataset)
        step = int(self.step.numpy())
        callbacks.on_train_begin({"step": step})
        logs, sums, count = {}, {}, 0
        while step < total_steps and not model.stop_training:
            epoch, position = divmod(step, steps_per_epoch)
            if position == 0 or not logs:
                callbacks.on_epoch_begin(epoch)
                sums, count = dict.fromkeys(self.metric_names, 0.0), 0
            n = min(self.config.steps_per_execution, total_steps - step,
                    steps_per_epoch - position,
                    *(every - step % every for every in boundaries if every > 0))
            history = self.train_steps(iterator, n)
            _check_finite(history, step, self.metric_names)
            for i in range(n):
                logs = {name: float(history[name][i]) for name in self.metric_names}
                callbacks.on_train_batch_end(position + i, logs)
            for name in self.metric_names:
                sums[name] += float(np.sum(history[name]))
            step, count = step + n, count + n
            if step % steps_per_epoch == 0:
                callbacks.on_epoch_end(epoch, {name: sums[name] / count for name in sums})
        callbacks.on_train_end(logs)


class DivergenceError(KerasGanError):
    """Training produced NaN or Inf; the last checkpoint is the last good state."""


def _check_finite(history: Dict[str, np.ndarray], first_step: int, names) -> None:
    for name in names:
        bad = np.flatnonzero(~np.isfinite(history[name]))
        if bad.size:
            raise DivergenceError(f"training diverged: {name} is {history[name][bad[0]]} at step "
                                  f"{first_step + int(bad[0]) + 1}")
    if not history["weights_finite"].all():
        raise DivergenceError(f"training diverged: a weight became NaN or Inf by step "
                              f"{first_step + len(history['d_loss'])}")
