"""Numbers to compare GANs with papers: the Parzen-window log-likelihood of Goodfellow et al.
(2014), classifier-based FID / Inception-Score analogue / mode coverage on MNIST, D accuracy.

Metrics are plain functions of arrays; `experiments.evaluate` feeds them from an exported
generator, so evaluation never needs the training code.
"""
from __future__ import annotations

import math
from typing import Dict, Sequence

import keras
import numpy as np
import tensorflow as tf

from keras_gan.inputs import sample_noise

PARZEN_SIGMAS = tuple(np.logspace(-1, 0, 10))


def parzen_log_likelihood(samples: np.ndarray, points: np.ndarray, sigma: float,
                          batch_size: int = 500) -> np.ndarray:
    """log p(x) under a Gaussian Parzen window of width `sigma` on `samples`, per point:

        log p(x) = logmeanexp_i(-||x - mu_i||^2 / (2 sigma^2)) - d log(sigma sqrt(2 pi))

    (the paper's `parzen_ll.py`). Squared distances come from one matrix product per batch of
    points, in float64 so the expansion |x|^2 + |mu|^2 - 2 x.mu loses nothing.
    """
    return parzen_log_likelihoods(samples, points, [sigma], batch_size)[0]


def parzen_log_likelihoods(samples: np.ndarray, points: np.ndarray, sigmas: Sequence[float],
                           batch_size: int = 500) -> np.ndarray:
    """`parzen_log_likelihood` for several sigmas at once: shape (len(sigmas), len(points))."""
    mu = tf.constant(np.asarray(samples, np.float64).reshape(len(samples), -1))
    x_all = np.asarray(points, np.float64).reshape(len(points), -1)
    dim = mu.shape[1]
    sigma = tf.constant(np.asarray(sigmas, np.float64))[:, None, None]
    mu_norms = tf.reduce_sum(mu * mu, axis=1)
    log_count = math.log(len(samples))
    results = []
    for start in range(0, len(x_all), batch_size):
        x = tf.constant(x_all[start:start + batch_size])
        squared = (tf.reduce_sum(x * x, axis=1, keepdims=True) + mu_norms[None, :]
                   - 2.0 * tf.matmul(x, mu, transpose_b=True))
        exponent = -tf.maximum(squared, 0.0)[None] / (2.0 * sigma * sigma)
        log_p = (tf.reduce_logsumexp(exponent, axis=2) - log_count
                 - dim * tf.math.log(sigma[:, :, 0] * math.sqrt(2.0 * math.pi)))
        results.append(log_p.numpy())
    return np.concatenate(results, axis=1)


def parzen_evaluation(samples: np.ndarray, validation: np.ndarray, test: np.ndarray,
                      sigmas: Sequence[float] = PARZEN_SIGMAS) -> Dict[str, float]:
    """The paper's protocol: sigma maximising the mean log-likelihood of the validation images,
    then the test images' mean log-likelihood and its standard error (std / sqrt(n))."""
    validation_ll = parzen_log_likelihoods(samples, validation, sigmas).mean(axis=1)
    sigma = float(sigmas[int(np.argmax(validation_ll))])
    test_ll = parzen_log_likelihood(samples, test, sigma)
    return {"parzen_ll": float(test_ll.mean()),
            "parzen_se": float(test_ll.std() / math.sqrt(len(test_ll))),
            "parzen_sigma": sigma, "parzen_validation_ll": float(validation_ll.max())}


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between Gaussian fits (FID).

    The trace of the matrix square root is the sum of the square roots of the eigenvalues of
    S_a^(1/2) S_b S_a^(1/2), which is symmetric: no general sqrtm needed.
    """
    a, b = (np.asarray(f, np.float64) for f in (features_a, features_b))
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_root = np.sqrt(np.clip(middle, 0, None)).sum()
    return float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b)
                 - 2.0 * trace_root)


def inception_score(probabilities: np.ndarray, eps: float = 1e-12) -> float:
    """exp(E_x KL(p(y|x) || p(y))) with the MNIST classifier's softmax (Salimans et al. 2016)."""
    p = np.asarray(probabilities, np.float64)
    marginal = p.mean(axis=0, keepdims=True)
    kl = (p * (np.log(p + eps) - np.log(marginal + eps))).sum(axis=1)
    return float(np.exp(kl.mean()))


