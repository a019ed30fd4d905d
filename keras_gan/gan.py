"""`keras_gan.GAN`: a G and a D as one Keras model that `fit` trains adversarially.

    gan = keras_gan.GAN(generator=g, discriminator=d)
    gan.compile(objective="hinge", g_ema_decay=0.999)
    gan.fit(dataset, epochs=5, callbacks=[keras_gan.callbacks.SampleGrid("samples/")])
    images = gan.sample(16)
    gan.save("gan.keras")  # keras.saving.load_model("gan.keras") continues exactly
    gan.export("generator/")

GAN keeps `keras.Model`'s contract: `save` / `load_model`, `save_weights`, `get_config`, every
Keras callback (the two optimisers are `g_optimizer` and `d_optimizer`, and `optimizer` hands
both to the learning-rate callbacks), `evaluate` and `fit(validation_data=...)`. Its weights are
G's, D's, the average of G's, the step counter, the loss scales, ADA's p and a conditional G's
class prior: all of them exist whatever `compile` was given, so any saved GAN loads into any
other of the same models.

`train_step(data)` is the one training step, as in Keras: a subclass overrides it, or the
public pieces it calls (`noise`, `generate`, `discriminator_loss`, `generator_loss`,
`gradient_penalty`), to change what `fit` trains (docs/customizing.md). Unlike Keras's, it runs
in cross-replica context, because D is frozen for G's update by toggling `trainable`, which
must happen outside `strategy.run` (MirroredStrategy traces replicas in threads); its updates
run each replica's work through `strategy.run`. `fit` fuses `steps_per_execution` steps into
one `tf.function` call, and callbacks still see every step.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import tempfile
import types
from typing import Callable, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf

from keras_gan import fit_data, inputs, models
from keras_gan.augment import AdaptiveProbability
from keras_gan.callbacks.step import RestorersFirst, restores_state, step_boundary
from keras_gan.ema import ExponentialMovingAverage, average_copy
from keras_gan.errors import KerasGanError, check_positive
from keras_gan.fit_data import FitData, check_labels
from keras_gan.loss_scale import DynamicLossScale
from keras_gan.options import TrainingOptions
from keras_gan.step import EvaluationStep, FusedSteps, unfrozen_variables
from keras_gan.training_step import TrainingStep


@keras.saving.register_keras_serializable(package="keras_gan")
class GAN(TrainingStep, keras.Model):
    """A generator G and a discriminator D trained against each other.

    generator: a built Keras model z -> x (or (z, label) -> x for a class-conditional G); the
        noise size is its input's.
    discriminator: a built Keras model x -> one logit per example ((x, label) -> logit when
        conditional); a last sigmoid or softmax is refused, since the objectives take logits.
    value_range: the range of G's outputs and of the training data; uint8 data is scaled to it
        and sample grids draw it.
    noise: the prior of z: `normal` N(0, 1) or `uniform` on [-sqrt 3, sqrt 3].
    num_classes: a conditional G's class count; by default read from its one-hot
        (CategoryEncoding) or Embedding layer.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *,
                 value_range: Tuple[float, float] = (-1.0, 1.0), noise: str = "normal",
                 num_classes: int | None = None, name: str = "gan", **kwargs):
        super().__init__(name=name, **kwargs)
        _check_pair(generator, discriminator)
        low, high = (float(v) for v in value_range)
        if not low < high:
            raise KerasGanError(f"value_range={tuple(value_range)}: expected (low, high) with "
                                f"low < high")
        if noise not in inputs.NOISE_PRIORS:
            raise KerasGanError(f"noise={noise}: expected one of {', '.join(inputs.NOISE_PRIORS)}")
        self.generator = models.called_as_built(generator)
        self.discriminator = models.called_as_built(discriminator)
        self.noise_prior, self._range = noise, (low, high)
        self.z_dim = int(generator.inputs[0].shape[-1])
        self.num_classes = _class_count(generator, num_classes)
        # Every variable exists from here on, whatever compile is given, so saved weights load
        # into any GAN of the same models; the order of the GAN's own ones is the file's.
        self.step = self._state_variable("step", "int64")
        self._class_prior = (self.add_weight(
            shape=(self.num_classes,), initializer=keras.initializers.Constant(
                1.0 / self.num_classes), trainable=False, name="class_prior")
            if self.num_classes else None)
        defaults = TrainingOptions()
        self.g_loss_scale, self.d_loss_scale = (
            DynamicLossScale.create(self, net, defaults.loss_scale,
                                    defaults.loss_scale_growth_interval)
            for net in ("g_loss_scale", "d_loss_scale"))
        self.augment_probability = AdaptiveProbability.create(
            self, defaults.ada_target, defaults.ada_interval, defaults.ada_speed_images)
        self._averaged = self._state_variable("generator_ema_active", "int64")
        self.generator_ema = average_copy(self.generator)
        # GD, z -> G -> D, which G's update trains through, outside Keras's tracking (no
        # attribute or property of the GAN returns it): tracked, it would be saved first and G
        # and D under its path. The variable lists are the optimisers' (set by compile).
        self._untracked = types.SimpleNamespace(
            combined=models.build_combined(self.generator, self.discriminator),
            g_variables=None, d_variables=None)
        self.options: TrainingOptions | None = None
        self.g_optimizer = self.d_optimizer = None
        self._fused = {}
        self.noise_seed, self._replica_functions = 0, {}
        self.built = True  # G and D come built; Keras's save_weights() asks

    def _state_variable(self, name: str, dtype: str):
        # Every replica computes the same update, so the first replica's value is everyone's.
        return self.add_weight(shape=(), dtype=dtype, initializer="zeros", trainable=False,
                               name=name, aggregation="only_first_replica")

    @property
    def value_range(self) -> Tuple[float, float]:
        return self._range

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    @property
    def class_prior(self) -> np.ndarray:
        """The shares of the classes a conditional G samples by default: the training labels'
        frequencies once `fit` has seen them (uniform before); empty when unconditional."""
        if self._class_prior is None:
            return np.zeros(0)
        return self._class_prior.numpy().astype(np.float64)

    @property
    def averaging(self) -> bool:
        """Whether `generator_ema` holds an average of G's weights (compiled with
        `g_ema_decay`, or loaded from a GAN that was); saved with the weights."""
        return bool(self._averaged.numpy())

    def call(self, inputs, training=False):
        """G: z (or [z, labels]) to examples."""
        return self.generator(inputs, training=training)

    def load_own_variables(self, store):
        """Also takes files written before the loss scales and ADA's p always existed: they hold
        the first of the GAN's own variables (the step, the class prior), and the rest keep
        their fresh values."""
        own = self._trainable_variables + self._non_trainable_variables
        if 0 < len(store.keys()) < len(own):
            for i in range(len(store.keys())):
                own[i].assign(store[f"{i}"])
            return
        super().load_own_variables(store)

    # ----- Keras's serialisation -----------------------------------------------------------

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "value_range": list(self.value_range), "noise": self.noise_prior,
                "num_classes": self.num_classes or None}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for name in ("generator", "discriminator"):
            config[name] = keras.saving.deserialize_keras_object(
                config[name], custom_objects=custom_objects)
        return cls(**config)

    def get_compile_config(self):
        if self.options is None:
            return None
        return {"g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
                "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
                "options": self.options.get_config()}

    def compile_from_config(self, config):
        import keras_gan.optimizers  # noqa: F401  (registers the fused optimisers to deserialise)

        self.compile(keras.saving.deserialize_keras_object(config["g_optimizer"]),
                     keras.saving.deserialize_keras_object(config["d_optimizer"]),
                     TrainingOptions.from_config(config["options"]))

    # ----- compile ---------------------------------------------------------------------------

    def compile(self, g_optimizer: keras.Optimizer | None = None,
                d_optimizer: keras.Optimizer | None = None,
                options: TrainingOptions | None = None, **keywords) -> "GAN":
        """Chooses how training runs; returns the model, so calls chain.

        g_optimizer, d_optimizer: default Adam(2e-4, beta_1=0.5) each (DCGAN's), with
            TensorFlow's fused update kernel (`keras_gan.optimizers.FusedAdam`).
        options, keywords: a `keras_gan.options.TrainingOptions`, or its fields as keywords
            (objective, penalty, EMA of G, label smoothing, D steps, order, top-k, loss scale,
            steps_per_execution, jit_compile, ...), each documented there and in docs/api.md.
        """
        from keras_gan.optimizers import FusedAdam, OptimizerPair

        options = _training_options(options, keywords)
        for name, optimizer in (("g_optimizer", g_optimizer), ("d_optimizer", d_optimizer)):
            if optimizer is not None and not isinstance(optimizer, keras.Optimizer):
                raise KerasGanError(f"{name}: expected a keras.Optimizer, not "
                                    f"{type(optimizer).__name__}")
        if g_optimizer is not None and g_optimizer is d_optimizer:
            raise KerasGanError("g_optimizer and d_optimizer: expected two optimisers, one for "
                                "each model, not the same one twice")
        from keras_gan.precision import warn_if_slow

        warn_if_slow(keras.mixed_precision.global_policy().name)
        float16 = keras.mixed_precision.global_policy().compute_dtype == "float16"
        self.loss_scaled = float16 and options.loss_scale > 0
        for optimizer in (g_optimizer, d_optimizer):
            if self.loss_scaled and optimizer is not None and not hasattr(optimizer,
                                                                          "_fused_step"):
                raise KerasGanError("loss_scale: dynamic loss scaling (mixed_float16) needs the "
                                    "fused optimisers (keras_gan.optimizers.FusedAdam, "
                                    "FusedMomentumSGD); or loss_scale=0")
        # Keras's own attributes (steps_per_execution, jit_compile, ...) agree with the options;
        # the optimiser pair is set below.
        super().compile(optimizer=None, steps_per_execution=options.steps_per_execution,
                        jit_compile=options.jit_compile)
        with self.distribute_strategy.scope():
            g_optimizer = g_optimizer or FusedAdam(2e-4, beta_1=0.5, name="g_adam")
            d_optimizer = d_optimizer or FusedAdam(2e-4, beta_1=0.5, name="d_adam")
            if g_optimizer.name == d_optimizer.name:  # Keras's callbacks log rates by name
                g_optimizer.name, d_optimizer.name = (f"g_{g_optimizer.name}",
                                                      f"d_{d_optimizer.name}")
            # Built eagerly: an optimiser first built inside a traced step creates its slots
            # there (keras-team/keras#23085), and a loaded model fills them.
            g_optimizer.build(self.generator.trainable_variables)
            d_optimizer.build(self.discriminator.trainable_variables)
        for optimizer in (g_optimizer, d_optimizer):
            optimizer.skip_non_finite = self.loss_scaled
        if int(self.step.numpy()) == 0:  # a fresh GAN starts its loss scales at the option's
            for scale in (self.g_loss_scale, self.d_loss_scale):
                scale.reset(options.loss_scale, options.loss_scale_growth_interval)
        for scale in (self.g_loss_scale, self.d_loss_scale):
            scale.growth_interval = options.loss_scale_growth_interval
        probability = self.augment_probability
        probability.target, probability.interval = options.ada_target, options.ada_interval
        probability.speed_images = options.ada_speed_images
        self.options = options
        self._top_k_decay = options.g_top_k_decay  # per step, for epochs of one step (fit's set)
        self.objective = options.make_objective()
        self.penalty = options.make_penalty()
        self.augmentation = options.make_augmentation()
        self.adaptive = self.augmentation is not None and self.augmentation.adaptive
        self._average = (ExponentialMovingAverage(self.generator, self.generator_ema,
                                                  options.g_ema_decay, options.g_ema_warmup)
                         if options.g_ema_decay else None)
        self._start_average()
        # Explicit variable lists, taken while both models are trainable: toggling `trainable`
        # later must not change what each optimiser updates. (Untracked: Keras would count them
        # as the GAN's own variables.)
        self._untracked.g_variables = list(self.generator.trainable_variables)
        self._untracked.d_variables = unfrozen_variables(self.discriminator,
                                                         options.freeze_d_layers)
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.optimizer = OptimizerPair(g_optimizer, d_optimizer, self.step)
        self._fused = {}
        return self

    def _start_average(self) -> None:
        """G's average starts at G when training with one begins and none was kept (a fresh
        GAN, or weights loaded from a GAN trained without it); without one it is not kept."""
        if self._average is None:
            self._averaged.assign(0)
        elif not self.averaging:
            self.restart_average()

    def restart_average(self) -> None:
        """Sets G's average to G's weights (when one is kept): where a restored state had no
        average to start from."""
        if self._average is not None:
            self._average.copy_from_model()
            self._averaged.assign(1)

    @property
    def metric_names(self) -> Tuple[str, ...]:
        """What the built-in step logs: d_loss, g_loss, the objective's values, the penalty's,
        and with adaptive augmentation r_t (`d_real_sign`) and p (`augment_p`)."""
        self._require_compiled("metric_names")
        names = self.objective.metric_names + (("penalty",) if self.penalty else ())
        return names + (("d_real_sign", "augment_p") if self.adaptive else ())

    def fused_steps(self, global_batch_size: int, steps_per_epoch: int = 1,
                    seed: int = 0) -> FusedSteps:
        """The `tf.function` that runs `train_step` up to `steps_per_execution` times per call,
        for global batches of this size (built once per size, epoch length and seed: the traced
        step depends on them)."""
        self._require_compiled("fused_steps")
        key = (global_batch_size, steps_per_epoch, seed)
        if key not in self._fused:
            self._fused[key] = FusedSteps(self, global_batch_size, steps_per_epoch, seed)
        return self._fused[key]

    # ----- fit -------------------------------------------------------------------------------

    def fit(self, x=None, y=None, batch_size: int | None = None, epochs: int = 1,
            verbose="auto", callbacks: Sequence[keras.callbacks.Callback] | None = None,
            validation_split: float = 0.0, validation_data=None, shuffle: bool = True,
            class_weight=None, sample_weight=None, initial_epoch: int = 0,
            steps_per_epoch: int | None = None, validation_steps: int | None = None,
            validation_batch_size: int | None = None, validation_freq: int = 1, *,
            seed: int = 0, max_steps: int | None = None) -> keras.callbacks.History:
        """Trains G and D on `x`; returns a `keras.callbacks.History` of per-epoch means.

        x: a batched `tf.data.Dataset` of examples or of (examples, labels), each batch the
            global batch (smaller batches, such as a last partial one, are skipped); NumPy
            examples with `y` labels (for a conditional G) and `batch_size` (default 32); or a
            `keras_gan.data.LabelledImages`. uint8 examples are scaled to `value_range`.
        epochs: train until this many epochs are done in all (the step counter, restored by
            checkpoints, says how many are); `initial_epoch` is therefore not taken.
        steps_per_epoch: G steps per epoch; by default the dataset's batches / `d_steps`
            (required for a dataset of unknown or infinite length).
        validation_data, validation_split, validation_steps, validation_batch_size,
            validation_freq: as Keras's; every `validation_freq` epochs `evaluate`'s values on
            them are logged as `val_*` (D's output on held-out reals against training reals
            is the usual sign of D overfitting). `validation_split` takes the last fraction of
            NumPy `x`.
        seed: the noise (and for NumPy data the shuffling) is a function of it and the step.
        max_steps: stop after this many steps in all, even within an epoch.
        callbacks: any `keras.callbacks.Callback`; each step logs d_loss, g_loss and what the
            objective adds. Callbacks that restore state (Keras's `BackupAndRestore`,
            `keras_gan.callbacks.RunCheckpoint`) run their `on_train_begin` first, and
            training continues from the step they restore; on every other hook they run
            last, so a checkpoint is written after the other callbacks' outputs for its step.
        """
        self._require_compiled("fit")
        _refuse_unsupported(class_weight=class_weight, sample_weight=sample_weight,
                            shuffle=shuffle, initial_epoch=initial_epoch)
        check_positive(epochs=epochs, validation_freq=validation_freq)
        x, y, validation_data = _split_validation(x, y, validation_split, validation_data)
        data = self._data(x, y, batch_size, seed)
        validation = (None if validation_data is None else
                      self._validation(validation_data, validation_batch_size or batch_size, seed))
        per_epoch = self._steps_per_epoch(data, steps_per_epoch)
        fused = self.fused_steps(data.global_batch_size, per_epoch, seed)
        callbacks = sorted(callbacks or [], key=restores_state)
        callback_list = RestorersFirst(
            callbacks, add_history=True, add_progbar=verbose != 0, model=self,
            verbose=1 if verbose == "auto" else verbose, epochs=epochs, steps=per_epoch)
        self.stop_training = False
        callback_list.on_train_begin()
        step, iterator = self._from_current_step(data)  # after the callbacks that restore it
        total = epochs * per_epoch if max_steps is None else min(epochs * per_epoch, max_steps)
        boundaries = [every for every in map(step_boundary, callbacks) if every]
        logs, sums, count = {}, {}, 0
        while step < total and not self.stop_training:
            epoch, position = divmod(step, per_epoch)
            if position == 0 or not logs:
                callback_list.on_epoch_begin(epoch)
                sums, count = {}, 0
            n = min(self.options.steps_per_execution, total - step, per_epoch - position,
                    *(every - step % every for every in boundaries))
            callback_list.on_train_batch_begin(position)
            history = fused(iterator, n)
            for i in range(n):
                if i:  # each step's hooks in turn, as Keras calls them
                    callback_list.on_train_batch_begin(position + i)
                logs = {name: float(values[i]) for name, values in history.items()}
                callback_list.on_train_batch_end(position + i, logs)
            for name, values in history.items():
                sums[name] = sums.get(name, 0.0) + float(np.sum(values))
            step, count = step + n, count + n
            if step % per_epoch == 0:
                epoch_logs = {name: sums[name] / count for name in sums}
                if validation is not None and (epoch + 1) % validation_freq == 0:
                    callback_list.on_test_begin()
                    values = self._evaluate(validation, validation_steps, seed, callback_list)
                    callback_list.on_test_end(values)
                    epoch_logs.update({f"val_{k}": v for k, v in values.items()})
                callback_list.on_epoch_end(epoch, epoch_logs)
        callback_list.on_train_end(logs)
        return self.history

    # ----- evaluate --------------------------------------------------------------------------

    def evaluate(self, x=None, y=None, batch_size: int | None = None, verbose="auto",
                 sample_weight=None, steps: int | None = None, callbacks=None,
                 return_dict: bool = False, *, seed: int = 0):
        """D's and G's losses and D's mean outputs on `x` (real data, as `fit` takes it) and as
        many fresh fakes (noise from `seed`), every model in inference mode and nothing
        updated; `steps` batches at most (default: one pass). Returns the values in
        `evaluation_names` order, or a dict with `return_dict`."""
        self._require_compiled("evaluate")
        _refuse_unsupported(sample_weight=sample_weight)
        data = self._data(x, y, batch_size, seed, argument="x", training=False)
        callback_list = keras.callbacks.CallbackList(
            callbacks, add_progbar=verbose != 0, model=self,
            verbose=1 if verbose == "auto" else verbose, epochs=1, steps=steps)
        callback_list.on_test_begin()
        values = self._evaluate(data, steps, seed, callback_list)
        callback_list.on_test_end(values)
        return values if return_dict else [values[name] for name in self.evaluation_names]

    @property
    def evaluation_names(self) -> Tuple[str, ...]:
        """What `evaluate` returns: d_loss, g_loss and D's outputs (as the objective logs them)."""
        self._require_compiled("evaluation_names")
        return ("d_loss", "g_loss", *self.objective.summary_names)

    def _evaluate(self, data: FitData, steps: int | None, seed: int, callback_list=None) -> dict:
        key = ("evaluation", data.global_batch_size, seed)
        if key not in self._fused:
            self._fused[key] = EvaluationStep(self, seed)
        count = -1 if steps is None else steps
        dataset = self._distribute(data, lambda: data.one_pass().take(count))
        totals, batches = self._fused[key].run(dataset, callback_list)
        if not batches:
            raise KerasGanError("x: no full batch to evaluate (fewer examples than batch_size)")
        return {name: totals[name] / (batches * data.global_batch_size) for name in totals}

    # ----- Keras's single-batch methods -------------------------------------------------------

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict: bool = False):
        """One training step on the examples `x` (and labels `y`), as `fit` runs it; the
        step's logs (a list in `metric_names` order, or a dict)."""
        self._require_compiled("train_on_batch")
        _refuse_unsupported(class_weight=class_weight, sample_weight=sample_weight)
        data = self._data(x, y, None if isinstance(x, tf.data.Dataset) else len(x), 0)
        _, iterator = self._from_current_step(data)
        history = self.fused_steps(data.global_batch_size)(iterator, 1)
        logs = {name: float(values[0]) for name, values in history.items()}
        return logs if return_dict else list(logs.values())

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict: bool = False):
        """`evaluate` on the one batch `x` (and labels `y`)."""
        return self.evaluate(x, y, batch_size=None if isinstance(x, tf.data.Dataset) else len(x),
                             verbose=0, sample_weight=sample_weight, return_dict=return_dict)

    # ----- data ------------------------------------------------------------------------------

    def _data(self, x, y, batch_size, seed, argument: str = "x", training: bool = True
              ) -> FitData:
        data = FitData.of(x, y, batch_size, seed, tuple(self.discriminator.inputs[0].shape[1:]),
                          self.num_classes, argument, self.value_range)
        if training and data.class_frequencies is not None:
            self._class_prior.assign(data.class_frequencies.astype(np.float32))
        return data

    def _validation(self, validation_data, batch_size, seed) -> FitData:
        if isinstance(validation_data, tuple):
            if len(validation_data) not in (1, 2):
                raise KerasGanError(f"validation_data: a tuple of {len(validation_data)} parts; "
                                    f"expected (x,) or (x, y)")
            x, y = validation_data[0], validation_data[1] if len(validation_data) == 2 else None
        else:
            x, y = validation_data, None
        if isinstance(x, tf.data.Dataset):
            batch_size = None
        return self._data(x, y, batch_size, seed, argument="validation_data", training=False)

    def _from_current_step(self, data: FitData):
        """The GAN's step and an iterator over the distributed batches from there on, G's
        average started first when one is to be kept (weights may have just been loaded)."""
        self._start_average()
        step = int(self.step.numpy())
        start = step * self.options.elements_per_step
        return step, iter(self._distribute(data, lambda: data.batches(start)))

    def _distribute(self, data: FitData, batches: Callable[[], tf.data.Dataset]):
        """The distributed elements of the global batches `batches()` makes, as `train_step`
        and the evaluation step take them."""
        spec = inputs.StreamSpec(data.global_batch_size, self.value_range, self.conditional)
        return self.distribute_strategy.distribute_datasets_from_function(
            lambda context: inputs.training_elements(batches(), spec, context, data.prepare))

    def _steps_per_epoch(self, data: FitData, steps_per_epoch: int | None = None) -> int:
        """G steps per epoch of `data` (`steps_per_epoch` when given, checked)."""
        return fit_data.steps_per_epoch(data.batches_per_epoch, data.global_batch_size,
                                        self.options.d_steps, self.options.accumulate_steps,
                                        steps_per_epoch)

    def training_elements(self, x, y=None, batch_size: int | None = None, seed: int = 0
                          ) -> Tuple[FusedSteps, object]:
        """The fused steps `fit` would train `x` with and an iterator over the distributed
        batches it would feed them from the current step on (benchmarks, profiling)."""
        self._require_compiled("training_elements")
        data = self._data(x, y, batch_size, seed)
        fused = self.fused_steps(data.global_batch_size, self._steps_per_epoch(data), seed)
        return fused, self._from_current_step(data)[1]

    def _require_compiled(self, what: str) -> None:
        if self.options is None:
            raise KerasGanError(f"GAN.{what}: call compile() first (compile() with no arguments "
                                f"takes the paper's objective and DCGAN's Adam settings)")

    # ----- using the trained G ---------------------------------------------------------------

    @property
    def sampling_generator(self) -> keras.Model:
        """The G that samples, grids and exports use: the average of G's weights when kept."""
        return self.generator_ema if self.averaging else self.generator

    def sample(self, count: int, labels=None, seed: int | None = None,
               batch_size: int = 1000) -> np.ndarray:
        """`count` examples from G (its weight average when kept) as a NumPy array. A
        conditional G draws `labels` (one class for all, or one per example; default: classes
        drawn from `class_prior`)."""
        if count < 1:
            raise KerasGanError(f"count={count}: expected a positive integer")
        rng = np.random.default_rng(seed)
        z_seed = tf.constant(rng.integers(0, 2 ** 31, size=2), tf.int64)
        z = inputs.sample_noise([count, self.z_dim], self.noise_prior, z_seed).numpy()
        if self.conditional:
            prior = self.class_prior
            labels = (rng.choice(self.num_classes, count, p=prior / prior.sum())
                      if labels is None else np.broadcast_to(np.asarray(labels), (count,)))
            check_labels(labels, self.num_classes, "labels")
            labels = labels.astype(np.int32)
        elif labels is not None:
            raise KerasGanError("labels: this GAN's G is not conditional; expected none")
        generator = self.sampling_generator
        parts = [generator(z[i:i + batch_size] if labels is None
                           else [z[i:i + batch_size], labels[i:i + batch_size]], training=False)
                 for i in range(0, count, batch_size)]
        return np.concatenate([np.asarray(part, np.float32) for part in parts])

    def export(self, filepath: str, generator: keras.Model | None = None,
               format: str = "saved_model", quantize: str | None = None) -> None:
        """Writes G (its weight average when kept, or `generator`, e.g. a refined G).

        format: `saved_model`, a directory that serves with TensorFlow alone: endpoints
            serving_default(z[, label]), sample(num, seed[, label]) and info(); `tflite`
            (LiteRT) or `onnx`, a file holding serving_default, with a sidecar
            `NAME.info.json` for info() (docs/serving.md).
        quantize: for tflite and onnx: `float16`, `dynamic_int8` (int8 weights) or `int8`
            (full integer, calibrated on z from the prior); default none.
        """
        from keras_gan import portable
        from keras_gan.export import export_generator

        quantize = portable.check(format, quantize)
        write = functools.partial(export_generator, noise=self.noise_prior,
                                  value_range=self.value_range,
                                  class_prior=self.class_prior if self.conditional else None)
        if format == "saved_model":
            write(generator or self.sampling_generator, path=filepath)
            return
        with tempfile.TemporaryDirectory() as scratch:
            write(portable.float32_copy(generator or self.sampling_generator),
                  path=os.path.join(scratch, "generator"))
            portable.convert(os.path.join(scratch, "generator"), filepath, format, quantize)


