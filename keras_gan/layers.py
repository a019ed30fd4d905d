"""Custom layers: BatchNormalization and SpectralNormalization whose freeze keeps D still, Maxout,
a replica-aware Dropout, PacGAN's packing, and an upsampling convolution computed at the input's
resolution."""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="keras_gan")
class BatchNormalization(keras.layers.BatchNormalization):
    """BatchNormalization where `trainable = False` freezes variables only.

    Keras 3 runs a frozen BN in inference mode (moving statistics). A GAN freezes D inside GD for
    G's update, yet the references (PyTorch-GAN, the Keras-2 recipes) still normalise D with the
    batch's statistics there. Here a frozen layer called with `training=True` normalises with batch
    statistics and leaves gamma, beta and the moving statistics untouched.

    Batch statistics are synchronised across replicas by default, so a step split over several
    devices computes what the same global batch computes on one device.

    Training on one replica, it normalises channels-last inputs with TensorFlow's fused kernel
    (one pass for the statistics and the output, one for the gradient, in the input's own
    precision) where Keras spends a dozen element-wise passes and float32 casts; the same
    statistics within float rounding (tested).
    """

    def __init__(self, *args, synchronized: bool = True, **kwargs):
        super().__init__(*args, synchronized=synchronized, **kwargs)

    def call(self, inputs, training=None, mask=None):
        if training and self._fusable(inputs, mask):
            return self._fused(inputs)
        if not training or self.trainable or self.renorm:
            return super().call(inputs, training=training, mask=mask)
        inputs = ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))
        mean, variance = self._moments(inputs, mask)
        outputs = ops.batch_normalization(
            inputs, mean, variance, axis=self.axis,
            offset=ops.cast(self.beta, inputs.dtype) if self.center else None,
            scale=ops.cast(self.gamma, inputs.dtype) if self.scale else None,
            epsilon=self.epsilon)
        return ops.cast(outputs, self.compute_dtype)

    def _fusable(self, inputs, mask) -> bool:
        rank = len(inputs.shape)
        if mask is not None or self.renorm or rank not in (2, 4):
            return False
        if inputs.dtype not in (tf.float32, tf.bfloat16, tf.float16):  # the kernel's dtypes
            return False
        if list(self._reduction_axes) != list(range(rank - 1)):  # normalises the last axis
            return False
        if self.synchronized:
            context = tf.distribute.get_replica_context()
            return context is None or context.num_replicas_in_sync == 1
        return True

    def _fused(self, inputs):
        """Batch statistics by the fused kernel; moving statistics updated when trainable."""
        channels = inputs.shape[-1]
        images = tf.reshape(inputs, (-1, 1, 1, channels)) if len(inputs.shape) == 2 else inputs
        gamma = tf.cast(self.gamma, tf.float32) if self.scale else tf.ones((channels,))
        beta = tf.cast(self.beta, tf.float32) if self.center else tf.zeros((channels,))
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            images, gamma, beta, epsilon=self.epsilon, is_training=True)
        if self.trainable:
            # the kernel returns the unbiased variance; Keras keeps the batch's own
            count = tf.cast(tf.size(images) // channels, tf.float32)
            variance = variance * (count - 1.0) / count
            momentum = self.momentum
            self.moving_mean.assign(self.moving_mean * momentum + mean * (1.0 - momentum))
            self.moving_variance.assign(self.moving_variance * momentum
                                        + variance * (1.0 - momentum))
        return ops.cast(tf.reshape(outputs, tf.shape(inputs)), self.compute_dtype)


@keras.saving.register_keras_serializable(package="keras_gan")
class WithoutBatchNorm(keras.layers.Layer):
    """Where a spectrally normalised D's BatchNormalization was: passes its input through (with
    BN's call signature, so a functional model's node can call it the same way)."""

    def call(self, inputs, training=None, mask=None):
        return inputs


@keras.saving.register_keras_serializable(package="keras_gan")
class SpectralNormalization(keras.layers.Wrapper):
    """Spectral normalisation as SN-GAN computes it (Miyato et al. 2018): the wrapped linear layer
    acts with W / sigma(W), sigma = v W u^T from one power-iteration step per training call, and
    the gradient flows through sigma.

    Keras's own wrapper instead overwrites the kernel with W / sigma on each training call, so the
    optimiser never sees sigma's gradient: a projected method, not SN-GAN's. Because sigma is linear
    in W, W / sigma(W) does not change when W is scaled, so the gradient here is orthogonal to W.
    The wrapped layer must be linear (no activation): then layer(x) - b = x W and the output is
    (layer(x) - b) / sigma + b. Frozen (D inside GD for G's step) or in inference, u stays still.
    """

    def __init__(self, layer, power_iterations: int = 1, **kwargs):
        super().__init__(layer, **kwargs)
        if power_iterations < 1:
            raise ValueError(f"power_iterations must be at least 1, got {power_iterations}")
        if getattr(layer, "activation", None) not in (None, keras.activations.linear):
            raise ValueError(f"SpectralNormalization needs a linear layer; {layer.name} has "
                             f"activation {layer.activation.__name__}")
        self.power_iterations = power_iterations

    def build(self, input_shape):
        super().build(input_shape)
        self.kernel = getattr(self.layer, "kernel", None)
        if self.kernel is None:
            self.kernel = self.layer.embeddings
        self.vector_u = self.add_weight(
            shape=(1, self.kernel.shape[-1]), name="vector_u", trainable=False,
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            aggregation="only_first_replica")

    def sigma(self, training=False):
        """The largest singular value of the kernel, estimated from u (updated when training)."""
        weights = ops.reshape(self.kernel, (-1, self.kernel.shape[-1]))
        u = ops.convert_to_tensor(self.vector_u)
        for _ in range(self.power_iterations):
            v = ops.normalize(ops.matmul(u, ops.transpose(weights)))
            u = ops.normalize(ops.matmul(v, weights))
        u, v = ops.stop_gradient(u), ops.stop_gradient(v)
        if training and self.trainable:
            self.vector_u.assign(u)
        return ops.sum(ops.matmul(v, weights) * u)

    def call(self, inputs, training=False):
        outputs = self.layer(inputs)
        sigma = ops.cast(self.sigma(training), outputs.dtype)
        bias = getattr(self.layer, "bias", None)
        if bias is None:
            return outputs / sigma
        bias = ops.cast(bias, outputs.dtype)
        return (outputs - bias) / sigma + bias

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations}


