"""The adversarial game as a choice: objectives and penalties behind one signature.

An `Objective` maps D's raw outputs (a logit or a critic value, per example) to D's per-example
losses on the real and the fake half and G's per-example loss, and names the summaries it logs.
A `Penalty` adds a per-example regulariser of D's input gradients to D's loss. The trainer calls
only these (compare_gan's `loss_lib` / `penalty_lib` seam), so a new game is one registry entry.
Formulas: SPEC section 8.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Dict, Tuple

import tensorflow as tf

from keras_gan.errors import KerasGanError

Tensor = tf.Tensor
G_LOSSES = ("minimax", "non_saturating")


def _flat(outputs) -> Tensor:
    """D's outputs as float32 of shape (N,): logits may be (N, 1) and float16."""
    return tf.reshape(tf.cast(outputs, tf.float32), [-1])


def bce_with_logits(labels, logits) -> Tensor:
    """Binary cross-entropy from logits, per example."""
    logits = _flat(logits)
    labels = tf.broadcast_to(tf.cast(labels, tf.float32), tf.shape(logits))
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)


@dataclasses.dataclass(frozen=True)
class Objective:
    """One GAN game.

    d_losses(real_out, fake_out, real_labels) -> (real_losses, fake_losses), per example;
    g_losses(fake_out) -> per example; summaries(real_out, fake_out) -> per-example values named
    `summary_names`, averaged over the global batch and logged: `d_real` and `d_fake` are D(x)
    and D(G(z)) as probabilities for bce, raw outputs for the others. `fake_summary` is `d_fake`
    for G's step, logged as `d_fake_after`.
    """

    name: str
    d_losses: Callable[[Tensor, Tensor, Tensor], Tuple[Tensor, Tensor]]
    g_losses: Callable[[Tensor], Tensor]
    summaries: Callable[[Tensor, Tensor], Dict[str, Tensor]]
    summary_names: Tuple[str, ...]
    fake_summary: Callable[[Tensor], Tensor]
    smooths_labels: bool = False

    @property
    def metric_names(self) -> Tuple[str, ...]:
        return ("d_loss", "g_loss", *self.summary_names, "d_fake_after")


PROBABILITY_SUMMARIES = ("d_real", "d_fake", "divergence")
RAW_SUMMARIES = ("d_real", "d_fake")


def _probability_summaries(real, fake) -> Dict[str, Tensor]:
    real_p, fake_p = tf.sigmoid(_flat(real)), tf.sigmoid(_flat(fake))
    # The heuristic GAN's "divergence": mean of D(x) / (D(x) + D(G(z))), pairwise (SPEC 3.4).
    return {"d_real": real_p, "d_fake": fake_p, "divergence": real_p / (real_p + fake_p)}


def _raw_summaries(real, fake) -> Dict[str, Tensor]:
    return {"d_real": _flat(real), "d_fake": _flat(fake)}


def bce(g_loss: str = "non_saturating") -> Objective:
    """Goodfellow et al. 2014, eq. 1: D maximises log D(x) + log(1 - D(G(z))), real labels
    smoothed one-sidedly; G minimises log(1 - D(G(z))) (`minimax`) or -log D(G(z))
    (`non_saturating`, the paper's section 3 heuristic)."""
    if g_loss not in G_LOSSES:
        raise KerasGanError(f"--g_loss={g_loss}: expected one of {', '.join(G_LOSSES)}")
    g_losses = ((lambda fake: -bce_with_logits(0.0, fake)) if g_loss == "minimax"
                else (lambda fake: bce_with_logits(1.0, fake)))
    return Objective(
        "bce", lambda real, fake, labels: (bce_with_logits(labels, real),
                                           bce_with_logits(0.0, fake)),
        g_losses, _probability_summaries, PROBABILITY_SUMMARIES,
        lambda fake: tf.sigmoid(_flat(fake)), smooths_labels=True)


def least_squares() -> Objective:
    """Mao et al. 2017, eq. 2 with a = 0, b = 1 (the real target; smoothed labels replace it),
    c = 1: L_D = 1/2 (d(x) - b)^2 + 1/2 d(G(z))^2, L_G = 1/2 (d(G(z)) - 1)^2."""
    return Objective(
        "least_squares",
        lambda real, fake, labels: (0.5 * tf.square(_flat(real) - labels),
                                    0.5 * tf.square(_flat(fake))),
        lambda fake: 0.5 * tf.square(_flat(fake) - 1.0), _raw_summaries, RAW_SUMMARIES, _flat,
        smooths_labels=True)


def hinge() -> Objective:
    """Lim & Ye 2017; Miyato et al. 2018, eq. 16-17: L_D = relu(1 - d(x)) + relu(1 + d(G(z))),
    L_G = -d(G(z))."""
    return Objective(
        "hinge", lambda real, fake, labels: (tf.nn.relu(1.0 - _flat(real)),
                                             tf.nn.relu(1.0 + _flat(fake))),
        lambda fake: -_flat(fake), _raw_summaries, RAW_SUMMARIES, _flat)


