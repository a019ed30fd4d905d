"""The fused training step: G, D, GD and two optimisers under a strategy, as options say.

`TrainStep` takes the models, optimisers and state a `keras_gan.GAN` owns (`TrainingState`) and
its `TrainingOptions`, and gives one `tf.function` that runs many steps per call; `GAN.fit` runs
the epochs and callbacks around it. `EvaluationStep` scores real data and fresh fakes without
updating anything (`GAN.evaluate`).
"""
from __future__ import annotations

import contextlib
import dataclasses
from typing import Dict, Tuple

import keras
import numpy as np
import tensorflow as tf

from keras_gan import objectives
from keras_gan.augment import AdaptiveProbability
from keras_gan.ema import ExponentialMovingAverage
from keras_gan.errors import KerasGanError
from keras_gan.layers import BatchNormalization
from keras_gan.loss_scale import DynamicLossScale
from keras_gan.models import build_combined, is_conditional, nested_layers, weighted_layers
from keras_gan.options import TrainingOptions


@dataclasses.dataclass(frozen=True)
class TrainingState:
    """What a step reads and updates; `keras_gan.GAN` owns it, so Keras saves it."""

    generator: keras.Model
    discriminator: keras.Model
    g_optimizer: keras.Optimizer
    d_optimizer: keras.Optimizer
    step: keras.Variable  # training steps done
    generator_ema: keras.Model | None = None  # the average of G's weights, when kept
    g_loss_scale: DynamicLossScale | None = None  # under mixed_float16
    d_loss_scale: DynamicLossScale | None = None
    augment_probability: AdaptiveProbability | None = None  # ADA's p, with augment="ada"


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


