"""`TrainingOptions`: how a GAN trains, declared and checked once.

`GAN.compile(**options)` takes exactly these fields as keywords, the experiment programs' flags
of the same names fill them (`keras_gan.config.RunConfig.training`), and the step builder
(`keras_gan.step`) reads them. Each field's help text is its flag's.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Tuple

from keras_gan.errors import KerasGanError, check_positive

ORDERS = ("g_first", "d_first", "simultaneous")
D_STYLES = ("separate", "concat")
D_REDUCTIONS = ("mean", "sum")


def option(default, help: str, choices: Tuple[str, ...] | None = None):
    """A field with its flag's help text (and choices, for a fixed set of values)."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


@dataclasses.dataclass(frozen=True)
class TrainingOptions:
    """How one training step runs. Invalid values fail here, naming the option."""

    objective: str | Callable = option(
        'bce',
        'A registered game (keras_gan.objectives.register; docs/objectives.md); built in: '
        "bce, the paper's cross-entropy; least_squares (Mao et al.); hinge (Lim & Ye; Miyato "
        'et al.); wasserstein (Arjovsky et al.; use a penalty or --spectral_norm, and '
        '--d_steps=5). In Python also a function (real_logits, fake_logits) -> (d_loss, '
        'g_loss), per example.')
    g_loss: str = option(
        'non_saturating',
        "bce's G loss: -log D(G(z)) (the paper's heuristic) or log(1 - D(G(z))).",
        choices=('non_saturating', 'minimax'))
    penalty: str | Callable = option(
        'none',
        "A registered penalty added to D's loss (keras_gan.penalties.register); built in: "
        "none; gradient, WGAN-GP's (||grad D(x^)|| - 1)^2 on real/fake interpolates "
        "(Gulrajani et al.); r1, R1's 1/2 ||grad D(x)||^2 on real data (Mescheder et al.). In "
        'Python also a function (discriminator, real, fake) -> per-example values.')
    penalty_weight: float = option(
        10.0,
        "Weight of --penalty (WGAN-GP's lambda, R1's gamma).")
    real_label: float | Tuple[float, float] = option(
        1.0,
        'Label of real images: one value (e.g. 0.9) or a uniform range lo,hi (0.9,1.0), drawn '
        'per example (one-sided label smoothing; bce and least_squares).')
    d_steps: int = option(
        1,
        "Algorithm 1's k: D steps per G step, each on a fresh real batch.")
    accumulate_steps: int = option(
        1,
        'Gradient accumulation: each update averages the gradients of this many batches, the '
        "update of a batch this many times larger (BatchNormalization's statistics stay per "
        'batch, and top-k picks within each batch).')
    order: str = option(
        'g_first',
        'G step first (D reuses its fake batch), D steps first (G gets fresh z), or both from'
        " one forward pass (the paper's code; needs --d_steps=1).",
        choices=ORDERS)
    d_style: str = option(
        'separate',
        "D's batch: real and fake in separate calls, or one concatenated batch.",
        choices=D_STYLES)
    d_reduction: str = option(
        'mean',
        "D's loss: mean or sum of the real-half and fake-half losses.",
        choices=D_REDUCTIONS)
    pack: int = option(
        1,
        'PacGAN (Lin et al. 2018): D judges this many samples at once, joined along the '
        'features (MLP Ds) or channels (1: one; unconditional models only); D must be built '
        'for it (keras_gan.models.packed).')
    g_top_k: float = option(
        1.0,
        'Top-k training (Sinha et al. 2020): G learns only from this fraction of each fake '
        'batch, the samples D scores most real, reached by --g_top_k_decay (1: every sample).')
    g_top_k_decay: float = option(
        0.99,
        'With --g_top_k below 1: the kept fraction starts at 1 and is multiplied by this '
        "every epoch (smoothly, step by step) until it reaches --g_top_k (the paper's gamma).")
    g_ema_decay: float = option(
        0.0,
        "Keep an exponential moving average of G's weights with this decay (e.g. 0.999; 0: "
        'off); sampling, grids, evaluation and the export use it.')
    g_ema_warmup: float = option(
        10.0,
        "K of the average's warm-up, rate min(decay, (1 + n) / (K + n)) at step n (TF's rule:"
        ' 10): until the decay caps it the average spans about the last 1/(K - 1) of the '
        "steps; smaller K, a longer average (2: every step's mean).")
    augment: str | Callable = option(
        'none',
        "Augment every image D sees, real and fake, in D's and G's updates (little data): "
        "diffaugment (Zhao et al. 2020; diffaugment:color,translation,cutout picks policies) "
        "or ada (Karras et al. 2020: each transform with a probability p tuned during "
        "training; ada:xflip,translation,scaling,cutout,brightness,contrast,saturation picks "
        "them, flips only when named); or a registered one (keras_gan.augment.register).")
    ada_target: float = option(
        0.6,
        "With --augment=ada: the target of E[sign(D(real))], D's overfitting heuristic r_t "
        "(the paper's 0.6); p rises while r_t is above it.")
    ada_interval: int = option(
        4,
        'With --augment=ada: steps between adjustments of p.')
    ada_speed_images: int = option(
        500000,
        'With --augment=ada: images over which p can move from 0 to 1 (the paper: 500k).')
    freeze_d_layers: int = option(
        0,
        "Keep D's first N layers with weights fixed (FreezeD, Mo et al. 2020): for "
        'fine-tuning a trained D on little data (--init_from).')
    loss_scale: float = option(
        32768.0,
        'Under the mixed_float16 policy: the initial dynamic loss scale (0: none); a step with '
        'non-finite gradients is skipped and halves it. Other policies need none.')
    loss_scale_growth_interval: int = option(
        2000,
        'With a loss scale: it doubles after this many finite steps.')
    steps_per_execution: int = option(
        1,
        'Training steps fused into one tf.function call (Keras\'s option of that name): the '
        'fast path; callbacks still see every step.')
    jit_compile: bool = option(
        False,
        "Compile each replica's step with XLA.")

    def __post_init__(self):
        object.__setattr__(self, "real_label", _label_range(self.real_label))
        check_positive(**{name: getattr(self, name) for name in (
            "d_steps", "steps_per_execution", "pack", "loss_scale_growth_interval",
            "ada_interval", "ada_speed_images", "accumulate_steps")})
        for field in dataclasses.fields(self):
            allowed = field.metadata["choices"]
            if allowed and getattr(self, field.name) not in allowed:
                raise KerasGanError(f"{field.name}={getattr(self, field.name)}: expected one of "
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
        if self.loss_scale < 0:
            raise KerasGanError(f"loss_scale={self.loss_scale}: expected a positive scale (0: "
                                f"none)")
        if not 0.0 < self.g_top_k <= 1.0 or not 0.0 < self.g_top_k_decay <= 1.0:
            raise KerasGanError(f"g_top_k={self.g_top_k}, g_top_k_decay="
                                f"{self.g_top_k_decay}: expected a kept fraction and a decay "
                                f"in (0, 1]")
        if self.penalty_weight < 0:
            raise KerasGanError(f"penalty_weight={self.penalty_weight}: expected >= 0")
        if self.freeze_d_layers < 0:
            raise KerasGanError(f"freeze_d_layers={self.freeze_d_layers}: expected 0 (none) or "
                                f"more")
        if not -1.0 <= self.ada_target <= 1.0:
            raise KerasGanError(f"ada_target={self.ada_target}: expected a mean sign in [-1, 1]")
        self.make_objective()
        self.make_penalty()
        self.make_augmentation()

    @property
    def elements_per_step(self) -> int:
        """Batches one training step takes: `accumulate_steps` for each of its `d_steps` D
        updates (G's reuses some)."""
        return self.d_steps * self.accumulate_steps

    # TensorFlow loads with the objectives: only when asked, so the programs' flags (built from
    # these fields) do not load it before the CLI has set its log level. Each is built once, by
    # the validation above, and kept.
    def make_objective(self):
        """The objective these options name (or hold), checked against g_loss and real_label."""
        from keras_gan import objectives

        return self._built("objective", lambda: objectives.make_objective(
            self.objective, self.g_loss, self.real_label))

    def make_penalty(self):
        """The penalty as `(discriminator, real, fake, alpha)`, or None."""
        from keras_gan import penalties

        return self._built("penalty", lambda: penalties.make_penalty(self.penalty, self.pack))

    def make_augmentation(self):
        """The augmentation of D's inputs, or None."""
        from keras_gan import augment

        return self._built("augment", lambda: augment.make_augmentation(self.augment))

    def _built(self, name: str, make: Callable):
        built = self.__dict__.setdefault("_built_parts", {})  # not a field: equality ignores it
        if name not in built:
            built[name] = make()
        return built[name]

    def get_config(self) -> dict:
        """The options as JSON-friendly values; a function objective or penalty as Keras
        serialises functions (`keras.saving.register_keras_serializable` makes it loadable)."""
        import keras

        config = dataclasses.asdict(self)
        for name in ("objective", "penalty", "augment"):
            if callable(config[name]):
                if getattr(config[name], "__name__", "<lambda>") == "<lambda>":
                    raise KerasGanError(f"{name}: a lambda cannot be saved; expected a named "
                                        f"function (or register it by name)")
                config[name] = keras.saving.serialize_keras_object(config[name])
        config["real_label"] = list(self.real_label)
        return config

    @classmethod
    def from_config(cls, config: dict) -> "TrainingOptions":
        import keras

        config = dict(config)
        for name in ("objective", "penalty", "augment"):
            if isinstance(config.get(name), dict):
                config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)


def _label_range(value) -> Tuple[float, float]:
    """`real_label` as (lo, hi): one label, or a range lo,hi (numbers or their text)."""
    values = [value] if isinstance(value, (int, float, str)) else list(value)
    try:
        labels = [float(v) for v in values]
    except (TypeError, ValueError):
        labels = []
    if len(labels) not in (1, 2) or not 0.0 <= labels[0] <= labels[-1] <= 1.0:
        shown = ",".join(str(v) for v in values)
        raise KerasGanError(f"real_label={shown}: expected one label in [0, 1] or a range "
                            f"lo,hi within it")
    return (labels[0], labels[-1])
