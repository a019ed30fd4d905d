"""A GAN in the run directory's checkpoints (`tf.train.Checkpoint`): what they hold, restoring
them (also those written before a part existed), and starting a GAN from a trained one
(fine-tuning, `--init_from`)."""
from __future__ import annotations

import os

import keras
import tensorflow as tf

from keras_gan.errors import KerasGanError

# Entries a checkpoint may lack (written before the feature existed, or with it off); they keep
# their fresh values, and G's average starts at the restored G.
OPTIONAL = ("generator_ema", "g_loss_scale", "d_loss_scale", "augment_probability")


def tracked(gan) -> dict:
    """Everything training needs, by the names the run directory's checkpoints use; the optional
    parts only when the GAN's options use them, so a run's layout is what its options make."""
    gan._require_compiled("checkpoint")
    parts = dict(generator=gan.generator, discriminator=gan.discriminator,
                 g_optimizer=gan.g_optimizer, d_optimizer=gan.d_optimizer, step=gan.step)
    if gan.options.g_ema_decay:
        parts["generator_ema"] = gan.generator_ema
    if gan.loss_scaled:
        parts["g_loss_scale"] = gan.g_loss_scale.checkpointable()
        parts["d_loss_scale"] = gan.d_loss_scale.checkpointable()
    if gan.adaptive:
        parts["augment_probability"] = gan.augment_probability.checkpointable()
    return parts


def training_checkpoint(gan) -> tf.train.Checkpoint:
    """A `tf.train.Checkpoint` of everything training needs (the run directory's format)."""
    return tf.train.Checkpoint(**tracked(gan))


def restore(gan, checkpoint: tf.train.Checkpoint, path: str) -> None:
    """Restores the checkpoint at `path` into `gan` through `checkpoint` (its
    `training_checkpoint`, whose save counter goes on), also one without the optional
    entries."""
    parts, reader = tracked(gan), tf.train.load_checkpoint(path)
    saved = _saved_entries(reader)
    present = {k: v for k, v in parts.items() if k in saved or k not in OPTIONAL}
    if len(present) == len(parts):
        checkpoint.restore(path).assert_existing_objects_matched()
        return
    tf.train.Checkpoint(**present).restore(path).assert_existing_objects_matched()
    checkpoint.save_counter.assign(reader.get_tensor("save_counter/.ATTRIBUTES/VARIABLE_VALUE"))
    if "generator_ema" not in saved:
        gan.restart_average()


def initialize_from(gan, source) -> None:
    """Starts `gan`'s G, D and G's average from a trained GAN's (fine-tuning): another `GAN`, a
    saved `.keras` file or a run directory (its newest checkpoint). The optimisers, the step
    and ADA's p stay fresh; a shape that does not fit fails naming both."""
    gan._require_compiled("initialize_from")
    if isinstance(source, str) and os.path.isdir(source):
        _initialize_from_run(gan, source)
        return
    if isinstance(source, str):
        if not os.path.isfile(source):
            raise KerasGanError(f"init_from={source}: neither a run directory nor a saved "
                                f".keras file")
        source = keras.saving.load_model(source)
    if not hasattr(source, "sampling_generator"):
        raise KerasGanError(f"init_from: expected a GAN, a .keras file or a run directory, "
                            f"not {type(source).__name__}")
    pairs = [(gan.generator, source.generator), (gan.discriminator, source.discriminator)]
    if gan.options.g_ema_decay:
        pairs.append((gan.generator_ema, source.sampling_generator))
    for mine, theirs in pairs:
        _copy_weights(theirs, mine)
    gan._averaged.assign(int(bool(gan.options.g_ema_decay)))


def _initialize_from_run(gan, run_dir: str) -> None:
    """The run directory's newest checkpoint that restores into G, D (and G's average); one
    that does not fit is reported and an older one tried, as when resuming."""
    from keras_gan import run_directory

    directory = os.path.join(run_dir, "checkpoints")
    if run_directory.restore_newest(directory, lambda path: _restore_networks(gan, path),
                                    flag=f"init_from={run_dir}") is None:
        raise KerasGanError(f"init_from={run_dir}: no checkpoint in {directory}")


def _restore_networks(gan, path: str) -> None:
    """G, D and G's average from the checkpoint at `path`, the rest of it left."""
    saved = _saved_entries(tf.train.load_checkpoint(path))
    parts = {"generator": gan.generator, "discriminator": gan.discriminator}
    if gan.options.g_ema_decay and "generator_ema" in saved:
        parts["generator_ema"] = gan.generator_ema
    tf.train.Checkpoint(**parts).restore(path).expect_partial()
    if "generator_ema" in parts:
        gan._averaged.assign(1)
    else:
        gan.restart_average()


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