def _folds() -> np.ndarray:
    """(2, 2, 4, 9): for each of four 2x2 kernels and each of its taps, which taps of a 3x3 kernel
    add up there.

    After nearest x2 upsampling, the 3x3 window of output row 2i reads input rows i-1, i, i, and
    that of row 2i+1 reads i, i, i+1. So both output rows 2m-1 and 2m read input rows m-1 and m
    only: row 2m-1 with the kernel rows (k0 + k1, k2), row 2m with (k0, k1 + k2). Columns fold
    the same way. Kernel g = 2s + t of a 2x2 convolution makes output pixel (2m-1+s, 2n-1+t),
    which is where `depth_to_space` puts channel group g.
    """
    rows = (np.array([[1, 1, 0], [0, 0, 1]]), np.array([[1, 0, 0], [0, 1, 1]]))
    folds = np.zeros((2, 2, 4, 9), np.float32)
    for s in range(2):
        for t in range(2):
            folds[:, :, 2 * s + t] = np.einsum("ru,cv->rcuv", rows[s], rows[t]).reshape(2, 2, 9)
    return folds


_FOLDS = _folds()


@keras.saving.register_keras_serializable(package="keras_gan")
class UpsampleConv2D(keras.layers.Conv2D):
    """Nearest-neighbour x2 upsampling, then a 3x3 'same' convolution (PyTorch-GAN's DCGAN G).

    Its weights are those of the 3x3 convolution, but it computes the same function at the
    input's resolution (`subpixel`, the default): four 2x2 kernels, each the sum of the 3x3
    kernel's taps that read the same input pixel, in one convolution whose channel groups
    `depth_to_space` interleaves into the four output phases. That is 16 multiply-adds per input
    pixel where the upsampled image costs 36, in the backward pass as well. `subpixel=False`
    upsamples and convolves as written; both agree within float rounding (tested).
    """

    _FIXED = {"kernel_size": 3, "strides": 1, "padding": "same", "dilation_rate": 1,
              "groups": 1, "data_format": "channels_last"}

    def __init__(self, filters: int, subpixel: bool = True, **kwargs):
        fixed = sorted(set(kwargs) & set(self._FIXED))
        if fixed:
            raise ValueError(f"UpsampleConv2D: {', '.join(fixed)} cannot be set; it is a 3x3, "
                             f"stride-1 'same' convolution on channels-last images")
        super().__init__(filters, **self._FIXED, **kwargs)
        self.subpixel = bool(subpixel)

    def call(self, inputs):
        if not self.subpixel:
            return super().call(ops.repeat(ops.repeat(inputs, 2, axis=1), 2, axis=2))
        channels, filters = self.kernel.shape[2], self.filters
        taps = tf.reshape(tf.cast(self.kernel, inputs.dtype), (9, channels * filters))
        folded = tf.matmul(tf.constant(_FOLDS.reshape(16, 9), inputs.dtype), taps)
        kernels = tf.reshape(tf.transpose(tf.reshape(folded, (2, 2, 4, channels, filters)),
                                          (0, 1, 3, 2, 4)), (2, 2, channels, 4 * filters))
        padded = tf.pad(inputs, [[0, 0], [1, 1], [1, 1], [0, 0]])
        phases = tf.nn.conv2d(padded, kernels, 1, "VALID")
        if self.use_bias:
            phases = tf.nn.bias_add(phases, tf.tile(tf.cast(self.bias, phases.dtype), [4]))
        # phases sit at (2m-1+s, 2n-1+t) for m in 0..H: drop the first and last row and column
        upsampled = tf.nn.depth_to_space(phases, 2)
        height, width = inputs.shape[1], inputs.shape[2]
        if height is None or width is None:
            height, width = tf.shape(inputs)[1], tf.shape(inputs)[2]
        outputs = tf.slice(upsampled, [0, 1, 1, 0], tf.stack([-1, 2 * height, 2 * width, -1]))
        return self.activation(outputs) if self.activation is not None else outputs

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        return (batch, None if height is None else 2 * height,
                None if width is None else 2 * width, self.filters)

    def get_config(self):
        config = {k: v for k, v in super().get_config().items() if k not in self._FIXED}
        return {**config, "subpixel": self.subpixel}


