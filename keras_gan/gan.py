"""`keras_gan.GAN`: a G and a D as one Keras model that `fit` trains adversarially.

    gan = keras_gan.GAN(generator=g, discriminator=d)
    gan.compile(objective="hinge", g_ema_decay=0.999)
    gan.fit(dataset, epochs=5, callbacks=[keras_gan.callbacks.SampleGrid("samples/")])
    images = gan.sample(16)
    gan.export("generator/")

GAN subclasses `keras.Model` so that it is one: Keras callbacks get it as `self.model` (and stop
training, save or restore weights through it), `summary()`, `save_weights` and `strategy.scope()`
work as usual, and `gan(z)` is G. Its `fit` is the library's own loop rather than Keras's
`train_step`: a step is two updates, with D frozen by toggling `trainable` for G's, which must
happen outside `strategy.run` (MirroredStrategy traces replicas in parallel threads), and many
steps are fused into one `tf.function` call with the noise drawn from the step's index, so a
resumed run continues exactly.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf

from keras_gan import inputs, models, objectives
from keras_gan.data import LabelledImages
from keras_gan.errors import KerasGanError
from keras_gan.trainer import GANTrainer, TrainerConfig


class GAN(keras.Model):
    """A generator G and a discriminator D trained against each other.

    generator: a built Keras model z -> x (or (z, label) -> x for a class-conditional G); the
        noise size is its input's.
    discriminator: a built Keras model x -> one logit per example ((x, label) -> logit when
        conditional).
    value_range: the range of G's outputs and of the training data; uint8 data is scaled to it
        and sample grids draw it.
    noise: the prior of z: `normal` N(0, 1) or `uniform` on [-sqrt 3, sqrt 3].
    num_classes: a conditional G's class count; by default read from its one-hot
        (CategoryEncoding) or Embedding layer.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *,
                 value_range: Tuple[float, float] = (-1.0, 1.0), noise: str = "normal",
                 num_classes: int | None = None, name: str = "gan"):
        super().__init__(name=name)
        _check_pair(generator, discriminator)
        low, high = (float(v) for v in value_range)
        if not low < high:
            raise KerasGanError(f"value_range={tuple(value_range)}: expected (low, high) with "
                                f"low < high")
        if noise not in inputs.NOISE_PRIORS:
            raise KerasGanError(f"noise={noise}: expected one of {', '.join(inputs.NOISE_PRIORS)}")
        self.generator, self.discriminator = generator, discriminator
        self.noise, self._range = noise, (low, high)
        self.z_dim = int(generator.inputs[0].shape[-1])
        self.num_classes = _class_count(generator, num_classes)
        self.class_prior = np.full(self.num_classes, 1.0 / max(self.num_classes, 1))
        self.trainer: GANTrainer | None = None
        self._settings = None
        self.built = True  # G and D come built; Keras's save_weights() asks

    @property
    def value_range(self) -> Tuple[float, float]:
        return self._range

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    def call(self, inputs, training=False):
        """G: z (or [z, labels]) to examples."""
        return self.generator(inputs, training=training)

    # ----- compile ---------------------------------------------------------------------------

    def compile(self, g_optimizer: keras.Optimizer | None = None,
                d_optimizer: keras.Optimizer | None = None, *, objective: str = "bce",
                g_loss: str = "non_saturating", penalty: str = "none",
                penalty_weight: float = 10.0, g_ema_decay: float = 0.0,
                g_ema_warmup: float = 10.0, real_label: float | Tuple[float, float] = 1.0,
                d_steps: int = 1, order: str = "g_first", d_style: str = "separate",
                d_reduction: str = "mean", pack: int = 1, g_top_k: float = 1.0,
                g_top_k_decay: float = 0.99, loss_scale: float | None = None,
                loss_scale_growth_interval: int = 2000, steps_per_execution: int = 1,
                jit_compile: bool = False) -> "GAN":
        """Chooses how training runs; returns the model, so calls chain.

        g_optimizer, d_optimizer: default Adam(2e-4, beta_1=0.5) each (DCGAN's), with
            TensorFlow's fused update kernel (`keras_gan.optimizers.FusedAdam`).
        objective: a registered objective (`keras_gan.objectives.register`): bce (the paper's),
            least_squares, hinge, wasserstein; `g_loss` is bce's G loss (non_saturating or
            minimax).
        penalty: a registered penalty (`keras_gan.penalties.register`) on D's input gradients
            (none, gradient, r1), times `penalty_weight`.
        g_ema_decay: keep an exponential moving average of G's weights (0: off), used by
            `sample`, `export` and sample grids; `g_ema_warmup` is its warm-up constant.
        real_label: the target of real examples, or a range (lo, hi) drawn per example
            (one-sided label smoothing; bce and least_squares).
        d_steps, order, d_style, d_reduction: D steps per G step; `g_first`, `d_first` or
            `simultaneous`; D on `separate` real and fake batches or one `concat` batch; D's
            loss the `mean` or `sum` of its two halves.
        pack: PacGAN's packing, which D must have been built for (`keras_gan.models.packed`).
        g_top_k, g_top_k_decay: top-k training: G learns from the fraction of each fake batch
            D scores most real, from 1 down to `g_top_k` by `g_top_k_decay` per epoch.
        loss_scale: the initial dynamic loss scale under a mixed_float16 policy (default 2^15;
            0: none).
        steps_per_execution: training steps fused into one call (Keras's option): the fast
            path; callbacks still see every step.
        jit_compile: compile each step's replica work with XLA.
        """
        if isinstance(real_label, (int, float)):
            real_label = (float(real_label), float(real_label))
        real_label = tuple(float(v) for v in real_label)
        if len(real_label) != 2 or not 0.0 <= real_label[0] <= real_label[1] <= 1.0:
            raise KerasGanError(f"real_label={real_label}: expected a label in [0, 1] or a range "
                                f"(lo, hi) within it")
        objectives.make_objective(objective, g_loss, real_label)
        if loss_scale is None:
            float16 = keras.mixed_precision.global_policy().compute_dtype == "float16"
            loss_scale = 2.0 ** 15 if float16 else 0.0
        # The batch size and the epoch length come from the data in `fit`.
        config = TrainerConfig(
            objective=objective, g_loss=g_loss, penalty=penalty,
            penalty_weight=penalty_weight, pack=pack, g_top_k=g_top_k,
            g_top_k_decay=g_top_k_decay, g_ema_decay=g_ema_decay, g_ema_warmup=g_ema_warmup,
            loss_scale=loss_scale, loss_scale_growth_interval=loss_scale_growth_interval,
            d_style=d_style, d_reduction=d_reduction, order=order, d_steps=d_steps,
            steps_per_execution=steps_per_execution, jit_compile=jit_compile)
        from keras_gan.optimizers import FusedAdam

        for name, optimizer in (("g_optimizer", g_optimizer), ("d_optimizer", d_optimizer)):
            if optimizer is not None and not isinstance(optimizer, keras.Optimizer):
                raise KerasGanError(f"{name}: expected a keras.Optimizer, not "
                                    f"{type(optimizer).__name__}")
        if g_optimizer is not None and g_optimizer is d_optimizer:
            raise KerasGanError("g_optimizer and d_optimizer: expected two optimisers, one for "
                                "each model, not the same one twice")
        with self.distribute_strategy.scope():
            g_optimizer = g_optimizer or FusedAdam(2e-4, beta_1=0.5)
            d_optimizer = d_optimizer or FusedAdam(2e-4, beta_1=0.5)
        self._settings = _Settings(config, real_label)
        self.trainer = GANTrainer(lambda: (self.generator, self.discriminator),
                                  lambda: (g_optimizer, d_optimizer), config,
                                  self.distribute_strategy)
        self.optimizer = None  # two optimisers, in `trainer`; Keras's summary() asks for one
        self.compiled = True
        return self

    @property
    def metric_names(self) -> Tuple[str, ...]:
        """What every step logs: d_loss, g_loss, the objective's values, the penalty's."""
        self._require_compiled("metric_names")
        return self.trainer.metric_names

    # ----- fit -------------------------------------------------------------------------------

    def fit(self, x=None, y=None, batch_size: int | None = None, epochs: int = 1,
            verbose="auto", callbacks: Sequence[keras.callbacks.Callback] | None = None,
            steps_per_epoch: int | None = None, seed: int = 0, max_steps: int | None = None,
            **unsupported) -> keras.callbacks.History:
        """Trains G and D on `x`; returns a `keras.callbacks.History` of per-epoch means.

        x: a batched `tf.data.Dataset` of examples or of (examples, labels), each batch the
            global batch (smaller batches, such as a last partial one, are skipped); NumPy
            examples with `y` labels (for a conditional G) and `batch_size` (default 32); or a
            `keras_gan.data.LabelledImages`. uint8 examples are scaled to `value_range`.
        epochs: train until this many epochs are done in all (resumed runs count theirs).
        steps_per_epoch: G steps per epoch; by default the dataset's batches / `d_steps`
            (required for a dataset of unknown or infinite length).
        seed: the noise (and for NumPy data the shuffling) is a function of it and the step.
        max_steps: stop after this many steps in all, even within an epoch.
        callbacks: any `keras.callbacks.Callback`; each step logs d_loss, g_loss and what the
            objective adds. With `keras_gan.callbacks.BackupAndRestore` the run resumes from
            its newest checkpoint.
        """
        if unsupported:
            raise KerasGanError(f"GAN.fit: {', '.join(sorted(unsupported))} not supported "
                                f"(a GAN has no validation data or sample weights)")
        settings = self._require_compiled("fit")
        if not isinstance(epochs, int) or epochs < 1:
            raise KerasGanError(f"epochs={epochs}: expected a positive integer")
        data = _TrainingData.of(self, x, y, batch_size, seed)
        config = settings.config
        per_epoch = steps_per_epoch or (data.batches_per_epoch // config.d_steps
                                        if data.batches_per_epoch else None)
        if not per_epoch or per_epoch < 1:
            raise KerasGanError(
                f"steps_per_epoch={steps_per_epoch}: expected a positive integer (the dataset's "
                f"length is {'unknown' if data.batches_per_epoch is None else 'too short'}: "
                f"{data.batches_per_epoch} batches for d_steps={config.d_steps})")
        self._set_batch(data, per_epoch)
        callbacks = list(callbacks or [])
        callback_list = keras.callbacks.CallbackList(
            callbacks, add_history=True, add_progbar=verbose != 0, model=self,
            verbose=1 if verbose == "auto" else verbose, epochs=epochs, steps=per_epoch)
        for callback in callbacks:
            if hasattr(callback, "restore"):
                callback.restore(self)
        total = epochs * per_epoch if max_steps is None else min(epochs * per_epoch, max_steps)
        boundaries = [getattr(c, "boundary", 0) for c in callbacks]
        self.trainer.fit(self._stream(data, seed), per_epoch, total, callback_list, self,
                         boundaries)
        return self.history

    def train_iterator(self, x, y=None, batch_size: int | None = None, seed: int = 0):
        """An iterator over the distributed training elements `fit` would feed from the current
        step on, for `trainer.train_steps` (benchmarks, profiling)."""
        data = _TrainingData.of(self, x, y, batch_size, seed)
        d_steps = self._settings.config.d_steps
        self._set_batch(data, max(1, (data.batches_per_epoch or 1) // d_steps))
        return iter(self._stream(data, seed))

    def _set_batch(self, data: "_TrainingData", steps_per_epoch: int) -> None:
        """Fixes the trainer's batch size; g_top_k_decay is per epoch, as in the paper, and the
        trainer decays per G step."""
        decay = self._settings.config.g_top_k_decay ** (1 / steps_per_epoch)
        self.trainer.set_batch_size(data.global_batch_size, g_top_k_decay=decay)

    def _stream(self, data: "_TrainingData", seed: int):
        """The distributed training elements from the current step on."""
        settings = self._settings
        start_index = int(self.trainer.step.numpy()) * settings.config.d_steps
        spec = inputs.StreamSpec(data.global_batch_size, self.z_dim, self.noise,
                                 self.value_range, settings.real_label, seed, self.conditional)
        return self.trainer.strategy.distribute_datasets_from_function(
            lambda context: inputs.training_elements(data.batches(start_index), spec, start_index,
                                                     context, data.prepare))

    def _require_compiled(self, what: str) -> "_Settings":
        if self._settings is None:
            raise KerasGanError(f"GAN.{what}: call compile() first (compile() with no arguments "
                                f"takes the paper's objective and DCGAN's Adam settings)")
        return self._settings

    # ----- using the trained G ---------------------------------------------------------------

    @property
    def sampling_generator(self) -> keras.Model:
        """The G that samples, grids and exports use: the average of G's weights when kept."""
        return self.trainer.sampling_generator if self.trainer else self.generator

    def sample(self, count: int, labels=None, seed: int | None = None,
               batch_size: int = 1000) -> np.ndarray:
        """`count` examples from G (its weight average when kept) as a NumPy array. A
        conditional G draws `labels` (one class for all, or one per example; default: classes
        drawn from the training labels' frequencies)."""
        if count < 1:
            raise KerasGanError(f"count={count}: expected a positive integer")
        rng = np.random.default_rng(seed)
        z_seed = tf.constant(rng.integers(0, 2 ** 31, size=2), tf.int64)
        z = inputs.sample_noise([count, self.z_dim], self.noise, z_seed).numpy()
        if self.conditional:
            labels = (rng.choice(self.num_classes, count, p=self.class_prior) if labels is None
                      else np.broadcast_to(np.asarray(labels), (count,)))
            _check_labels(labels, self.num_classes, "labels")
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


@dataclasses.dataclass(frozen=True)
class _Settings:
    """What `compile` chose that the trainer does not keep."""

    config: TrainerConfig
    real_label: Tuple[float, float]


@dataclasses.dataclass(frozen=True)
class _TrainingData:
    """`fit`'s data as the trainer takes it: `batches(start)` gives global batches of
    (examples, labels) from batch `start` on, forever; `prepare` runs on a pipeline's own rows
    (decoding image files)."""

    batches: Callable[[int], tf.data.Dataset]
    global_batch_size: int
    batches_per_epoch: int | None
    prepare: Callable | None = None

    @classmethod
    def of(cls, gan: GAN, x, y, batch_size, seed) -> "_TrainingData":
        if isinstance(x, tf.data.Dataset):
            if y is not None or batch_size is not None:
                raise KerasGanError("y, batch_size: a tf.data.Dataset brings its own labels and "
                                    "batches; expected neither")
            return cls._from_dataset(gan, x)
        if isinstance(x, LabelledImages):
            data = x
        elif isinstance(x, np.ndarray) or hasattr(x, "__array__"):
            data = LabelledImages(np.asarray(x), None if y is None else np.asarray(y))
        else:
            raise KerasGanError(f"x: expected a batched tf.data.Dataset, NumPy examples or "
                                f"LabelledImages, not {type(x).__name__}")
        return cls._from_examples(gan, data, 32 if batch_size is None else batch_size, seed)

    @classmethod
    def _from_examples(cls, gan: GAN, data: LabelledImages, batch_size: int, seed: int
                       ) -> "_TrainingData":
        if not isinstance(batch_size, int) or batch_size < 1:
            raise KerasGanError(f"batch_size={batch_size}: expected a positive integer")
        _check_example_shape(gan, tuple(data.images.shape[1:]), "x")
        if batch_size > len(data):
            raise KerasGanError(f"batch_size={batch_size}: more than the {len(data)} examples")
        if gan.conditional:
            if data.labels is None:
                raise KerasGanError(f"y: G is conditional ({gan.num_classes} classes); expected "
                                    f"a label per example")
            if len(data.labels) != len(data):
                raise KerasGanError(f"y: {len(data.labels)} labels for {len(data)} examples")
            _check_labels(data.labels, gan.num_classes, "y")
            gan.class_prior = np.bincount(data.labels, minlength=gan.num_classes) / len(data)
        return cls(lambda start: inputs.example_batches(data, batch_size, seed, start),
                   batch_size, inputs.batches_per_epoch(len(data), batch_size),
                   inputs.file_decoder(data))

    @classmethod
    def _from_dataset(cls, gan: GAN, dataset: tf.data.Dataset) -> "_TrainingData":
        spec = dataset.element_spec
        labelled = isinstance(spec, tuple)
        if labelled and len(spec) != 2:
            raise KerasGanError(f"x: dataset elements of {len(spec)} parts; expected examples or "
                                f"(examples, labels)")
        example_spec = spec[0] if labelled else spec
        if not isinstance(example_spec, tf.TensorSpec):
            raise KerasGanError(f"x: dataset elements are {type(example_spec).__name__}; "
                                f"expected tensors of examples (or (examples, labels))")
        wanted = tuple(gan.discriminator.inputs[0].shape[1:])
        if len(example_spec.shape) == len(wanted):
            raise KerasGanError(f"x: an unbatched dataset (elements of shape "
                                f"{tuple(example_spec.shape)}); expected batches: call "
                                f".batch(batch_size) on it")
        _check_example_shape(gan, tuple(example_spec.shape[1:]), "x")
        if gan.conditional and not labelled:
            raise KerasGanError(f"x: G is conditional ({gan.num_classes} classes); expected a "
                                f"dataset of (examples, labels)")
        first = next(iter(dataset.take(1)), None)
        if first is None:
            raise KerasGanError("x: the dataset is empty")
        batch = int(example_spec.shape[0] or (first[0] if labelled else first).shape[0])
        if gan.conditional:
            _check_labels(np.asarray(first[1]), gan.num_classes, "x's labels")

        def with_labels(*element):
            examples = element[0]
            labels = (tf.cast(tf.reshape(element[1], [-1]), tf.int32) if labelled
                      else tf.fill([tf.shape(examples)[0]], -1))
            return examples, labels

        full = (dataset.map(with_labels)
                .filter(lambda examples, labels: tf.shape(examples)[0] == batch))
        cardinality = int(dataset.cardinality())
        known = cardinality if cardinality > 0 else None
        return cls(lambda start: full.repeat().skip(start), batch, known)


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


def _check_example_shape(gan: GAN, shape: Tuple[int, ...], argument: str) -> None:
    wanted = tuple(gan.discriminator.inputs[0].shape[1:])
    if tuple(shape) != wanted:
        raise KerasGanError(f"{argument}: examples of shape {tuple(shape)}; expected D's input "
                            f"shape {wanted} (G's output shape)")


def _check_labels(labels: np.ndarray, num_classes: int, argument: str) -> None:
    labels = np.asarray(labels)
    if labels.size and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0
                        or labels.max() >= num_classes):
        raise KerasGanError(f"{argument}: labels {labels.min()}..{labels.max()} "
                            f"({labels.dtype}); expected integers in [0, {num_classes})")