def _training_options(options, keywords) -> TrainingOptions:
    """compile's options: a `TrainingOptions`, or its fields as keywords (not both)."""
    if options is not None:
        if not isinstance(options, TrainingOptions):
            raise KerasGanError(f"compile: options is a {type(options).__name__}; expected a "
                                f"keras_gan.options.TrainingOptions (or its fields as keywords)")
        if keywords:
            raise KerasGanError(f"compile: options and keywords ({', '.join(sorted(keywords))})"
                                f"; expected one of them")
        return options
    known = {field.name for field in dataclasses.fields(TrainingOptions)}
    unknown = sorted(set(keywords) - known)
    if unknown:
        raise KerasGanError(f"compile: unknown option(s) {', '.join(unknown)}; expected "
                            f"keras_gan.options.TrainingOptions fields: "
                            f"{', '.join(sorted(known))}")
    return TrainingOptions(**keywords)


def _refuse_unsupported(**arguments) -> None:
    """Keras arguments with no meaning for a GAN: one clear error each."""
    reasons = {"class_weight": "a GAN weighs every example equally (class_weight=None)",
               "sample_weight": "a GAN weighs every example equally (sample_weight=None)",
               "shuffle": "NumPy data is reshuffled every epoch by (seed, epoch) so a resumed "
                          "run sees the same batches; a tf.data.Dataset is taken as it is "
                          "(shuffle=True)",
               "initial_epoch": "the epoch comes from the GAN's step counter, which "
                                "checkpoints restore (initial_epoch=0)"}
    defaults = {"class_weight": None, "sample_weight": None, "shuffle": True, "initial_epoch": 0}
    for name, value in arguments.items():
        if value is not defaults[name] and value != defaults[name]:
            raise KerasGanError(f"{name}={value!r}: not supported: {reasons[name]}")