@keras.saving.register_keras_serializable(package="keras_gan")
class Maxout(keras.layers.Layer):
    """Maxout (Goodfellow et al. 2013): h_i(x) = max_j (x W_ij + b_ij) over `pieces` linear pieces.

    One Dense of units * pieces outputs, reshaped to (units, pieces) and reduced by max.
    """

    def __init__(self, units: int, pieces: int, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", spectral_norm: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.units, self.pieces, self.spectral_norm = units, pieces, spectral_norm
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.linear = keras.layers.Dense(units * pieces, kernel_initializer=self.kernel_initializer,
                                         bias_initializer=self.bias_initializer)
        if spectral_norm:
            self.linear = SpectralNormalization(self.linear)

    def build(self, input_shape):
        self.linear.build(input_shape)

    def call(self, inputs, training=None):
        pieces = ops.reshape(self.linear(inputs, training=training), (-1, self.units, self.pieces))
        return ops.max(pieces, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "pieces": self.pieces,
                "spectral_norm": self.spectral_norm,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer)}


@keras.saving.register_keras_serializable(package="keras_gan")
class Dropout(keras.layers.Layer):
    """Inverted dropout whose masks differ across replicas and replay exactly after a resume.

    Keras's Dropout draws from a SeedGenerator that every replica shares, so all replicas would
    drop the same units. Here each call draws a stateless mask from (seed, call counter)
    with the replica id folded in; the counter is a checkpointed variable. `spatial=True` drops
    whole channels (PyTorch's Dropout2d).
    """

    def __init__(self, rate: float, spatial: bool = False, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.spatial = float(rate), spatial
        self.seed = int(np.random.randint(2**31 - 1)) if seed is None else int(seed)

    def build(self, input_shape):
        self.calls = self.add_weight(shape=(), dtype="int64", initializer="zeros",
                                     trainable=False, aggregation="only_first_replica",
                                     name="calls")

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        context = tf.distribute.get_replica_context()
        replica = context.replica_id_in_sync_group if context else 0
        seed = tf.random.experimental.stateless_fold_in(
            tf.stack([tf.constant(self.seed, tf.int64), tf.cast(self.calls, tf.int64)]), replica)
        self.calls.assign_add(1)
        shape = tf.shape(inputs)
        if self.spatial:
            shape = tf.concat([shape[:1], tf.ones_like(shape[1:-1]), shape[-1:]], 0)
        keep = tf.random.stateless_uniform(shape, seed, dtype=inputs.dtype) >= self.rate
        # one multiply by the (for spatial dropout, per-channel) mask: a single element-wise pass
        return inputs * (tf.cast(keep, inputs.dtype) * (1.0 / (1.0 - self.rate)))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "spatial": self.spatial,
                "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_gan")
class Pack(keras.layers.Layer):
    """PacGAN's packing (Lin et al. 2018): each run of `pack` consecutive examples becomes one,
    joined along the features (`flat`: the flattened examples side by side) or the channels, so
    D judges `pack` samples at once. The batch must be a multiple of `pack`."""

    def __init__(self, pack: int, flat: bool, **kwargs):
        super().__init__(**kwargs)
        self.pack, self.flat = int(pack), bool(flat)

    def call(self, inputs):
        if self.flat:
            return ops.reshape(inputs, (-1, self.pack * int(np.prod(inputs.shape[1:]))))
        *spatial, channels = inputs.shape[1:]
        grouped = ops.reshape(inputs, (-1, self.pack, *spatial, channels))
        members_last = ops.moveaxis(grouped, 1, -2)  # (packs, H, W, pack, channels)
        return ops.reshape(members_last, (-1, *spatial, self.pack * channels))

    def get_config(self):
        return {**super().get_config(), "pack": self.pack, "flat": self.flat}


@keras.saving.register_keras_serializable(package="keras_gan")
class Unpack(keras.layers.Layer):
    """Each pack's output repeated for its `pack` members, so losses, penalties and metrics
    stay per example: their mean over the batch is the mean over packs."""

    def __init__(self, pack: int, **kwargs):
        super().__init__(**kwargs)
        self.pack = int(pack)

    def call(self, inputs):
        return ops.repeat(inputs, self.pack, axis=0)

    def get_config(self):
        return {**super().get_config(), "pack": self.pack}