class TrainStep:
    """The fused training step of `state`'s models under `options` and `strategy`, for global
    batches of `global_batch_size` and epochs of `steps_per_epoch` G steps (top-k's decay is per
    epoch). Calling it runs steps; `function` is the traced call of up to `steps_per_execution`
    steps, `metric_names` what each step logs."""

    def __init__(self, state: TrainingState, options: TrainingOptions,
                 strategy: tf.distribute.Strategy, global_batch_size: int,
                 steps_per_epoch: int = 1):
        replicas = strategy.num_replicas_in_sync
        if global_batch_size < 1 or global_batch_size % replicas:
            raise KerasGanError(f"batch_size={global_batch_size}: expected a positive multiple of "
                                f"the {replicas} replicas of the strategy")
        if global_batch_size // replicas % options.pack:
            raise KerasGanError(f"pack={options.pack}: each replica's batch of "
                                f"{global_batch_size // replicas} must be a multiple of it")
        self.state, self.options, self.strategy = state, options, strategy
        self.global_batch_size = global_batch_size
        self.generator, self.discriminator = state.generator, state.discriminator
        self.g_optimizer, self.d_optimizer = state.g_optimizer, state.d_optimizer
        self.g_loss_scale, self.d_loss_scale = state.g_loss_scale, state.d_loss_scale
        self.objective = options.make_objective()
        self._penalty = options.make_penalty()
        self.augmentation = options.make_augmentation()
        self.ada = state.augment_probability if options.adaptive_augmentation else None
        self.metric_names = self.names_for(options)
        self._replica_names = tuple(n for n in self.metric_names if n != "augment_p")
        self._top_k_decay = options.g_top_k_decay ** (1.0 / steps_per_epoch)
        self.conditional = is_conditional(self.generator)
        with strategy.scope():
            self.combined = build_combined(self.generator, self.discriminator)
        # Explicit variable lists, taken while both models are trainable: toggling `trainable`
        # later must not change what each optimiser updates.
        self._g_vars = list(self.generator.trainable_variables)
        self._d_vars = _unfrozen_variables(self.discriminator, options.freeze_d_layers)
        self.ema = (ExponentialMovingAverage(self.generator, state.generator_ema,
                                             options.g_ema_decay, options.g_ema_warmup)
                    if state.generator_ema is not None else None)
        # Replica functions are traced inline by the outer tf.function; a nested tf.function is
        # only used to mark an XLA cluster (a shared inner trace would give every replica the
        # same collective keys as the first one, and MirroredStrategy then mismatches them).
        compiled = (lambda f: tf.function(f, jit_compile=True)) if options.jit_compile else (
            lambda f: f)
        self._g_replica_fn = compiled(self._g_replica)
        self._d_replica_fn = compiled(self._d_replica)
        self._fake_replica_fn = compiled(self._fake_replica)
        self._simultaneous_replica_fn = compiled(self._simultaneous_replica)
        self.function = tf.function(self._train_loop, reduce_retracing=True)

    @staticmethod
    def names_for(options: TrainingOptions) -> Tuple[str, ...]:
        """What every step logs: d_loss, g_loss, the objective's values, the penalty's, and with
        adaptive augmentation r_t (`d_real_sign`) and p (`augment_p`)."""
        names = options.make_objective().metric_names
        names += ("penalty",) if options.make_penalty() else ()
        return names + (("d_real_sign", "augment_p") if options.adaptive_augmentation else ())

    # ----- one replica's work: reads top to bottom like the references -----------------------

    def _augmented(self, images: tf.Tensor, element: Dict[str, tf.Tensor], use: int
                   ) -> tf.Tensor:
        """`images` as D sees them: augmented with the element's uniforms for `use` (0: D's real
        half, 1: D's fake half, 2: G's fakes), or as they are."""
        if self.augmentation is None:
            return images
        p = self.ada.p if self.ada is not None else 1.0
        return self.augmentation(tf.cast(images, tf.float32), element["augment"][:, use], p)

    def _with_labels(self, tensor: tf.Tensor, element: Dict[str, tf.Tensor]):
        """A model's input: the tensor, joined by the batch's labels when conditional."""
        return [tensor, element["labels"]] if self.conditional else tensor

    def _fake_replica(self, elements) -> Tuple[tf.Tensor, ...]:
        return tuple(self.generator(self._with_labels(element["z_d"], element), training=True)
                     for element in elements)

    def _discriminate(self, element: Dict[str, tf.Tensor], fake: tf.Tensor
                      ) -> Tuple[tf.Tensor, tf.Tensor, Dict[str, tf.Tensor]]:
        """D on the real and the fake half: its fake-half outputs, its loss and its metrics."""
        real, batch = element["real"], self.global_batch_size
        fake = tf.cast(fake, real.dtype)  # G may compute in float16
        real, fake = self._augmented(real, element, 0), self._augmented(fake, element, 1)
        labels = element["labels"] if self.conditional else None

        def discriminate(x, y=labels):
            return self.discriminator(x if y is None else [x, y], training=True)

        if self.options.d_style == "concat":
            both = None if labels is None else tf.concat([labels, labels], 0)
            real_outputs, fake_outputs = tf.split(discriminate(tf.concat([real, fake], 0), both),
                                                  2)
        else:
            real_outputs, fake_outputs = discriminate(real), discriminate(fake)
        real_losses, fake_losses = self.objective.d_losses(
            real_outputs, fake_outputs, element["real_labels"])
        loss = (tf.nn.compute_average_loss(real_losses, global_batch_size=batch)
                + tf.nn.compute_average_loss(fake_losses, global_batch_size=batch))
        if self.options.d_reduction == "mean":
            loss = loss / 2.0
        metrics = {name: tf.reduce_sum(values) / batch for name, values in
                   self.objective.summaries(real_outputs, fake_outputs).items()}
        if self.ada is not None:
            metrics["d_real_sign"] = tf.reduce_sum(tf.sign(objectives.flat(real_outputs))) / batch
        if self._penalty:
            penalty = tf.nn.compute_average_loss(
                self._penalty(discriminate, real, fake, element["alpha"]),
                global_batch_size=batch)
            loss += self.options.penalty_weight * penalty
            metrics["penalty"] = penalty
        return fake_outputs, loss, {"d_loss": loss, **metrics}

    def _gradients(self, tape: tf.GradientTape, loss: tf.Tensor, variables,
                   loss_scale: DynamicLossScale | None) -> list:
        """The gradients of `loss` (recorded on `tape`), times the loss scale when there is one."""
        if loss_scale is None:
            return tape.gradient(loss, variables)
        return tape.gradient(loss, variables,
                             output_gradients=tf.convert_to_tensor(loss_scale.scale))

    def _apply(self, gradients: list, variables, optimizer,
               loss_scale: DynamicLossScale | None) -> None:
        """Applies `gradients` (the mean over the micro-batches). With a dynamic loss scale, a
        step whose gradients are not finite on some replica is skipped on all of them."""
        if loss_scale is None:
            optimizer.apply_gradients(zip(gradients, variables))
            return
        gradients, finite = loss_scale.unscale(gradients)
        # All NaN on a skipped step: the fused optimisers then leave every variable alone.
        gradients = [tf.where(finite, g, tf.fill(tf.shape(g), float("nan"))) for g in gradients]
        optimizer.apply_gradients(zip(gradients, variables))
        optimizer.iterations.assign_sub(1 - tf.cast(finite, optimizer.iterations.dtype))
        loss_scale.update(finite)

    def _accumulate(self, micro_batches, step, variables, optimizer, loss_scale):
        """One update from several micro-batches (`accumulate_steps`): `step(micro)` gives its
        loss, metrics and extra output under `tape`; the mean of the gradients is applied, as
        one batch of them all would give; metrics are averaged. Returns (metrics, extras)."""
        gradients, metrics, extras = [], [], []
        for micro in micro_batches:
            with tf.GradientTape() as tape:
                loss, values, extra = step(micro)
            gradients.append(self._gradients(tape, loss, variables, loss_scale))
            metrics.append(values)
            extras.append(extra)
        self._apply(_mean_gradients(gradients), variables, optimizer, loss_scale)
        return _mean_metrics(metrics), tuple(extras)

    def _g_loss(self, fake_outputs: tf.Tensor) -> tf.Tensor:
        """G's loss on this replica's share of the global batch (top-k weighted if asked)."""
        losses = self.objective.g_losses(fake_outputs)
        if self.options.g_top_k < 1.0:
            steps = tf.cast(self.g_optimizer.iterations, tf.float32)
            fraction = tf.maximum(self.options.g_top_k, self._top_k_decay ** steps)
            losses *= objectives.top_k_weights(fake_outputs, fraction)
        return tf.nn.compute_average_loss(losses, global_batch_size=self.global_batch_size)

    def _d_replica(self, elements, fakes) -> Dict[str, tf.Tensor]:
        def step(micro):
            element, fake = micro
            _, loss, metrics = self._discriminate(element, tf.stop_gradient(fake))
            return loss, metrics, None

        metrics, _ = self._accumulate(tuple(zip(elements, fakes)), step, self._d_vars,
                                      self.d_optimizer, self.d_loss_scale)
        return metrics

    def _simultaneous_replica(self, elements) -> Dict[str, tf.Tensor]:
        """The original code's update (pylearn2 `AdversaryCost2`): one forward pass of G and D,
        D's gradients from its loss and G's from its own loss on the same fake logits (same
        dropout masks), both applied to the weights that produced them."""
        d_gradients, g_gradients, metrics = [], [], []
        for element in elements:
            with tf.GradientTape(persistent=True) as tape:
                fake = self.generator(self._with_labels(element["z_g"], element), training=True)
                fake_outputs, d_loss, values = self._discriminate(element, fake)
                g_loss = self._g_loss(fake_outputs)
            d_gradients.append(self._gradients(tape, d_loss, self._d_vars, self.d_loss_scale))
            g_gradients.append(self._gradients(tape, g_loss, self._g_vars, self.g_loss_scale))
            del tape
            metrics.append({**values, "g_loss": g_loss, "d_fake_after": values["d_fake"]})
        self._apply(_mean_gradients(d_gradients), self._d_vars, self.d_optimizer,
                    self.d_loss_scale)
        self._apply(_mean_gradients(g_gradients), self._g_vars, self.g_optimizer,
                    self.g_loss_scale)
        return _mean_metrics(metrics)

    def _g_replica(self, elements) -> Tuple[Dict[str, tf.Tensor], Tuple[tf.Tensor, ...]]:
        def step(element):
            if self.augmentation is None:
                fake, fake_outputs = self.combined(self._with_labels(element["z_g"], element),
                                                   training=True)
            else:  # GD with the augmentation between G and D
                fake = self.generator(self._with_labels(element["z_g"], element), training=True)
                fake_outputs = self.discriminator(self._with_labels(
                    self._augmented(fake, element, 2), element), training=True)
            loss = self._g_loss(fake_outputs)
            return loss, {"g_loss": loss, "d_fake_after": tf.reduce_sum(
                self.objective.fake_summary(fake_outputs)) / self.global_batch_size}, fake

        return self._accumulate(elements, step, self._g_vars, self.g_optimizer,
                                self.g_loss_scale)

    # ----- the phases of a step, each run on every replica ---------------------------------
    # Freezing happens here, outside `strategy.run`: MirroredStrategy traces replicas in parallel
    # threads, so toggling `trainable` inside a replica function would race.

    # Each phase takes one element or a tuple of `accumulate_steps` micro-batch elements.

    def generate(self, elements) -> Tuple[tf.Tensor, ...]:
        """Fake batches for D's step from the elements' `z_d` (and labels); G is frozen so its
        BN statistics stay put."""
        with frozen(self.generator):
            return self.strategy.run(self._fake_replica_fn, args=(_micro(elements),))

    def d_update(self, elements, fakes) -> Dict[str, tf.Tensor]:
        """One D step on real batches and (detached) fake batches."""
        return self.strategy.run(self._d_replica_fn, args=(_micro(elements), _micro(fakes)))

    def g_update(self, elements) -> Tuple[Dict[str, tf.Tensor], Tuple[tf.Tensor, ...]]:
        """One G step through GD with D frozen, from the elements' `z_g` (and labels); returns
        its metrics and the fake batches."""
        with frozen(self.discriminator):
            return self.strategy.run(self._g_replica_fn, args=(_micro(elements),))

    def _train_step(self, elements) -> Dict[str, tf.Tensor]:
        """One training step: one G update and `d_steps` D updates, in the configured order,
        each from `accumulate_steps` micro-batches."""
        k = self.options.accumulate_steps
        groups = [elements[i:i + k] for i in range(0, len(elements), k)]
        if self.options.order == "simultaneous":
            return self.strategy.run(self._simultaneous_replica_fn, args=(groups[0],))
        if self.options.order == "g_first":
            g_metrics, fakes = self.g_update(groups[0])
            d_metrics = self.d_update(groups[0], fakes)
            for group in groups[1:]:
                d_metrics = self.d_update(group, self.generate(group))
        else:
            for group in groups:
                d_metrics = self.d_update(group, self.generate(group))
            g_metrics, _ = self.g_update(groups[-1])
        return {**d_metrics, **g_metrics}

    # ----- the distributed, fused loop --------------------------------------------------------

    def _train_loop(self, iterator, num_steps: tf.Tensor) -> Dict[str, tf.Tensor]:
        """`num_steps` training steps in one call; per-step metrics come back stacked."""
        history = tf.TensorArray(tf.float32, size=num_steps)
        for i in tf.range(num_steps):
            elements = tuple(next(iterator) for _ in range(self.options.elements_per_step))
            per_replica = self._train_step(elements)
            if self.ema:
                self.ema.update(self.state.step)
            values = [self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica[name],
                                           axis=None) for name in self._replica_names]
            if self.ada is not None:
                values.append(tf.identity(self.ada.p))  # the p this step used
                self.ada.update(values[self._replica_names.index("d_real_sign")],
                                self.global_batch_size)
            history = history.write(i, tf.stack(values))
            self.state.step.assign_add(1)
        stacked = dict(zip(self.metric_names, tf.unstack(history.stack(),
                                                         num=len(self.metric_names), axis=1)))
        stacked["weights_finite"] = tf.reduce_all(
            [tf.reduce_all(tf.math.is_finite(v)) for v in self._g_vars + self._d_vars])
        return stacked

    def __call__(self, iterator, num_steps: int) -> Dict[str, np.ndarray]:
        """Runs `num_steps` steps in calls of at most `steps_per_execution`; returns per-step
        metrics and `weights_finite`, one per call."""
        collected = []
        while num_steps > 0:
            n = min(num_steps, self.options.steps_per_execution)
            collected.append({k: v.numpy() for k, v in
                              self.function(iterator, tf.constant(n, tf.int32)).items()})
            num_steps -= n
        return {name: np.concatenate([np.atleast_1d(c[name]) for c in collected])
                for name in collected[0]}


