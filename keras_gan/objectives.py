"""The adversarial game as a choice: objectives behind one signature, found by name.

An objective maps D's raw outputs (a logit or a critic value, per example) to D's per-example
losses on the real and the fake half and G's per-example loss, and names the values it logs.
The trainer calls only these (compare_gan's `loss_lib` seam), so a new game is one registration:

    @keras_gan.objectives.register("my_least_squares")
    def my_least_squares(real_logits, fake_logits):
        return (real_logits - 1) ** 2 + fake_logits ** 2, (fake_logits - 1) ** 2

An objective that logs values of its own subclasses `Objective`. Formulas and sources:
docs/objectives.md.
"""
from __future__ import annotations

import inspect
from typing import Callable, Dict, Tuple

import tensorflow as tf

from keras_gan.errors import KerasGanError
from keras_gan.registry import registrar

Tensor = tf.Tensor
G_LOSSES = ("minimax", "non_saturating")


def flat(outputs) -> Tensor:
    """D's outputs as float32 of shape (N,): logits may be (N, 1) and float16."""
    return tf.reshape(tf.cast(outputs, tf.float32), [-1])


def bce_with_logits(labels, logits) -> Tensor:
    """Binary cross-entropy from logits, per example."""
    logits = flat(logits)
    labels = tf.broadcast_to(tf.cast(labels, tf.float32), tf.shape(logits))
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)


class Objective:
    """One GAN game; subclass it for an objective that logs more than D's outputs.

    `d_losses(real, fake, real_labels)` gives D's per-example losses on the real and the fake
    half (`real_labels` are the real half's targets, below 1 with one-sided label smoothing, for
    objectives with `smooths_labels`); `g_losses(fake)` G's per-example loss. `summaries(real,
    fake)` gives per-example values named `summary_names`, averaged over the global batch and
    logged after every step; `fake_summary(fake)` is `d_fake` in G's step (`d_fake_after`).
    """

    name = "objective"
    smooths_labels = False
    summary_names: Tuple[str, ...] = ("d_real", "d_fake")

    def d_losses(self, real: Tensor, fake: Tensor, real_labels: Tensor
                 ) -> Tuple[Tensor, Tensor]:
        raise NotImplementedError

    def g_losses(self, fake: Tensor) -> Tensor:
        raise NotImplementedError

    def summaries(self, real: Tensor, fake: Tensor) -> Dict[str, Tensor]:
        return {"d_real": flat(real), "d_fake": flat(fake)}

    def fake_summary(self, fake: Tensor) -> Tensor:
        return flat(fake)

    @property
    def metric_names(self) -> Tuple[str, ...]:
        return ("d_loss", "g_loss", *self.summary_names, "d_fake_after")


class BCE(Objective):
    """Goodfellow et al. 2014, eq. 1: D maximises log D(x) + log(1 - D(G(z))), real labels
    smoothed one-sidedly; G minimises log(1 - D(G(z))) (`minimax`) or -log D(G(z))
    (`non_saturating`, the paper's section 3 heuristic). Logs D's outputs as probabilities and
    the heuristic GAN's `divergence`, the mean of D(x) / (D(x) + D(G(z))) over pairs."""

    name, smooths_labels = "bce", True
    summary_names = ("d_real", "d_fake", "divergence")

    def __init__(self, g_loss: str = "non_saturating"):
        if g_loss not in G_LOSSES:
            raise KerasGanError(f"g_loss={g_loss}: expected one of {', '.join(G_LOSSES)}")
        self.g_loss = g_loss

    def d_losses(self, real, fake, real_labels):
        return bce_with_logits(real_labels, real), bce_with_logits(0.0, fake)

    def g_losses(self, fake):
        if self.g_loss == "minimax":
            return -bce_with_logits(0.0, fake)
        return bce_with_logits(1.0, fake)

    def summaries(self, real, fake):
        real_p, fake_p = tf.sigmoid(flat(real)), tf.sigmoid(flat(fake))
        return {"d_real": real_p, "d_fake": fake_p, "divergence": real_p / (real_p + fake_p)}

    def fake_summary(self, fake):
        return tf.sigmoid(flat(fake))


class LeastSquares(Objective):
    """Mao et al. 2017, eq. 2 with a = 0, b = 1 (the real target; smoothed labels replace it),
    c = 1: L_D = 1/2 (d(x) - b)^2 + 1/2 d(G(z))^2, L_G = 1/2 (d(G(z)) - 1)^2."""

    name, smooths_labels = "least_squares", True

    def d_losses(self, real, fake, real_labels):
        return 0.5 * tf.square(flat(real) - real_labels), 0.5 * tf.square(flat(fake))

    def g_losses(self, fake):
        return 0.5 * tf.square(flat(fake) - 1.0)


