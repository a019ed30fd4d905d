import numpy as np
import pytest

from keras_gan import models
from keras_gan.errors import KerasGanError
from keras_gan.layers import Dropout, Maxout


def trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


# (architecture, image shape, G params, D params): counted by hand from the source documents
# (docs/configs.md names them).
EXPECTED = [
    ("paper_maxout", (28, 28, 1), 2_503_984, 1_231_441),
    ("pytorch_mlp", (28, 28, 1), 1_510_032, 533_505),
    ("blog_mlp", (28, 28, 1), 559_632, 467_841),
    ("blog_mlp_bn", (28, 28, 1), 561_168, 467_841),
    ("heuristic_mlp", (28, 28, 1), 1_964_714, 467_594),
    ("dcgan32", (32, 32, 1), 1_049_985, 98_113),
    # G: 100 -> 1024 -> 7x7x128 (Dense + BN each) -> ConvT 4x4 64 + BN -> ConvT 4x4 1;
    # D: Conv 4x4 64 -> Conv 4x4 128 + BN -> 1024 + BN -> 1
    ("infogan28", (28, 28, 1), 100 * 1024 + 1024 + 2_048 + 1024 * 6272 + 6272 + 2 * 6272
     + 16 * 128 * 64 + 64 + 128 + 16 * 64 + 1, 16 * 64 + 64 + 16 * 64 * 128 + 128 + 256
     + 6272 * 1024 + 1024 + 2_048 + 1025),
    # the same G; D at half the width: Conv 32 -> Conv 64 + BN -> 512 + BN -> 1
    ("infogan28_half_d", (28, 28, 1), 100 * 1024 + 1024 + 2_048 + 1024 * 6272 + 6272
     + 2 * 6272 + 16 * 128 * 64 + 64 + 128 + 16 * 64 + 1, 16 * 32 + 32 + 16 * 32 * 64 + 64
     + 128 + 3136 * 512 + 512 + 1_024 + 513),
    ("dcgan64", (64, 64, 3), 3_576_704, 2_765_568),
    ("dcgan64", (64, 64, 1), 3_574_656, 2_763_520),
    # 100 -> 4 x 400 (BN: 2 x 400 each) -> 2;  D: 2 -> 3 x Maxout(200 x 5) -> 1
    ("pacgan_mlp", (2,), 40_400 + 3 * 160_400 + 4 * 800 + 802, 3_000 + 2 * 201_000 + 201),
    ("pacgan_mlp_nobn", (2,), 40_400 + 3 * 160_400 + 802, 3_000 + 2 * 201_000 + 201),
]


@pytest.mark.parametrize("architecture, shape, g_params, d_params", EXPECTED)
def test_parameter_counts_and_shapes_match_the_spec(architecture, shape, g_params, d_params):
    generator, discriminator = models.build_gan(architecture, shape, 100)
    assert trainable_count(generator) == g_params
    assert trainable_count(discriminator) == d_params
    z = np.random.RandomState(0).normal(size=(3, 100)).astype(np.float32)
    images = generator(z, training=False).numpy()
    assert images.shape == (3, *shape)
    assert discriminator(images, training=False).shape == (3, 1)


def test_paper_generator_output_bias_is_the_logit_of_the_pixel_means():
    pixel_mean = np.random.RandomState(0).uniform(0.05, 0.95, (28, 28, 1))
    generator, _ = models.build_gan("paper_maxout", (28, 28, 1), 100, pixel_mean)
    bias = generator.layers[-2].bias.numpy()
    np.testing.assert_allclose(1 / (1 + np.exp(-bias)), pixel_mean.ravel(), rtol=1e-5)
    never_inked = np.zeros((28, 28, 1))  # pylearn2 clips marginals to 1e-7: logit -16.1
    generator, _ = models.build_gan("paper_maxout", (28, 28, 1), 100, never_inked)
    np.testing.assert_allclose(generator.layers[-2].bias.numpy(), np.log(1e-7 / (1 - 1e-7)),
                               rtol=1e-5)
    kernels = [layer.kernel.numpy() for layer in generator.layers if hasattr(layer, "kernel")]
    assert all(np.abs(k).max() <= 0.05 for k in kernels)


def test_paper_discriminator_has_maxout_and_the_papers_dropout():
    _, discriminator = models.build_gan("paper_maxout", (28, 28, 1), 100)
    maxouts = [layer for layer in discriminator.layers if isinstance(layer, Maxout)]
    dropouts = [layer.rate for layer in discriminator.layers if isinstance(layer, Dropout)]
    assert [(m.units, m.pieces) for m in maxouts] == [(240, 5), (240, 5)]
    assert dropouts == [0.2, 0.5, 0.5]


def test_dcgan_initialisation():
    generator, _ = models.build_gan("dcgan64", (64, 64, 3), 100)
    kernel = generator.layers[2].kernel.numpy()
    gamma = generator.layers[3].gamma.numpy()
    assert abs(kernel.std() - 0.02) < 0.002 and abs(kernel.mean()) < 0.002
    assert abs(gamma.mean() - 1.0) < 0.01 and 0.01 < gamma.std() < 0.03


