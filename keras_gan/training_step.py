"""`TrainingStep`: `GAN.train_step` and the pieces it calls, in one place, as keras.io's GAN
examples keep their step.

A subclass of `keras_gan.GAN` overrides `train_step`, or one of the public pieces (`noise`,
`generate`, `augment`, `discriminator_loss`, `generator_loss`, `gradient_penalty`), to change
what `fit` trains (docs/customizing.md). `train_step` runs in cross-replica context: D is frozen
for G's update by toggling `trainable`, outside `strategy.run` (MirroredStrategy traces its
replicas in threads that switch at every all-reduce), and each update runs the replicas' work
through `strategy.run`. The pieces run per replica and return each replica's share of the
global batch's mean, so that the summed gradients are the global batch's.
"""
from __future__ import annotations

import contextlib

import keras
import tensorflow as tf

from keras_gan import objectives
from keras_gan.augment import RANDOM_NUMBERS, USES
from keras_gan.errors import KerasGanError
from keras_gan.inputs import sample_noise, uniform
from keras_gan.layers import BatchNormalization
from keras_gan.loss_scale import DynamicLossScale
from keras_gan.models import nested_layers


class TrainingStep:
    """The training step of `keras_gan.GAN` (which it is a part of: it reads the GAN's models,
    optimisers, options and state)."""

    # ----- the training step ----------------------------------------------------------------

    def train_step(self, data):
        """One training step: D's update(s), G's update, then G's average and ADA's p; returns
        the step's logs, a dict of scalars.

        data: what the dataset yields, as in Keras: examples, or (examples, labels) for a
            conditional G (uint8 images already scaled to `value_range`); with d_steps x
            accumulate_steps = m > 1 batches per step, a tuple of m of them. Under several
            replicas each is a per-replica value.

        Runs in cross-replica context (`fit` calls it inside its `tf.function`); each update
        runs its replicas' work through `strategy.run`.
        """
        k = self.options.accumulate_steps
        steps = self.options.d_steps * k
        batches = list(data) if steps > 1 else [data]
        # Each update takes k micro-batches (accumulate_steps), named by their position.
        groups = [(first, batches[first:first + k]) for first in range(0, steps, k)]
        if self.options.order == "simultaneous":
            logs = self._run("_simultaneous_replica", _group(batches, 0))
        elif self.options.order == "g_first":
            g_logs, fakes = self.generator_update(groups[0][1])
            d_logs = self.discriminator_update(groups[0][1], fakes)
            for first, group in groups[1:]:
                d_logs = self.discriminator_update(group, position=first)
            logs = {**d_logs, **g_logs}
        else:
            for first, group in groups:
                d_logs = self.discriminator_update(group, position=first)
            g_logs, _ = self.generator_update(groups[-1][1], position=groups[-1][0])
            logs = {**d_logs, **g_logs}
        logs = self.reduce_logs(logs)
        if self._average is not None:
            self._average.update(self.step)
        if self.adaptive:
            logs["augment_p"] = tf.identity(self.augment_probability.p)  # the p this step used
            self.augment_probability.update(logs["d_real_sign"], self._data_batch_size(data))
        return logs

    def discriminator_update(self, batches, fakes=None, position: int = 0):
        """One D update on a batch (or a list of micro-batches, with accumulate_steps, the
        step's `position`-th on), on `fakes` or fresh ones from G (frozen). Cross-replica;
        returns the per-replica logs."""
        group = _group(batches, position)
        if fakes is None:
            with frozen(self.generator):
                fakes = self._run("_fakes_replica", group)
        return self._run("_d_replica", group, fakes if isinstance(fakes, tuple) else (fakes,))

    def generator_update(self, batches, position: int = 0):
        """One G update through GD with D frozen by toggling `trainable`, on a batch (or a list
        of micro-batches). Cross-replica; returns the per-replica logs and G's fakes, one per
        batch."""
        with frozen(self.discriminator):
            return self._run("_g_replica", _group(batches, position))

    def reduce_logs(self, logs: dict) -> dict:
        """Per-replica logs, each a replica's share of the global batch's mean, as the global
        values: their sum over the replicas. Cross-replica."""
        return {name: self.distribute_strategy.reduce("SUM", value, axis=None)
                for name, value in logs.items()}

    def _run(self, name: str, *args):
        """The replica function `name` on every replica: XLA-compiled when asked (`fit` sets
        the compiled ones for the step it traces)."""
        function = self._replica_functions.get(name) or getattr(self, name)
        return self.distribute_strategy.run(function, args=args)

    @property
    def g_variables(self) -> list:
        """What G's update trains: G's trainable variables."""
        return self._untracked.g_variables

    @property
    def d_variables(self) -> list:
        """What D's update trains: D's trainable variables but those `freeze_d_layers` fixes."""
        return self._untracked.d_variables

    # ----- the pieces of a step, each per replica --------------------------------------------

    def noise(self, batch_size: int, update: str = "g", batch: int = 0) -> tf.Tensor:
        """z for this replica's `batch_size` examples: for G's update (`update="g"`) or for
        D's fakes ("d") of the step's `batch`-th batch (more than one with d_steps or
        accumulate_steps). A function of fit's seed, the step, these arguments and the
        replica, so a resumed run draws what an uninterrupted one would, and several replicas
        draw together what one device draws for the global batch. Per replica."""
        if update not in ("g", "d"):
            raise KerasGanError(f"noise: update={update!r}; expected 'g' or 'd'")
        return self._draw(f"z_{update}", batch_size, self._batch_index(batch),
                          lambda n, seed: sample_noise([n, self.z_dim], self.noise_prior, seed))

    def generate(self, z, labels=None, training: bool = True) -> tf.Tensor:
        """G's fake batch for D's update (G's own update runs the combined GD model)."""
        return self.generator(z if labels is None else [z, labels], training=training)

    def augment(self, images, use: int, batch: int = 0) -> tf.Tensor:
        """`images` as D sees them: augmented (little data) with this step's uniforms for `use`
        (0: D's real half, 1: D's fake half, 2: G's fakes), or as they are. Per replica."""
        if self.augmentation is None:
            return images
        uniforms = self._draw("augment", _rows(images), self._batch_index(batch),
                              lambda n, seed: uniform([n, USES, RANDOM_NUMBERS], seed))
        p = self.augment_probability.p if self.adaptive else 1.0
        return self.augmentation(tf.cast(images, tf.float32), uniforms[:, use], p)

    def discriminator_loss(self, real_outputs, fake_outputs, batch: int = 0):
        """D's loss from its logits on the real and the fake half, as this replica's share of
        the global batch's mean, and the objective's logs (D's outputs). Per replica."""
        size = self._global_batch(real_outputs)
        real_labels = self._draw("real_labels", _rows(real_outputs), self._batch_index(batch),
                                 lambda n, seed: uniform([n], seed, *self.options.real_label))
        real_losses, fake_losses = self.objective.d_losses(real_outputs, fake_outputs,
                                                           real_labels)
        loss = (tf.nn.compute_average_loss(real_losses, global_batch_size=size)
                + tf.nn.compute_average_loss(fake_losses, global_batch_size=size))
        if self.options.d_reduction == "mean":
            loss = loss / 2.0
        logs = {name: _mean(tf.reduce_sum(values), size) for name, values in
                self.objective.summaries(real_outputs, fake_outputs).items()}
        return loss, logs

    def generator_loss(self, fake_outputs, fake=None, real=None) -> tf.Tensor:
        """G's loss from D's logits on G's fakes (top-k weighted if asked), as this replica's
        share of the global batch's mean; `fake` and `real` are the batches, for losses that
        look at them. Per replica."""
        losses = self.objective.g_losses(fake_outputs)
        if self.options.g_top_k < 1.0:
            steps = tf.cast(self.g_optimizer.iterations, tf.float32)
            fraction = tf.maximum(self.options.g_top_k, self._top_k_decay ** steps)
            losses *= objectives.top_k_weights(fake_outputs, fraction)
        return tf.nn.compute_average_loss(losses,
                                          global_batch_size=self._global_batch(fake_outputs))

    def gradient_penalty(self, real, fake, labels=None, batch: int = 0) -> tf.Tensor:
        """The `penalty` option's term (unweighted), as this replica's share of the global
        batch's mean; 0 without one. Per replica."""
        if not self.penalty:
            return tf.constant(0.0)
        alpha = self._draw("alpha", _rows(real), self._batch_index(batch),
                           lambda n, seed: uniform([n], seed))
        return tf.nn.compute_average_loss(
            self.penalty(self._discriminate_with(labels), real, fake, alpha),
            global_batch_size=self._global_batch(real))

    # ----- one replica's updates: read top to bottom like keras.io's ------------------------

    def _discriminate_with(self, labels):
        """D on a batch (with `labels` when conditional), in training mode."""
        return lambda x: self.discriminator(x if labels is None else [x, labels], training=True)

    def _d_loss(self, real, fake, labels, batch: int):
        """D on the real and the fake half: its fake-half logits, its loss and its logs."""
        fake = tf.cast(fake, real.dtype)  # G may compute in float16
        real, fake = self.augment(real, 0, batch), self.augment(fake, 1, batch)
        discriminate = self._discriminate_with(labels)
        if self.options.d_style == "concat":
            both = None if labels is None else tf.concat([labels, labels], 0)
            outputs = self._discriminate_with(both)(tf.concat([real, fake], 0))
            real_outputs, fake_outputs = tf.split(outputs, 2)
        else:
            real_outputs, fake_outputs = discriminate(real), discriminate(fake)
        loss, logs = self.discriminator_loss(real_outputs, fake_outputs, batch)
        if self.adaptive:
            logs["d_real_sign"] = _mean(tf.reduce_sum(tf.sign(objectives.flat(real_outputs))),
                                        self._global_batch(real))
        if self.penalty:
            penalty = self.gradient_penalty(real, fake, labels, batch)
            loss += self.options.penalty_weight * penalty
            logs["penalty"] = penalty
        return fake_outputs, loss, {"d_loss": loss, **logs}

    def _fakes_replica(self, group):
        fakes = []
        for position, batch in group:
            real, labels = _parts(batch)
            fakes.append(self.generate(self.noise(_rows(real), "d", position), labels))
        return tuple(fakes)

    def _d_replica(self, group, fakes):
        def loss(item):
            (position, batch), fake = item
            real, labels = _parts(batch)
            _, value, logs = self._d_loss(real, tf.stop_gradient(fake), labels, position)
            return value, logs, None

        logs, _ = accumulate(tuple(zip(group, fakes)), loss, self.d_variables,
                             self.d_optimizer, self._scale("d"))
        return logs

    def _g_replica(self, group):
        def loss(item):
            position, batch = item
            real, labels = _parts(batch)
            z = self.noise(_rows(real), "g", position)
            if self.augmentation is None:
                fake, fake_outputs = self._untracked.combined(
                    z if labels is None else [z, labels], training=True)
            else:  # GD with the augmentation between G and D
                fake = self.generate(z, labels)
                fake_outputs = self._discriminate_with(labels)(self.augment(fake, 2, position))
            value = self.generator_loss(fake_outputs, fake, real)
            d_fake = tf.reduce_sum(self.objective.fake_summary(fake_outputs))
            return value, {"g_loss": value,
                           "d_fake_after": _mean(d_fake, self._global_batch(real))}, fake

        return accumulate(group, loss, self.g_variables, self.g_optimizer, self._scale("g"))

    def _simultaneous_replica(self, group):
        """The original code's update (pylearn2 `AdversaryCost2`): one forward pass of G and D,
        D's gradients from its loss and G's from its own loss on the same fake logits (same
        dropout masks), both applied to the weights that produced them."""
        def losses(item):
            position, batch = item
            real, labels = _parts(batch)
            fake = self.generate(self.noise(_rows(real), "g", position), labels)
            fake_outputs, d_loss, logs = self._d_loss(real, fake, labels, position)
            g_loss = self.generator_loss(fake_outputs, fake, real)
            return ((d_loss, g_loss), {**logs, "g_loss": g_loss, "d_fake_after": logs["d_fake"]},
                    None)

        return accumulate(group, losses, (self.d_variables, self.g_variables),
                          (self.d_optimizer, self.g_optimizer),
                          (self._scale("d"), self._scale("g")))[0]

    def _scale(self, net: str) -> DynamicLossScale | None:
        if not self.loss_scaled:
            return None
        return self.g_loss_scale if net == "g" else self.d_loss_scale

    def _batch_index(self, batch: int):
        """The global index of the step's `batch`-th batch in the run's stream of batches."""
        per_step = self.options.d_steps * self.options.accumulate_steps
        return tf.cast(self.step, tf.int64) * per_step + batch

    def _draw(self, draw: str, batch_size: int, index, make) -> tf.Tensor:
        seed = draw_seed(self.noise_seed, index, draw)
        return replica_share(lambda n: make(n, seed), batch_size)

    def _data_batch_size(self, data) -> int:
        """The global batch size of a step's `data` (in cross-replica context)."""
        first = tf.nest.flatten(data)[0]
        local = self.distribute_strategy.experimental_local_results(first)[0]
        return _size(_rows(local) * self.distribute_strategy.num_replicas_in_sync)

    @staticmethod
    def _global_batch(tensor) -> int:
        """The global batch size a replica's batch (or outputs) `tensor` is a share of."""
        if isinstance(tensor, tuple):
            tensor = tensor[0]
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context else 1
        return _size(_rows(tensor) * replicas)