class EvaluationStep:
    """D's and G's losses and D's outputs on real batches and fresh fakes, every model in
    inference mode and nothing updated (`GAN.evaluate`): the sums over examples of each value in
    `names_for(options)` order."""

    def __init__(self, state: TrainingState, options: TrainingOptions,
                 strategy: tf.distribute.Strategy, global_batch_size: int):
        self.generator, self.discriminator = state.generator, state.discriminator
        self.options, self.strategy = options, strategy
        self.objective = options.make_objective()
        self.names = self.names_for(options)
        self.conditional = is_conditional(self.generator)
        self._function = tf.function(self._step, reduce_retracing=True)

    @staticmethod
    def names_for(options: TrainingOptions) -> Tuple[str, ...]:
        return ("d_loss", "g_loss", *options.make_objective().summary_names)

    def _replica(self, element: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        labels = element["labels"] if self.conditional else None
        with_labels = lambda x: x if labels is None else [x, labels]  # noqa: E731
        fake = self.generator(with_labels(element["z_d"]), training=False)
        real = element["real"]
        real_outputs = self.discriminator(with_labels(real), training=False)
        fake_outputs = self.discriminator(with_labels(tf.cast(fake, real.dtype)),
                                          training=False)
        real_losses, fake_losses = self.objective.d_losses(real_outputs, fake_outputs,
                                                           element["real_labels"])
        d_losses = real_losses + fake_losses
        if self.options.d_reduction == "mean":
            d_losses = d_losses / 2.0
        values = {"d_loss": d_losses, "g_loss": self.objective.g_losses(fake_outputs),
                  **self.objective.summaries(real_outputs, fake_outputs)}
        return {name: tf.reduce_sum(values[name]) for name in self.names}

    def _step(self, element) -> Dict[str, tf.Tensor]:
        per_replica = self.strategy.run(self._replica, args=(element,))
        return {name: self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica[name],
                                           axis=None) for name in self.names}

    def run(self, dataset, callbacks=None) -> Tuple[Dict[str, float], int]:
        """The summed values over `dataset`'s batches and how many batches there were."""
        totals, batches = dict.fromkeys(self.names, 0.0), 0
        for element in dataset:
            sums = self._function(element)
            for name in self.names:
                totals[name] += float(sums[name])
            if callbacks is not None:
                callbacks.on_test_batch_end(batches, {name: float(sums[name])
                                                      for name in self.names})
            batches += 1
        return totals, batches


