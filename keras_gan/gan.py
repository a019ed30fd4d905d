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
G's, D's, the average of G's (when kept), the step counter and a conditional G's class prior.

`fit` is the library's own loop rather than Keras's `train_step`: a step is two updates, with D
frozen by toggling `trainable` for G's, which must happen outside `strategy.run`
(MirroredStrategy traces replicas in parallel threads), and many steps are fused into one
`tf.function` call with the noise drawn from the step's index, so a resumed run continues exactly;
callbacks still see every step (docs/api.md).
"""
from __future__ import annotations

import dataclasses
import os
from typing import Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf

from keras_gan import inputs, models
from keras_gan.errors import KerasGanError
from keras_gan.fit_data import FitData, check_labels
from keras_gan.options import TrainingOptions
from keras_gan.step import EvaluationStep, TrainingState, TrainStep, check_finite


@keras.saving.register_keras_serializable(package="keras_gan")
class GAN(keras.Model):
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
        self.noise, self._range = noise, (low, high)
        self.z_dim = int(generator.inputs[0].shape[-1])
        self.num_classes = _class_count(generator, num_classes)
        self.step = self.add_weight(shape=(), dtype="int64", initializer="zeros",
                                    trainable=False, name="step",
                                    aggregation="only_first_replica")
        self._class_prior = (self.add_weight(
            shape=(self.num_classes,), initializer=keras.initializers.Constant(
                1.0 / self.num_classes), trainable=False, name="class_prior")
            if self.num_classes else None)
        self.options: TrainingOptions | None = None
        self.g_optimizer = self.d_optimizer = None
        self.generator_ema = None
        self.g_loss_scale = self.d_loss_scale = None
        self.augment_probability = None
        self._steps = {}
        self._checkpoint = None
        self.built = True  # G and D come built; Keras's save_weights() asks

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

    def call(self, inputs, training=False):
        """G: z (or [z, labels]) to examples."""
        return self.generator(inputs, training=training)

    # ----- Keras's serialisation -----------------------------------------------------------

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "value_range": list(self.value_range), "noise": self.noise,
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
        self.compile(keras.saving.deserialize_keras_object(config["g_optimizer"]),
                     keras.saving.deserialize_keras_object(config["d_optimizer"]),
                     **TrainingOptions.from_config(config["options"]).__dict__)

    # ----- compile ---------------------------------------------------------------------------

    def compile(self, g_optimizer: keras.Optimizer | None = None,
                d_optimizer: keras.Optimizer | None = None, **options) -> "GAN":
        """Chooses how training runs; returns the model, so calls chain.

        g_optimizer, d_optimizer: default Adam(2e-4, beta_1=0.5) each (DCGAN's), with
            TensorFlow's fused update kernel (`keras_gan.optimizers.FusedAdam`).
        options: the fields of `keras_gan.options.TrainingOptions` (objective, penalty, EMA of
            G, label smoothing, D steps, order, top-k, loss scale, steps_per_execution, ...),
            each documented there and in docs/api.md.
        """
        from keras_gan.optimizers import FusedAdam, OptimizerPair

        known = {field.name for field in dataclasses.fields(TrainingOptions)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise KerasGanError(f"compile: unknown option(s) {', '.join(unknown)}; expected "
                                f"keras_gan.options.TrainingOptions fields: "
                                f"{', '.join(sorted(known))}")
        options = TrainingOptions(**options)
        for name, optimizer in (("g_optimizer", g_optimizer), ("d_optimizer", d_optimizer)):
            if optimizer is not None and not isinstance(optimizer, keras.Optimizer):
                raise KerasGanError(f"{name}: expected a keras.Optimizer, not "
                                    f"{type(optimizer).__name__}")
        if g_optimizer is not None and g_optimizer is d_optimizer:
            raise KerasGanError("g_optimizer and d_optimizer: expected two optimisers, one for "
                                "each model, not the same one twice")
        float16 = keras.mixed_precision.global_policy().compute_dtype == "float16"
        loss_scaled = float16 and options.loss_scale > 0
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
            if options.g_ema_decay and self.generator_ema is None:
                from keras_gan.ema import average_copy

                self.generator_ema = average_copy(self.generator)
            elif not options.g_ema_decay:
                self.generator_ema = None
            if loss_scaled and self.g_loss_scale is None:
                from keras_gan.loss_scale import DynamicLossScale

                self.g_loss_scale, self.d_loss_scale = (
                    DynamicLossScale.create(self, net, options.loss_scale,
                                            options.loss_scale_growth_interval)
                    for net in ("g_loss_scale", "d_loss_scale"))
        if not loss_scaled:
            self.g_loss_scale = self.d_loss_scale = None
        if options.adaptive_augmentation:
            from keras_gan.augment import AdaptiveProbability

            if self.augment_probability is None:
                with self.distribute_strategy.scope():
                    self.augment_probability = AdaptiveProbability.create(
                        self, options.ada_target, options.ada_interval, options.ada_speed_images)
            else:  # a recompile keeps p and takes the new settings
                probability = self.augment_probability
                probability.target, probability.interval = options.ada_target, options.ada_interval
                probability.speed_images = options.ada_speed_images
        for optimizer in (g_optimizer, d_optimizer):
            if loss_scaled and not hasattr(optimizer, "_fused_step"):
                raise KerasGanError("loss_scale: dynamic loss scaling (mixed_float16) needs the "
                                    "fused optimisers (keras_gan.optimizers.FusedAdam, "
                                    "FusedMomentumSGD); or loss_scale=0")
            optimizer.skip_non_finite = loss_scaled
        self.options = options
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.optimizer = OptimizerPair(g_optimizer, d_optimizer, self.step)
        self._steps, self._checkpoint = {}, None
        self.compiled = True
        return self

    @property
    def state(self) -> TrainingState:
        """What a training step reads and updates."""
        self._require_compiled("state")
        return TrainingState(self.generator, self.discriminator, self.g_optimizer,
                             self.d_optimizer, self.step, self.generator_ema,
                             self.g_loss_scale, self.d_loss_scale, self.augment_probability)

    @property
    def metric_names(self) -> Tuple[str, ...]:
        """What every step logs: d_loss, g_loss, the objective's values, the penalty's, ADA's."""
        self._require_compiled("metric_names")
        return TrainStep.names_for(self.options)

    def train_step_for(self, global_batch_size: int, steps_per_epoch: int = 1) -> TrainStep:
        """The fused step for global batches of this size (built once per size: the traced
        step depends on it)."""
        key = (global_batch_size, steps_per_epoch)
        if key not in self._steps:
            self._steps[key] = TrainStep(self.state, self.options, self.distribute_strategy,
                                         global_batch_size, steps_per_epoch)
        return self._steps[key]

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
        if not isinstance(epochs, int) or epochs < 1:
            raise KerasGanError(f"epochs={epochs}: expected a positive integer")
        if not isinstance(validation_freq, int) or validation_freq < 1:
            raise KerasGanError(f"validation_freq={validation_freq}: expected a positive integer")
        x, y, validation_data = _split_validation(x, y, validation_split, validation_data)
        data = self._data(x, y, batch_size, seed)
        validation = (None if validation_data is None else
                      self._validation(validation_data, validation_batch_size or batch_size, seed))
        per_step = self.options.elements_per_step
        per_epoch = steps_per_epoch or (data.batches_per_epoch // per_step
                                        if data.batches_per_epoch else None)
        if not per_epoch or per_epoch < 1:
            raise KerasGanError(
                f"steps_per_epoch={steps_per_epoch}: expected a positive integer (the dataset's "
                f"length is {'unknown' if data.batches_per_epoch is None else 'too short'}: "
                f"{data.batches_per_epoch} batches for d_steps={self.options.d_steps} x "
                f"accumulate_steps={self.options.accumulate_steps})")
        train_step = self.train_step_for(data.global_batch_size, per_epoch)
        callbacks = sorted(callbacks or [], key=_restores_state)
        callback_list = _RestorersFirstCallbackList(
            callbacks, add_history=True, add_progbar=verbose != 0, model=self,
            verbose=1 if verbose == "auto" else verbose, epochs=epochs, steps=per_epoch)
        self.stop_training = False
        callback_list.on_train_begin()
        step = int(self.step.numpy())  # after the callbacks that restore it
        total = epochs * per_epoch if max_steps is None else min(epochs * per_epoch, max_steps)
        iterator = iter(self._distribute(data, seed, step * per_step))
        boundaries = [every for every in map(_boundary, callbacks) if every]
        logs, sums, count = {}, {}, 0
        names = train_step.metric_names
        while step < total and not self.stop_training:
            epoch, position = divmod(step, per_epoch)
            if position == 0 or not logs:
                callback_list.on_epoch_begin(epoch)
                sums, count = dict.fromkeys(names, 0.0), 0
            n = min(self.options.steps_per_execution, total - step, per_epoch - position,
                    *(every - step % every for every in boundaries))
            history = train_step(iterator, n)
            check_finite(history, step, names)
            for i in range(n):
                logs = {name: float(history[name][i]) for name in names}
                callback_list.on_train_batch_end(position + i, logs)
            for name in names:
                sums[name] += float(np.sum(history[name]))
            step, count = step + n, count + n
            if step % per_epoch == 0:
                epoch_logs = {name: sums[name] / count for name in sums}
                if validation is not None and (epoch + 1) % validation_freq == 0:
                    callback_list.on_test_begin()
                    values = self._evaluate(validation, validation_steps, seed)
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
        return EvaluationStep.names_for(self.options)

    def _evaluate(self, data: FitData, steps: int | None, seed: int, callback_list=None) -> dict:
        key = ("evaluation", data.global_batch_size)
        if key not in self._steps:
            self._steps[key] = EvaluationStep(self.state, self.options, self.distribute_strategy,
                                              data.global_batch_size)
        evaluation = self._steps[key]
        spec = self._stream_spec(data, seed)
        dataset = self.distribute_strategy.distribute_datasets_from_function(
            lambda context: inputs.training_elements(
                data.one_pass().take(-1 if steps is None else steps), spec, 0, context,
                data.prepare))
        totals, batches = evaluation.run(dataset, callback_list)
        if not batches:
            raise KerasGanError("x: no full batch to evaluate (fewer examples than batch_size)")
        return {name: totals[name] / (batches * data.global_batch_size) for name in totals}

    # ----- data ------------------------------------------------------------------------------

    def _data(self, x, y, batch_size, seed, argument: str = "x", training: bool = True
              ) -> FitData:
        data = FitData.of(x, y, batch_size, seed, tuple(self.discriminator.inputs[0].shape[1:]),
                          self.num_classes, argument)
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

    def _stream_spec(self, data: FitData, seed: int) -> inputs.StreamSpec:
        return inputs.StreamSpec(data.global_batch_size, self.z_dim, self.noise,
                                 self.value_range, self.options.real_label, seed,
                                 self.conditional,
                                 augment=self.options.make_augmentation() is not None)

    def _distribute(self, data: FitData, seed: int, start_index: int):
        """The distributed training elements from element `start_index` on."""
        spec = self._stream_spec(data, seed)
        return self.distribute_strategy.distribute_datasets_from_function(
            lambda context: inputs.training_elements(data.batches(start_index), spec, start_index,
                                                     context, data.prepare))

    def training_elements(self, x, y=None, batch_size: int | None = None, seed: int = 0
                          ) -> Tuple[TrainStep, object]:
        """The step `fit` would train `x` with and an iterator over the distributed elements it
        would feed it from the current step on (benchmarks, profiling)."""
        self._require_compiled("training_elements")
        data = self._data(x, y, batch_size, seed)
        per_step = self.options.elements_per_step
        train_step = self.train_step_for(data.global_batch_size,
                                         max(1, (data.batches_per_epoch or 1) // per_step))
        start = int(self.step.numpy()) * per_step
        return train_step, iter(self._distribute(data, seed, start))

    def _require_compiled(self, what: str) -> None:
        if self.options is None:
            raise KerasGanError(f"GAN.{what}: call compile() first (compile() with no arguments "
                                f"takes the paper's objective and DCGAN's Adam settings)")

    # ----- checkpoints of a run directory ----------------------------------------------------

    # Entries a checkpoint may lack (written before the feature existed, or with it off); they
    # keep their fresh values, and the average of G starts at the restored G.
    _OPTIONAL = ("generator_ema", "g_loss_scale", "d_loss_scale", "augment_probability")

    def _checkpointed(self) -> dict:
        self._require_compiled("checkpoint")
        tracked = dict(generator=self.generator, discriminator=self.discriminator,
                       g_optimizer=self.g_optimizer, d_optimizer=self.d_optimizer,
                       step=self.step)
        if self.generator_ema is not None:
            tracked["generator_ema"] = self.generator_ema
        if self.g_loss_scale is not None:
            tracked["g_loss_scale"] = self.g_loss_scale.checkpointable()
            tracked["d_loss_scale"] = self.d_loss_scale.checkpointable()
        if self.augment_probability is not None:
            tracked["augment_probability"] = self.augment_probability.checkpointable()
        return tracked

    def checkpoint(self) -> tf.train.Checkpoint:
        """A `tf.train.Checkpoint` of everything training needs (the run directory's format)."""
        if self._checkpoint is None:
            self._checkpoint = tf.train.Checkpoint(**self._checkpointed())
        return self._checkpoint

    def restore_checkpoint(self, path: str) -> None:
        """Restores a `checkpoint()` written at `path`, also one without the optional entries."""
        tracked, checkpoint = self._checkpointed(), self.checkpoint()
        reader = tf.train.load_checkpoint(path)
        saved = _saved_entries(reader)
        present = {k: v for k, v in tracked.items() if k in saved or k not in self._OPTIONAL}
        if len(present) == len(tracked):
            checkpoint.restore(path).assert_existing_objects_matched()
            return
        tf.train.Checkpoint(**present).restore(path).assert_existing_objects_matched()
        checkpoint.save_counter.assign(
            reader.get_tensor("save_counter/.ATTRIBUTES/VARIABLE_VALUE"))
        self._average_from_g_unless("generator_ema" in saved)

    def _average_from_g_unless(self, restored: bool) -> None:
        """Starts G's average at G when a checkpoint had none to restore."""
        if self.generator_ema is not None and not restored:
            self.generator_ema.set_weights(self.generator.get_weights())

    # ----- starting from a trained GAN --------------------------------------------------------

    def initialize_from(self, source) -> None:
        """Starts G, D and G's average from a trained GAN's (fine-tuning): another `GAN`, a
        saved `.keras` file or a run directory (its newest checkpoint). The optimisers, the step
        and ADA's p stay fresh; a shape that does not fit fails naming both."""
        self._require_compiled("initialize_from")
        if isinstance(source, str) and os.path.isdir(source):
            self._initialize_from_run(source)
            return
        if isinstance(source, str):
            if not os.path.isfile(source):
                raise KerasGanError(f"init_from={source}: neither a run directory nor a saved "
                                    f".keras file")
            source = keras.saving.load_model(source)
        if not isinstance(source, GAN):
            raise KerasGanError(f"init_from: expected a GAN, a .keras file or a run directory, "
                                f"not {type(source).__name__}")
        pairs = [(self.generator, source.generator), (self.discriminator, source.discriminator)]
        if self.generator_ema is not None:
            pairs.append((self.generator_ema, source.sampling_generator))
        for mine, theirs in pairs:
            _copy_weights(theirs, mine)

    def _initialize_from_run(self, run_dir: str) -> None:
        """The run directory's newest checkpoint that restores into G, D (and G's average);
        one that does not fit is reported and an older one tried, as when resuming."""
        from keras_gan import run_directory

        directory = os.path.join(run_dir, "checkpoints")
        if run_directory.restore_newest(directory, self._restore_networks,
                                        flag=f"init_from={run_dir}") is None:
            raise KerasGanError(f"init_from={run_dir}: no checkpoint in {directory}")

    def _restore_networks(self, path: str) -> None:
        """G, D and G's average from the checkpoint at `path`, the rest of it left."""
        saved = _saved_entries(tf.train.load_checkpoint(path))
        parts = {"generator": self.generator, "discriminator": self.discriminator}
        if self.generator_ema is not None and "generator_ema" in saved:
            parts["generator_ema"] = self.generator_ema
        tf.train.Checkpoint(**parts).restore(path).expect_partial()
        self._average_from_g_unless("generator_ema" in saved)

    # ----- using the trained G ---------------------------------------------------------------

    @property
    def sampling_generator(self) -> keras.Model:
        """The G that samples, grids and exports use: the average of G's weights when kept."""
        return self.generator_ema if self.generator_ema is not None else self.generator

    def sample(self, count: int, labels=None, seed: int | None = None,
               batch_size: int = 1000) -> np.ndarray:
        """`count` examples from G (its weight average when kept) as a NumPy array. A
        conditional G draws `labels` (one class for all, or one per example; default: classes
        drawn from `class_prior`)."""
        if count < 1:
            raise KerasGanError(f"count={count}: expected a positive integer")
        rng = np.random.default_rng(seed)
        z_seed = tf.constant(rng.integers(0, 2 ** 31, size=2), tf.int64)
        z = inputs.sample_noise([count, self.z_dim], self.noise, z_seed).numpy()
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

    def export(self, filepath: str, generator: keras.Model | None = None) -> None:
        """Writes G (its weight average when kept, or `generator`, e.g. a refined G) as a
        SavedModel that serves with TensorFlow alone: endpoints serving_default(z[, label]),
        sample(num, seed[, label]) and info() (docs/serving.md)."""
        from keras_gan.export import export_generator

        export_generator(generator or self.sampling_generator, filepath, self.noise,
                         self.value_range, self.class_prior if self.conditional else None)


def _saved_entries(reader) -> set:
    """The top-level names a checkpoint holds (generator, generator_ema, ...)."""
    return {name.split("/")[0] for name in reader.get_variable_to_shape_map()}


def _copy_weights(source: keras.Model, target: keras.Model) -> None:
    """`source`'s weights into `target`, which must have the same shapes."""
    theirs, mine = source.get_weights(), target.weights
    shapes = [tuple(w.shape) for w in theirs], [tuple(w.shape) for w in mine]
    if shapes[0] != shapes[1]:
        first = next((i for i, (a, b) in enumerate(zip(*shapes)) if a != b),
                     min(len(shapes[0]), len(shapes[1])))
        shown = [s[first] if first < len(s) else "none" for s in shapes]
        raise KerasGanError(f"init_from: {source.name}'s weights do not fit {target.name}: "
                            f"{len(theirs)} weights against {len(mine)}, weight {first} "
                            f"({mine[first].path if first < len(mine) else '-'}) of shape "
                            f"{shown[0]} against {shown[1]}")
    target.set_weights(theirs)


def _restores_state(callback) -> bool:
    """Callbacks whose `on_train_begin` may restore the model and that save its state."""
    return (isinstance(callback, keras.callbacks.BackupAndRestore)
            or getattr(callback, "restores_state", False))


class _RestorersFirstCallbackList(keras.callbacks.CallbackList):
    """Callbacks that restore state begin first, so the others see the restored step; on every
    other hook they come last (`fit` puts them there), so the checkpoint of step N is written after
    N's history row and grid: a kill between the two never loses a row on resume."""

    def on_train_begin(self, logs=None):
        ordered = self.callbacks
        self.callbacks = sorted(ordered, key=lambda c: not _restores_state(c))
        try:
            super().on_train_begin(logs)
        finally:
            self.callbacks = ordered


def _boundary(callback) -> int:
    """The step multiples a fused call must not cross for `callback` to see the models exactly at
    its step: keras_gan's `boundary`, or Keras's integer `save_freq` (0: none)."""
    every = getattr(callback, "boundary", 0)
    if not every and isinstance(getattr(callback, "save_freq", None), int):
        every = callback.save_freq
    return every if isinstance(every, int) and every > 0 else 0


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