# What a step draws per global batch besides the data, each from its own stateless seed.
DRAWS = ("z_d", "z_g", "real_labels", "alpha", "augment")


def draw_seed(seed, index, draw: str) -> tf.Tensor:
    """The stateless seed of `draw` (one of `DRAWS`) for the `index`-th global batch of a run
    with `seed`: a function of those alone, so a resumed run draws what an uninterrupted one
    would."""
    seed, index = tf.cast(seed, tf.int64), tf.cast(index, tf.int64)
    if draw == "augment":
        return tf.stack([seed + 2, index])
    # stateless_split's own numbers, by the algorithm named (see `uniform`)
    return tf.random.stateless_uniform([4, 2], tf.stack([seed + 1, index]), dtype=tf.int64,
                                       minval=None, maxval=None, alg="philox")[DRAWS.index(draw)]


def replica_share(make, batch_size: int) -> tf.Tensor:
    """This replica's `batch_size` rows of the global draw `make(global_batch_size)`: replicas
    together draw exactly what one device draws for the whole batch. Per replica."""
    context = tf.distribute.get_replica_context()
    if context is None:
        raise KerasGanError("a step's random draws are per replica: call them inside "
                            "strategy.run (GAN.train_step's updates do)")
    replicas = context.num_replicas_in_sync
    values = make(batch_size * replicas)
    if replicas == 1:
        return values
    start = context.replica_id_in_sync_group * batch_size
    return values[start:start + batch_size]


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