class Hinge(Objective):
    """Lim & Ye 2017; Miyato et al. 2018, eq. 16-17: L_D = relu(1 - d(x)) + relu(1 + d(G(z))),
    L_G = -d(G(z))."""

    name = "hinge"

    def d_losses(self, real, fake, real_labels):
        return tf.nn.relu(1.0 - flat(real)), tf.nn.relu(1.0 + flat(fake))

    def g_losses(self, fake):
        return -flat(fake)


class Wasserstein(Objective):
    """Arjovsky et al. 2017, eq. 3: the critic maximises d(x) - d(G(z)); G minimises -d(G(z)).
    Needs a Lipschitz critic: a penalty or spectral norm, and usually `d_steps=5`."""

    name = "wasserstein"

    def d_losses(self, real, fake, real_labels):
        return -flat(real), flat(fake)

    def g_losses(self, fake):
        return -flat(fake)


class FunctionObjective(Objective):
    """An objective from one function `(real_logits, fake_logits) -> (d_loss, g_loss)`, per
    example. D's loss is the function's whole per-example D loss (counted as the real half's;
    `d_reduction="mean"` halves it as it does the built-ins' two halves). G's step has no real
    logits: G's loss is taken with zeros in their place, so it must not depend on them."""

    def __init__(self, name: str, function: Callable[[Tensor, Tensor], Tuple[Tensor, Tensor]]):
        self.name, self.function = name, function

    def _losses(self, real, fake):
        d_loss, g_loss = self.function(flat(real), flat(fake))
        return flat(d_loss), flat(g_loss)

    def d_losses(self, real, fake, real_labels):
        d_loss, _ = self._losses(real, fake)
        return d_loss, tf.zeros_like(d_loss)

    def g_losses(self, fake):
        return self._losses(tf.zeros_like(flat(fake)), fake)[1]


OBJECTIVES: Dict[str, Callable[..., Objective]] = {
    "bce": BCE, "least_squares": LeastSquares, "hinge": Hinge, "wasserstein": Wasserstein}
BUILT_IN = tuple(OBJECTIVES)
bce = BCE  # the paper's objective by its usual name


def register(name: str):
    """Decorator: makes an objective available as `objective=name` (and `--objective=name`).

    On a function `(real_logits, fake_logits) -> (d_loss, g_loss)`, per example; or on an
    `Objective` subclass (built with no arguments) for an objective with its own logged values.
    """
    return _register(name)


_register = registrar("objective", OBJECTIVES, Objective, FunctionObjective)


def make_objective(objective, g_loss: str = "non_saturating",
                   real_label: Tuple[float, float] = (1.0, 1.0)) -> Objective:
    """The objective `objective` names (a registered name) or is (a function `(real_logits,
    fake_logits) -> (d_loss, g_loss)` per example, an `Objective` or its class); options it
    cannot use fail with one line naming the parameter."""
    if isinstance(objective, str):
        if objective not in OBJECTIVES:
            raise KerasGanError(f"objective={objective}: expected one of {', '.join(OBJECTIVES)} "
                                f"(or a function)")
        if objective == "bce":
            return BCE(g_loss)
        built = OBJECTIVES[objective]()
    elif isinstance(objective, Objective):
        built = objective
    elif inspect.isclass(objective) and issubclass(objective, Objective):
        built = objective()
    elif callable(objective):
        built = FunctionObjective(getattr(objective, "__name__", "objective"), objective)
    else:
        raise KerasGanError(f"objective={objective!r}: expected a registered name, a function "
                            f"(real_logits, fake_logits) -> (d_loss, g_loss) or an Objective")
    if g_loss != "non_saturating" and not isinstance(built, BCE):
        raise KerasGanError(f"g_loss={g_loss} is a choice of objective=bce only, not "
                            f"{built.name}")
    if tuple(real_label) != (1.0, 1.0) and not built.smooths_labels:
        raise KerasGanError(f"real_label={','.join(map(str, real_label))}: objective="
                            f"{built.name} has no labels; expected 1.0")
    return built


def top_k_weights(fake_outputs: Tensor, fraction: Tensor) -> Tensor:
    """Top-k training (Sinha et al. 2020): per-example weights of G's loss that keep the
    `fraction` of the global fake batch D scores most real, scaled so that the batch mean of
    weighted losses is the kept samples' mean; the rest weigh 0. G's gradient from the
    worst-scored samples can push them away from their nearest mode (the paper's
    mixture-of-Gaussians analysis). The threshold is taken over every replica's scores, so
    several replicas keep what one device would."""
    scores = flat(fake_outputs)
    context = tf.distribute.get_replica_context()
    everyone = context.all_gather(scores, axis=0) if context is not None else scores
    total = tf.shape(everyone)[0]
    k = tf.clip_by_value(tf.cast(tf.math.ceil(fraction * tf.cast(total, tf.float32)), tf.int32),
                         1, total)
    threshold = tf.math.top_k(everyone, k).values[k - 1]
    return tf.cast(scores >= threshold, tf.float32) * tf.cast(total / k, tf.float32)