def mode_coverage(probabilities: np.ndarray, classes: int = 10,
                  min_share: float = 0.01) -> Dict[str, object]:
    """Histogram of predicted digits; a class counts as covered with at least `min_share` of
    the samples (1%, a tenth of a uniform share); spread = std of the class shares."""
    counts = np.bincount(np.argmax(probabilities, axis=1), minlength=classes)
    shares = counts / counts.sum()
    return {"classes_covered": int((shares >= min_share).sum()),
            "class_share_std": float(shares.std()), "class_histogram": counts.tolist()}


def kernel_inception_distance(features_a: np.ndarray, features_b: np.ndarray,
                              subsets: int = 10, subset_size: int = 1000, seed: int = 0
                              ) -> Dict[str, float]:
    """KID (Binkowski et al. 2018): the unbiased MMD^2 between the feature sets under the cubic
    polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets (mean and std)."""
    a, b = (np.asarray(f, np.float64) for f in (features_a, features_b))
    size = min(subset_size, len(a), len(b))
    rng = np.random.RandomState(seed)
    kernel = lambda x, y: (x @ y.T / a.shape[1] + 1.0) ** 3  # noqa: E731
    values = []
    for _ in range(subsets):
        x, y = a[rng.choice(len(a), size, False)], b[rng.choice(len(b), size, False)]
        k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
        off_diagonal = lambda k: (k.sum() - np.trace(k)) / (size * (size - 1))  # noqa: E731
        values.append(off_diagonal(k_xx) + off_diagonal(k_yy) - 2.0 * k_xy.mean())
    return {"kid": float(np.mean(values)), "kid_std": float(np.std(values))}


def _squared_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return np.maximum((x * x).sum(1)[:, None] + (y * y).sum(1)[None] - 2.0 * x @ y.T, 0.0)


def _within_manifold(manifold: np.ndarray, queries: np.ndarray, k: int,
                     batch_size: int = 1000) -> np.ndarray:
    """Whether each query lies inside some manifold point's ball of radius its distance to its
    k-th nearest neighbour among the manifold points."""
    radii = np.concatenate([
        np.partition(_squared_distances(manifold[i:i + batch_size], manifold), k, axis=1)[:, k]
        for i in range(0, len(manifold), batch_size)])  # column 0 is the point itself
    return np.concatenate([
        (_squared_distances(queries[i:i + batch_size], manifold) <= radii[None]).any(axis=1)
        for i in range(0, len(queries), batch_size)])


def precision_recall(real_features: np.ndarray, fake_features: np.ndarray, k: int = 3
                     ) -> Dict[str, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019): the share of fakes inside the
    real manifold (k-NN balls around real features) and of reals inside the fake one."""
    return {"precision": float(_within_manifold(real_features, fake_features, k).mean()),
            "recall": float(_within_manifold(fake_features, real_features, k).mean())}


def label_accuracy(probabilities: np.ndarray, labels: np.ndarray, classes: int = 10
                   ) -> Dict[str, object]:
    """How often the classifier agrees with the class a conditional G was asked for: overall
    and per class."""
    correct = np.argmax(probabilities, axis=1) == np.asarray(labels)
    per_class = [float(correct[labels == c].mean()) if np.any(labels == c) else None
                 for c in range(classes)]
    return {"label_accuracy": float(correct.mean()), "label_accuracy_per_class": per_class}


def discriminator_accuracy(discriminator: keras.Model, generator: keras.Model,
                           real_images: np.ndarray, noise: str, seed: int = 0,
                           batch_size: int = 500, labels: np.ndarray | None = None
                           ) -> Dict[str, float]:
    """D's accuracy at threshold 0.5 on real images (label 1) and as many fakes (label 0),
    both in inference mode (the heuristic GAN's source reports 0.80 and 0.92). A conditional pair
    is given the real images' `labels`, which the fakes are drawn for as well."""
    z_dim = int(generator.inputs[0].shape[-1])
    correct_real = correct_fake = 0
    for start in range(0, len(real_images), batch_size):
        real = real_images[start:start + batch_size]
        z = sample_noise([len(real), z_dim], noise, tf.constant([seed, start + 1], tf.int64))
        with_labels = (lambda x: x) if labels is None else (  # noqa: E731
            lambda x, y=labels[start:start + batch_size]: [x, y])
        fake = generator(with_labels(z), training=False)
        correct_real += int(np.sum(discriminator(with_labels(real), training=False).numpy() > 0))
        correct_fake += int(np.sum(discriminator(with_labels(fake), training=False).numpy() <= 0))
    count = len(real_images)
    return {"real": correct_real / count, "fake": correct_fake / count, "count": count}