# ----- the helpers of one replica's update -------------------------------------------------

def gradients(tape: tf.GradientTape, loss: tf.Tensor, variables,
              loss_scale: DynamicLossScale | None) -> list:
    """The gradients of `loss` (recorded on `tape`), times the loss scale when there is one."""
    if loss_scale is None:
        return tape.gradient(loss, variables)
    return tape.gradient(loss, variables,
                         output_gradients=tf.convert_to_tensor(loss_scale.scale))


def apply(gradients_: list, variables, optimizer, loss_scale: DynamicLossScale | None) -> None:
    """Applies `gradients_` (the mean over the micro-batches). With a dynamic loss scale, a step
    whose gradients are not finite on some replica is skipped on all of them."""
    if loss_scale is None:
        optimizer.apply_gradients(zip(gradients_, variables))
        return
    gradients_, finite = loss_scale.unscale(gradients_)
    # All NaN on a skipped step: the fused optimisers then leave every variable alone.
    gradients_ = [tf.where(finite, g, tf.fill(tf.shape(g), float("nan"))) for g in gradients_]
    optimizer.apply_gradients(zip(gradients_, variables))
    optimizer.iterations.assign_sub(1 - tf.cast(finite, optimizer.iterations.dtype))
    loss_scale.update(finite)


def accumulate(items, loss, variables, optimizer, loss_scale):
    """One update from one or several micro-batches (`accumulate_steps`): `loss(item)` gives
    (loss, logs, extra) under a tape; the mean of the gradients is applied, as one batch of them
    all would give, and the logs are averaged. Returns (logs, the extras). For the simultaneous
    update, `loss` gives a tuple of losses and `variables`, `optimizer`, `loss_scale` are tuples
    of as many."""
    several = isinstance(optimizer, tuple)
    variables, optimizer, loss_scale = ((variables, optimizer, loss_scale) if several
                                        else ((variables,), (optimizer,), (loss_scale,)))
    per_item, logs, extras = [], [], []
    for item in items:
        with tf.GradientTape(persistent=several) as tape:
            values, item_logs, extra = loss(item)
        values = values if several else (values,)
        per_item.append([gradients(tape, value, v, scale)
                         for value, v, scale in zip(values, variables, loss_scale)])
        del tape
        logs.append(item_logs)
        extras.append(extra)
    for i, (v, o, scale) in enumerate(zip(variables, optimizer, loss_scale)):
        apply(_mean_gradients([g[i] for g in per_item]), v, o, scale)
    return _mean_logs(logs), tuple(extras)


