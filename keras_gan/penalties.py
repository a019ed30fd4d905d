"""Penalties on D's input gradients, found by name: added to D's loss times `penalty_weight`.

A penalty is a function `(discriminator, real, fake) -> per-example values`, where
`discriminator` maps a batch to D's outputs (labels, when conditional, are already bound). It
may also take `alpha` (a U[0, 1] draw per example from the training stream, so interpolates are
reproducible) and `pack` (how many examples a PacGAN D judges together):

    @keras_gan.penalties.register("my_r1")
    def my_r1(discriminator, real, fake):
        ...

Formulas and sources: docs/objectives.md.
"""
from __future__ import annotations

import functools
import inspect
from typing import Callable, Dict

import tensorflow as tf

from keras_gan.errors import KerasGanError
from keras_gan.objectives import flat

Tensor = tf.Tensor

DiscriminatorFn = Callable[[Tensor], Tensor]


def _input_gradient_squared_norms(discriminator: DiscriminatorFn, inputs: Tensor,
                                  pack: int = 1) -> Tensor:
    """||grad_x d(x)||_2^2 per example, over all of an example's pixels; differentiable (a nested
    tape inside the caller's), so D's loss can be minimised through it.

    A packed D (`pack` > 1) gives each member its pack's output, so x is the whole pack: the
    squared norm over the pack's members, repeated for each of them."""
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        total = tf.reduce_sum(flat(discriminator(inputs))) / pack  # each pack counted once
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
BUILT_IN = tuple(PENALTIES)


def register(name: str):
    """Decorator: makes a penalty function available as `penalty=name` (and `--penalty=name`)."""
    if not name.isidentifier():
        raise KerasGanError(f"penalty name {name!r}: expected a Python identifier")

    def add(function):
        if not callable(function):
            raise KerasGanError(f"penalty {name!r}: expected a function")
        PENALTIES[name] = function
        return function

    return add


def make_penalty(penalty, pack: int = 1):
    """The penalty `penalty` names (a registered name) or is (a function `(discriminator, real,
    fake)` -> per-example values) as `(discriminator, real, fake, alpha)`, for a D that packs
    `pack` examples (PacGAN; 1: none); None for `none`."""
    if isinstance(penalty, str):
        if penalty not in PENALTIES:
            raise KerasGanError(f"penalty={penalty}: expected one of {', '.join(PENALTIES)} "
                                f"(or a function)")
        name, function = penalty, PENALTIES[penalty]
    elif callable(penalty):
        name, function = getattr(penalty, "__name__", "penalty"), penalty
    else:
        raise KerasGanError(f"penalty={penalty!r}: expected a registered name or a function "
                            f"(discriminator, real, fake) -> per-example values")
    if function is None:
        return None
    accepted = inspect.signature(function).parameters
    if pack > 1 and "pack" not in accepted:
        raise KerasGanError(f"penalty={name} does not take `pack`: it cannot judge packs of "
                            f"pack={pack}")

    @functools.wraps(function)
    def call(discriminator, real, fake, alpha):
        extras = {"alpha": alpha, "pack": pack}
        return function(discriminator, real, fake,
                        **{key: value for key, value in extras.items() if key in accepted})

    return call