@pytest.mark.parametrize("architecture, shape, message", [
    ("pytorch_mlp", (64, 64, 1), "built for 28x28 images, not 64x64"),
    ("dcgan64", (40, 40, 1), "height and width are multiples of 16, not 40x40"),
    ("gan9000", (28, 28, 1), "architecture=gan9000: unknown"),
    ("pacgan_mlp", (28, 28, 1), "built for flat vectors \\(2-D points\\), not 28x28 images"),
    ("pytorch_mlp", (2,), "built for 28x28 images, not flat vectors"),
])
def test_impossible_combinations_fail_early(architecture, shape, message):
    with pytest.raises(KerasGanError, match=message):
        models.build_gan(architecture, shape, 100)


def test_packed_discriminator_gives_every_member_its_packs_logit():
    _, discriminator = models.build_gan("pacgan_mlp", (2,), 2, pack=4, spectral_norm=True)
    inner = discriminator.get_layer("discriminator")
    assert inner.input_shape[-1] == 8 and trainable_count(inner) == trainable_count(discriminator)
    points = np.random.RandomState(0).normal(size=(8, 2)).astype(np.float32)
    expected = inner(points.reshape(2, 8)).numpy()
    np.testing.assert_allclose(discriminator(points).numpy(), np.repeat(expected, 4, 0),
                               rtol=1e-6)
    with pytest.raises(KerasGanError, match="pack=4 needs an unconditional model, not "
                                            "conditional=projection"):
        models.build_gan("pytorch_mlp", (28, 28, 1), 8, conditional="projection",
                         num_classes=10, pack=4)


def test_dropout_masks_differ_per_call_and_replay_from_the_counter():
    layer = Dropout(0.5, seed=3)
    x = np.ones((4, 100), np.float32)
    first, second = layer(x, training=True).numpy(), layer(x, training=True).numpy()
    assert not np.array_equal(first, second)
    assert set(np.unique(first)) == {0.0, 2.0}
    layer.calls.assign(0)
    np.testing.assert_array_equal(layer(x, training=True).numpy(), first)
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)


def test_spatial_dropout_drops_whole_channels():
    out = Dropout(0.5, spatial=True, seed=1)(np.ones((2, 4, 4, 8), np.float32), training=True)
    per_channel = out.numpy().reshape(2, 16, 8)
    assert (per_channel.min(axis=1) == per_channel.max(axis=1)).all()


def test_spectral_norm_wraps_every_linear_layer_of_d_and_takes_the_place_of_its_batchnorm():
    from keras_gan.layers import BatchNormalization, SpectralNormalization, WithoutBatchNorm

    _, plain = models.build_gan("dcgan32", (32, 32, 1), 100)
    _, normalised = models.build_gan("dcgan32", (32, 32, 1), 100, spectral_norm=True)
    kinds = lambda model: [type(layer) for layer in model.layers]  # noqa: E731
    assert kinds(plain).count(BatchNormalization) == 3
    assert BatchNormalization not in kinds(normalised)
    assert kinds(normalised).count(WithoutBatchNorm) == 3
    assert kinds(normalised).count(SpectralNormalization) == 5  # four convolutions, the logit
    x = np.random.RandomState(0).normal(size=(4, 32, 32, 1)).astype("float32")
    assert normalised(x, training=False).shape == (4, 1)


def test_dcgan32_trains_to_the_same_weights_with_its_upsampling_convolutions_computed_plainly():
    """The sub-pixel form of dcgan32's upsampling convolutions (layers.UpsampleConv2D) is a
    faster way of computing the same step: a few float32 steps from the same start end at the
    same weights, within rounding, as upsampling and convolving as written."""
    import keras

    import keras_gan
    from keras_gan.layers import UpsampleConv2D

    images = np.random.RandomState(0).uniform(-1, 1, (48, 32, 32, 1)).astype(np.float32)
    trained, initial = [], []
    for subpixel in (True, False):
        keras.utils.set_random_seed(0)
        generator, discriminator = models.build_gan("dcgan32", (32, 32, 1), 100)
        upsampling = [layer for layer in generator.layers if isinstance(layer, UpsampleConv2D)]
        assert len(upsampling) == 2
        for layer in upsampling:
            layer.subpixel = subpixel
        gan = keras_gan.GAN(generator, discriminator).compile(
            g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
            d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
        initial.append(generator.weights[0].numpy())
        gan.fit(images, batch_size=16, epochs=1, verbose=0, seed=0)
        trained.append([w.numpy() for w in generator.weights + discriminator.weights])
    np.testing.assert_array_equal(*initial)
    assert np.abs(trained[0][0] - initial[0]).max() > 1e-4  # three steps moved the weights
    for fast, plain in zip(*trained):
        np.testing.assert_allclose(fast, plain, rtol=1e-4, atol=2e-6)