def _split_validation(x, y, fraction, validation_data):
    """Keras's `validation_split`: the last `fraction` of NumPy `x` (and `y`) held out."""
    if not fraction:
        return x, y, validation_data
    if validation_data is not None:
        raise KerasGanError("validation_split, validation_data: expected one of them")
    if not 0.0 < fraction < 1.0 or isinstance(x, tf.data.Dataset) or x is None:
        raise KerasGanError(f"validation_split={fraction}: expected a fraction in (0, 1) of NumPy "
                            f"x (a dataset: pass validation_data)")
    x = np.asarray(x)
    cut = int(len(x) * (1.0 - fraction))
    held_out = (x[cut:],) if y is None else (x[cut:], np.asarray(y)[cut:])
    return x[:cut], None if y is None else np.asarray(y)[:cut], held_out


def _check_pair(generator, discriminator) -> None:
    """G and D must be built Keras models whose shapes fit together, D giving one logit each."""
    for name, model in (("generator", generator), ("discriminator", discriminator)):
        if not isinstance(model, keras.Model):
            raise KerasGanError(f"{name}: expected a keras.Model, not {type(model).__name__}")
        try:
            model.inputs
        except (AttributeError, ValueError):
            raise KerasGanError(f"{name}: expected a model with known inputs (a functional or "
                                f"Sequential model that starts with keras.Input)") from None
        if not model.inputs:
            raise KerasGanError(f"{name}: expected a model with known inputs (a functional or "
                                f"Sequential model that starts with keras.Input)")
    g_conditional, d_conditional = (models.is_conditional(m) for m in (generator, discriminator))
    if g_conditional != d_conditional:
        raise KerasGanError(f"generator, discriminator: expected both conditional (two inputs: "
                            f"data and label) or neither; G takes {len(generator.inputs)} "
                            f"inputs, D {len(discriminator.inputs)}")
    g_shape = tuple(generator.outputs[0].shape[1:])
    d_shape = tuple(discriminator.inputs[0].shape[1:])
    if g_shape != d_shape:
        raise KerasGanError(f"generator, discriminator: G's output shape {g_shape} is not D's "
                            f"input shape {d_shape}")
    logits = tuple(discriminator.outputs[0].shape[1:])
    if len(discriminator.outputs) != 1 or logits not in ((), (1,)):
        raise KerasGanError(f"discriminator: expected one logit per example (output shape "
                            f"(batch, 1)), not {len(discriminator.outputs)} output(s) of shape "
                            f"{tuple(discriminator.outputs[0].shape)}")
    squashing = models.final_activation(discriminator)
    if squashing:
        raise KerasGanError(f"discriminator: its output goes through {squashing}; expected a "
                            f"logit (D must return raw scores: drop the final activation, the "
                            f"objective applies the sigmoid itself)")


def _class_count(generator: keras.Model, num_classes: int | None) -> int:
    if not models.is_conditional(generator):
        if num_classes:
            raise KerasGanError(f"num_classes={num_classes}: G takes no labels (one input)")
        return 0
    if num_classes is None:
        num_classes = models.num_classes(generator)
    if not num_classes or num_classes < 2:
        raise KerasGanError("num_classes: a conditional G whose class count cannot be read from "
                            "a CategoryEncoding or Embedding layer; expected num_classes=N >= 2")
    return int(num_classes)
