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

METRIC_NAMES = ("parzen", "fid", "is", "modes", "precision_recall", "conditional",
                "inception_fid", "kid")
# Against any image data set, on InceptionV3 features (keras_gan.inception); the rest are MNIST's.
INCEPTION_METRICS = {"inception_fid", "kid"}
# Computed from the classifier's features and softmax.
CLASSIFIER_METRICS = {"fid", "is", "modes", "precision_recall", "conditional"}


def to_mnist_pixels(images: np.ndarray, value_range: Sequence[float]) -> np.ndarray:
    """Generated images in `value_range`, any size and channels, as (N, 28, 28, 1) in [0, 1]."""
    low, high = value_range
    images = np.clip((np.asarray(images, np.float32) - low) / (high - low), 0.0, 1.0)
    if images.shape[-1] != 1:
        images = images.mean(axis=-1, keepdims=True)
    if images.shape[1:3] != (28, 28):
        images = np.clip(tf.image.resize(images, (28, 28), method="area").numpy(), 0.0, 1.0)
    return images


def check_metric_names(names: Sequence[str], flag: str = "--metrics") -> None:
    unknown = set(names) - set(METRIC_NAMES)
    if unknown:
        raise KerasGanError(f"{flag}: unknown {', '.join(sorted(unknown))}; expected some of "
                            f"{', '.join(METRIC_NAMES)}")


@dataclasses.dataclass
class MnistReference:
    """What generated images are compared with: MNIST images in [0, 1] (and the test images'
    labels, for conditional generators) and the classifier. `parzen_test_images` caps the test
    images Parzen scores (its cost grows with samples x test images); the classifier's scores
    always use every test image, so an in-training FID reads like the final one."""

    validation: np.ndarray
    test: np.ndarray
    classifier: object | None = None
    test_labels: np.ndarray | None = None
    parzen_test_images: int | None = None
    _test_features: np.ndarray | None = None

    def test_features(self) -> np.ndarray:
        if self._test_features is None:
            self._test_features = mnist_classifier.features_and_probabilities(
                self.classifier, self.test)[0]
        return self._test_features

    def evaluate(self, images: np.ndarray, names: Sequence[str],
                 labels: np.ndarray | None = None) -> Dict[str, object]:
        """The named metrics of (N, 28, 28, 1) images in [0, 1]; `labels`, the classes a
        conditional G was asked for, add `conditional`: label accuracy and intra-class FID."""
        check_metric_names(names)
        results: Dict[str, object] = {"num_samples": len(images)}
        if "parzen" in names:
            results.update(metrics.parzen_evaluation(
                images, self.validation, self.test[:self.parzen_test_images]))
        if not CLASSIFIER_METRICS & set(names):
            return results
        if self.classifier is None:
            raise KerasGanError(f"{', '.join(sorted(CLASSIFIER_METRICS & set(names)))} need the "
                                f"MNIST classifier")
        features, probabilities = mnist_classifier.features_and_probabilities(
            self.classifier, images)
        if "fid" in names:
            results["fid"] = metrics.frechet_distance(features, self.test_features())
        if "is" in names:
            results["inception_score"] = metrics.inception_score(probabilities)
        if "modes" in names:
            results.update(metrics.mode_coverage(probabilities))
        if "precision_recall" in names:
            results.update(metrics.precision_recall(self.test_features(), features))
        if "conditional" in names and labels is not None:
            results.update(metrics.label_accuracy(probabilities, labels))
            results.update(self._intra_fid(features, labels))
        return results

    def _intra_fid(self, features: np.ndarray, labels: np.ndarray) -> Dict[str, object]:
        """FID of each class's samples against that class's test images, and their mean."""
        if self.test_labels is None:
            raise KerasGanError("intra-class FID needs the test images' labels")
        per_class = [metrics.frechet_distance(features[labels == c],
                                              self.test_features()[self.test_labels == c])
                     for c in range(10)]
        return {"intra_fid": float(np.mean(per_class)), "intra_fid_per_class": per_class}


def inception_evaluation(samples: np.ndarray, value_range: Sequence[float], real: np.ndarray,
                         names: Sequence[str], model) -> Dict[str, float]:
    """FID and KID between generated `samples` (in `value_range`) and uint8 `real` images on
    the InceptionV3 pool features of `model` (`keras_gan.inception.load_inception`)."""
    from keras_gan import inception

    fake_features = inception.inception_features(model, samples, value_range)
    real_features = inception.inception_features(model, real, (0.0, 255.0))
    results: Dict[str, float] = {"reference_images": len(real)}
    if "inception_fid" in names:
        results["inception_fid"] = metrics.frechet_distance(fake_features, real_features)
    if "kid" in names:
        results.update(metrics.kernel_inception_distance(fake_features, real_features))
    return results