def wasserstein() -> Objective:
    """Arjovsky et al. 2017, eq. 3: the critic maximises d(x) - d(G(z)); G minimises -d(G(z)).
    Needs a Lipschitz critic: a penalty or spectral norm, and usually `--d_steps=5`."""
    return Objective(
        "wasserstein", lambda real, fake, labels: (-_flat(real), _flat(fake)),
        lambda fake: -_flat(fake), _raw_summaries, RAW_SUMMARIES, _flat)


OBJECTIVES: Dict[str, Callable[..., Objective]] = {
    "bce": bce, "least_squares": least_squares, "hinge": hinge, "wasserstein": wasserstein}


def make_objective(name: str, g_loss: str = "non_saturating",
                   real_label: Tuple[float, float] = (1.0, 1.0)) -> Objective:
    """The named objective; options it cannot use fail with one line naming the flag."""
    if name not in OBJECTIVES:
        raise KerasGanError(f"--objective={name}: expected one of {', '.join(OBJECTIVES)}")
    if name == "bce":
        return bce(g_loss)
    if g_loss != "non_saturating":
        raise KerasGanError(f"--g_loss={g_loss} is a choice of --objective=bce only, not {name}")
    objective = OBJECTIVES[name]()
    if tuple(real_label) != (1.0, 1.0) and not objective.smooths_labels:
        raise KerasGanError(f"--real_label={','.join(map(str, real_label))}: --objective={name} "
                            f"has no labels; expected 1.0")
    return objective


def top_k_weights(fake_outputs: Tensor, fraction: Tensor) -> Tensor:
    """Top-k training (Sinha et al. 2020): per-example weights of G's loss that keep the
    `fraction` of the global fake batch D scores most real, scaled so that the batch mean of
    weighted losses is the kept samples' mean; the rest weigh 0. G's gradient from the
    worst-scored samples can push them away from their nearest mode (the paper's
    mixture-of-Gaussians analysis). The threshold is taken over every replica's scores, so
    several replicas keep what one device would."""
    scores = _flat(fake_outputs)
    context = tf.distribute.get_replica_context()
    everyone = context.all_gather(scores, axis=0) if context is not None else scores
    total = tf.shape(everyone)[0]
    k = tf.clip_by_value(tf.cast(tf.math.ceil(fraction * tf.cast(total, tf.float32)), tf.int32),
                         1, total)
    threshold = tf.math.top_k(everyone, k).values[k - 1]
    return tf.cast(scores >= threshold, tf.float32) * tf.cast(total / k, tf.float32)


# ----- penalties on D's input gradients --------------------------------------------------------

DiscriminatorFn = Callable[[Tensor], Tensor]


def _input_gradient_squared_norms(discriminator: DiscriminatorFn, inputs: Tensor,
                                  pack: int = 1) -> Tensor:
    """||grad_x d(x)||_2^2 per example, over all of an example's pixels; differentiable (a nested
    tape inside the caller's), so D's loss can be minimised through it.

    A packed D (`pack` > 1) gives each member its pack's output, so x is the whole pack: the
    squared norm over the pack's members, repeated for each of them."""
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        total = tf.reduce_sum(_flat(discriminator(inputs))) / pack  # each pack counted once
    gradients = tf.cast(tape.gradient(total, inputs), tf.float32)
    squares = tf.reduce_sum(tf.reshape(tf.square(gradients), [tf.shape(gradients)[0], -1]), 1)
    if pack == 1:
        return squares
    return tf.repeat(tf.reduce_sum(tf.reshape(squares, [-1, pack]), 1), pack)


def gradient_penalty(discriminator: DiscriminatorFn, real: Tensor, fake: Tensor,
                     alpha: Tensor, pack: int = 1) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017, Algorithm 1): (||grad d(x^)||_2 - 1)^2 at x^ = a x +
    (1 - a) G(z), one `alpha` ~ U[0, 1] per example (not per pixel; per member of a pack)."""
    alpha = tf.reshape(tf.cast(alpha, real.dtype), [-1] + [1] * (len(real.shape) - 1))
    interpolates = alpha * real + (1.0 - alpha) * fake
    # sqrt has an infinite gradient at 0; the epsilon only matters for a zero gradient.
    norms = tf.sqrt(_input_gradient_squared_norms(discriminator, interpolates, pack) + 1e-12)
    return tf.square(norms - 1.0)


def r1_penalty(discriminator: DiscriminatorFn, real: Tensor, fake: Tensor,
               alpha: Tensor, pack: int = 1) -> Tensor:
    """R1 (Mescheder et al. 2018, eq. 9): 1/2 ||grad_x d(x)||_2^2 on real data only."""
    del fake, alpha
    return 0.5 * _input_gradient_squared_norms(discriminator, real, pack)


PENALTIES: Dict[str, Callable[..., Tensor] | None] = {
    "none": None, "gradient": gradient_penalty, "r1": r1_penalty}


def make_penalty(name: str, pack: int = 1):
    """The named penalty for a D that packs `pack` examples (PacGAN; 1: none)."""
    if name not in PENALTIES:
        raise KerasGanError(f"--penalty={name}: expected one of {', '.join(PENALTIES)}")
    penalty = PENALTIES[name]
    return penalty and functools.partial(penalty, pack=pack)
