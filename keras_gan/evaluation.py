"""Evaluating generated images against MNIST: one place that both `experiments.evaluate` and
the in-training `EvaluationCallback` use."""
from __future__ import annotations

import dataclasses
from typing import Dict, Sequence

import numpy as np
import tensorflow as tf

from keras_gan import classifier as mnist_classifier
from keras_gan import metrics
from keras_gan.errors import KerasGanError

METRIC_NAMES = ("parzen", "fid", "is", "modes")


def to_mnist_pixels(images: np.ndarray, value_range: Sequence[float]) -> np.ndarray:
    """Generated images in `value_range`, any size and channels, as (N, 28, 28, 1) in [0, 1]."""
    low, high = value_range
    images = np.clip((np.asarray(images, np.float32) - low) / (high - low), 0.0, 1.0)
    if images.shape[-1] != 1:
        images = images.mean(axis=-1, keepdims=True)
    if images.shape[1:3] != (28, 28):
        images = np.clip(tf.image.resize(images, (28, 28), method="area").numpy(), 0.0, 1.0)
    return images


@dataclasses.dataclass
class MnistReference:
    """What generated images are compared with: MNIST images in [0, 1] and the classifier."""

    validation: np.ndarray
    test: np.ndarray
    classifier: object | None = None
    _test_features: np.ndarray | None = None

    def evaluate(self, images: np.ndarray, names: Sequence[str]) -> Dict[str, object]:
        """The named metrics of (N, 28, 28, 1) images in [0, 1]."""
        unknown = set(names) - set(METRIC_NAMES)
        if unknown:
            raise KerasGanError(f"--metrics: unknown {', '.join(sorted(unknown))}; expected some "
                                f"of {', '.join(METRIC_NAMES)}")
        results: Dict[str, object] = {"num_samples": len(images)}
        if "parzen" in names:
            results.update(metrics.parzen_evaluation(images, self.validation, self.test))
        if {"fid", "is", "modes"} & set(names):
            if self.classifier is None:
                raise KerasGanError("fid, is and modes need --classifier (a trained MNIST CNN)")
            features, probabilities = mnist_classifier.features_and_probabilities(
                self.classifier, images)
            if "fid" in names:
                if self._test_features is None:
                    self._test_features = mnist_classifier.features_and_probabilities(
                        self.classifier, self.test)[0]
                results["fid"] = metrics.frechet_distance(features, self._test_features)
            if "is" in names:
                results["inception_score"] = metrics.inception_score(probabilities)
            if "modes" in names:
                results.update(metrics.mode_coverage(probabilities))
        return results
