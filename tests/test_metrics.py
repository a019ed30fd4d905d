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


def test_kid_is_the_unbiased_polynomial_mmd_of_a_direct_computation():
    rng = np.random.RandomState(3)
    a, b = rng.normal(size=(30, 5)), rng.normal(0.5, 1.0, size=(40, 5))

    def direct(x, y):
        k = lambda u, v: (np.dot(u, v) / 5 + 1) ** 3  # noqa: E731
        m = len(x)
        xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
        yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
        return xx + yy - 2 * np.mean([[k(u, v) for v in y] for u in x])

    result = metrics.kernel_inception_distance(a, b, subsets=1, subset_size=30, seed=7)
    subset = np.random.RandomState(7)
    x, y = a[subset.choice(30, 30, False)], b[subset.choice(40, 30, False)]
    np.testing.assert_allclose(result["kid"], direct(x, y), rtol=1e-9)
    # unbiased: near zero for two samples of one distribution, well above it for a shift
    big = rng.normal(size=(4000, 5))
    same = metrics.kernel_inception_distance(big[:2000], big[2000:], subsets=5, subset_size=500)
    shifted = metrics.kernel_inception_distance(big[:2000], big[2000:] + 1.0, subsets=5,
                                                subset_size=500)
    assert abs(same["kid"]) < 0.05 * shifted["kid"], (same, shifted)


def test_precision_and_recall_on_sets_with_known_answers():
    grid = np.stack(np.meshgrid(np.arange(10.0), np.arange(10.0)), -1).reshape(-1, 2)
    # every fake inside the real manifold (on grid points), but covering only its left half
    left_half = grid[grid[:, 0] < 5]
    result = metrics.precision_recall(grid, left_half, k=3)
    assert result["precision"] == 1.0
    assert 0.45 <= result["recall"] <= 0.65  # the reals within reach of the fake balls
    far = grid + 100.0  # fakes nowhere near the data
    assert metrics.precision_recall(grid, far, k=3) == {"precision": 0.0, "recall": 0.0}


def test_label_accuracy_overall_and_per_class():
    probabilities = np.eye(3)[[0, 1, 2, 2, 1, 0]]
    labels = np.array([0, 1, 2, 0, 0, 0])
    result = metrics.label_accuracy(probabilities, labels, classes=4)
    assert result["label_accuracy"] == pytest.approx(4 / 6)
    assert result["label_accuracy_per_class"] == [0.5, 1.0, 1.0, None]