def _micro(elements) -> tuple:
    """One element (or fake batch) as a group of one micro-batch; a group as it is."""
    return elements if isinstance(elements, tuple) else (elements,)


def _mean_gradients(per_micro_batch: list) -> list:
    """The mean of each variable's gradients over the micro-batches (one: as they are)."""
    total = per_micro_batch[0]
    for gradients in per_micro_batch[1:]:
        total = [a + g for a, g in zip(total, gradients)]
    count = len(per_micro_batch)
    return total if count == 1 else [g / count for g in total]


def _mean_metrics(metrics: list) -> Dict[str, tf.Tensor]:
    """Per-micro-batch metrics averaged (one micro-batch: as they are)."""
    if len(metrics) == 1:
        return metrics[0]
    return {name: tf.add_n([m[name] for m in metrics]) / len(metrics) for name in metrics[0]}


def _unfrozen_variables(discriminator: keras.Model, frozen_layers: int) -> list:
    """D's trainable variables but those of its first `frozen_layers` layers with weights."""
    layers = list(weighted_layers(discriminator))
    if frozen_layers > len(layers):
        raise KerasGanError(f"freeze_d_layers={frozen_layers}: D ({discriminator.name}) has "
                            f"only {len(layers)} layers with weights")
    fixed = {id(v) for layer in layers[:frozen_layers] for v in layer.weights}
    return [v for v in discriminator.trainable_variables if id(v) not in fixed]


class DivergenceError(KerasGanError):
    """Training produced NaN or Inf; the last checkpoint is the last good state."""


def check_finite(history: Dict[str, np.ndarray], first_step: int, names) -> None:
    for name in names:
        bad = np.flatnonzero(~np.isfinite(history[name]))
        if bad.size:
            raise DivergenceError(f"training diverged: {name} is {history[name][bad[0]]} at step "
                                  f"{first_step + int(bad[0]) + 1}")
    if not history["weights_finite"].all():
        raise DivergenceError(f"training diverged: a weight became NaN or Inf by step "
                              f"{first_step + len(history['d_loss'])}")