def _mean_gradients(per_micro_batch: list) -> list:
    """The mean of each variable's gradients over the micro-batches (one: as they are)."""
    total = per_micro_batch[0]
    for gradients_ in per_micro_batch[1:]:
        total = [a + g for a, g in zip(total, gradients_)]
    count = len(per_micro_batch)
    return total if count == 1 else [g / count for g in total]


def _mean_logs(logs: list) -> dict:
    """Per-micro-batch logs averaged (one micro-batch: as they are)."""
    if len(logs) == 1:
        return logs[0]
    return {name: tf.add_n([m[name] for m in logs]) / len(logs) for name in logs[0]}


def _group(batches, position: int) -> tuple:
    """An update's (position in the step, batch) pairs: one batch, or a list of micro-batches
    (a tuple is one conditional batch, (examples, labels))."""
    batches = batches if isinstance(batches, list) else [batches]
    return tuple(enumerate(batches, start=position))


def _rows(tensor):
    """A batch's size: static when known (a multi-worker strategy's batches may not say)."""
    return tensor.shape[0] if tensor.shape[0] is not None else tf.shape(tensor)[0]


def _size(count):
    """A batch size: a Python int, or an int32 tensor when only known at run time."""
    return count if isinstance(count, int) else tf.cast(count, tf.int32)


def _mean(total, count):
    """`total` / `count` for a count that may be a tensor (see `_size`)."""
    return total / (count if isinstance(count, int) else tf.cast(count, total.dtype))


def _parts(batch):
    """A batch as (examples, labels), labels None when unconditional."""
    return batch if isinstance(batch, tuple) else (batch, None)
