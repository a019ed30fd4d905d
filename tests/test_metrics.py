import math

import numpy as np
import pytest

from keras_gan import metrics


def direct_parzen(samples, points, sigma):
    """The formula, one point and one sample at a time."""
    d = samples.shape[1]
    out = []
    for x in points:
        exponents = np.array([-np.sum((x - mu) ** 2) / (2 * sigma ** 2) for mu in samples])
        top = exponents.max()
        out.append(top + np.log(np.mean(np.exp(exponents - top)))
                   - d * np.log(sigma * np.sqrt(2 * np.pi)))
    return np.array(out)


def test_parzen_matches_a_direct_numpy_computation():
    rng = np.random.RandomState(0)
    samples, points = rng.uniform(size=(37, 12)), rng.uniform(size=(23, 12))
    for sigma in (0.1, 0.3, 1.0):
        np.testing.assert_allclose(metrics.parzen_log_likelihood(samples, points, sigma, 7),
                                   direct_parzen(samples, points, sigma), rtol=1e-9)


def test_parzen_with_one_sample_is_a_gaussian_density():
    rng = np.random.RandomState(1)
    mu, points, sigma = rng.normal(size=(1, 5)), rng.normal(size=(4, 5)), 0.7
    expected = (-np.sum((points - mu) ** 2, axis=1) / (2 * sigma ** 2)
                - 5 * np.log(sigma * np.sqrt(2 * np.pi)))
    np.testing.assert_allclose(metrics.parzen_log_likelihood(mu, points, sigma), expected,
                               rtol=1e-10)


def test_parzen_with_samples_on_the_points_and_a_tiny_sigma():
    points = np.random.RandomState(2).uniform(size=(50, 784))
    sigma = 1e-3
    expected = -math.log(50) - 784 * math.log(sigma * math.sqrt(2 * math.pi))
    np.testing.assert_allclose(metrics.parzen_log_likelihood(points, points, sigma),
                               np.full(50, expected), rtol=1e-9)


def test_parzen_protocol_picks_the_best_sigma_and_reports_the_standard_error():
    rng = np.random.RandomState(3)
    samples = rng.normal(0.5, 0.2, size=(400, 6))
    validation, test = rng.normal(0.5, 0.2, size=(100, 6)), rng.normal(0.5, 0.2, size=(200, 6))
    result = metrics.parzen_evaluation(samples, validation, test)
    per_sigma = [direct_parzen(samples, validation, s).mean() for s in metrics.PARZEN_SIGMAS]
    assert result["parzen_sigma"] == pytest.approx(metrics.PARZEN_SIGMAS[int(np.argmax(per_sigma))])
    test_ll = direct_parzen(samples, test, result["parzen_sigma"])
    assert result["parzen_ll"] == pytest.approx(test_ll.mean())
    assert result["parzen_se"] == pytest.approx(test_ll.std() / np.sqrt(200))


def test_frechet_distance_of_known_gaussians():
    rng = np.random.RandomState(4)
    a = rng.normal(size=(20000, 3))
    b = rng.normal(size=(20000, 3)) * 2.0 + np.array([1.0, 0.0, 0.0])
    # ||mu||^2 = 1; Tr(I + 4I - 2 * 2I) = 3
    assert metrics.frechet_distance(a, b) == pytest.approx(4.0, abs=0.15)
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_inception_score_bounds():
    confident_uniform = np.eye(10)[np.arange(1000) % 10]
    assert metrics.inception_score(confident_uniform) == pytest.approx(10.0, rel=1e-6)
    one_class = np.eye(10)[np.zeros(1000, int)]
    assert metrics.inception_score(one_class) == pytest.approx(1.0, rel=1e-6)


def test_mode_coverage_counts_classes():
    probabilities = np.eye(10)[np.array([0] * 50 + [1] * 45 + [2] * 5)]
    coverage = metrics.mode_coverage(probabilities)
    assert coverage["classes_covered"] == 3
    assert coverage["class_histogram"][:3] == [50, 45, 5]
